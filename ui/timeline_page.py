"""The timeline page: pick a day, see how much was remembered in each hour, click an hour to
list its memories and open them in the viewer."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, datetime, timedelta

from PySide6.QtCore import QDate, QEvent, QModelIndex, QObject, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QColor,
    QFocusEvent,
    QFont,
    QFontMetrics,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QListView,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.services import Changes, Services
from app.tasks import TaskRunner
from ui.main_window import Page, empty_state
from ui.memory_viewer import MemoryViewer, ServiceAccessor, media_of, memory_of
from ui.result_list import (
    ACCENT,
    INK,
    MUTED,
    ResultDelegate,
    ResultRow,
    ResultsModel,
    day_bounds,
    drop_down_arrows,
    run_guarded,
    thumbnail_loader,
)

HOUR_LIMIT = 200


class HourChart(QWidget):
    """24 bars, one per hour of the day; click or use Left/Right to pick an hour."""

    hour_selected = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("hourChart")
        self.counts: list[int] = [0] * 24
        self.selected: int | None = None
        self.future_from: int | None = None  # today: hours from here on have not happened
        self.hover: int | None = None
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumHeight(150)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("Memories per hour")

    def sizeHint(self) -> QSize:
        return QSize(720, 170)

    def set_counts(self, counts: list[int]) -> None:
        self.counts = list(counts) or [0] * 24
        self.update()

    def select(self, hour: int | None, notify: bool = True) -> None:
        self.selected = hour
        self.update()
        if notify and hour is not None:
            self.hour_selected.emit(hour)

    def _plot(self) -> QRectF:
        fm = QFontMetrics(self.font())
        return QRectF(14, fm.height() + 10, self.width() - 28, self.height() - 2 * fm.height() - 20)

    def bar_rect(self, hour: int) -> QRectF:
        plot = self._plot()
        slot = plot.width() / len(self.counts)
        return QRectF(plot.left() + hour * slot, plot.top(), slot, plot.height())

    def hour_at(self, x: float) -> int | None:
        plot = self._plot()
        if not plot.left() <= x < plot.right():
            return None
        return min(len(self.counts) - 1, int((x - plot.left()) / (plot.width() / len(self.counts))))

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(QColor("#dde1e8"))
        p.setBrush(QColor("white"))
        p.drawRoundedRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5), 8, 8)
        plot = self._plot()
        top = max(self.counts) if self.counts else 0
        fm = QFontMetrics(self.font())
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, self.font().pointSizeF() * 0.85))
        fms = QFontMetrics(small)
        p.setPen(QColor("#e3e6ed"))
        p.drawLine(QPointF(plot.left(), plot.bottom()), QPointF(plot.right(), plot.bottom()))
        if self.future_from is not None and self.future_from < len(self.counts):
            start = self.bar_rect(self.future_from).left()
            p.fillRect(
                QRectF(start, plot.top(), plot.right() - start, plot.height()), QColor("#f4f5f8")
            )
        for h, n in enumerate(self.counts):
            slot = self.bar_rect(h)
            if h == self.hover and h != self.selected:
                p.fillRect(slot, QColor("#f3f5f9"))
            if h == self.selected:
                p.fillRect(slot, QColor("#eaf0fd"))
            if n and top:
                bh = max(3.0, plot.height() * n / top)
                bar = QRectF(
                    slot.left() + slot.width() * 0.18, plot.bottom() - bh, slot.width() * 0.64, bh
                )
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(ACCENT if h == self.selected else QColor("#9db5ea"))
                p.drawRoundedRect(bar, 2.5, 2.5)
                if h in (self.selected, self.hover):
                    p.setFont(small)
                    p.setPen(INK)
                    label = str(n)
                    p.drawText(
                        QPointF(
                            slot.center().x() - fms.horizontalAdvance(label) / 2, bar.top() - 4
                        ),
                        label,
                    )
            if h % 3 == 0:
                p.setFont(small)
                p.setPen(MUTED)
                label = f"{h:02d}"
                p.drawText(QPointF(slot.left() + 2, plot.bottom() + fm.height()), label)
        if self.hasFocus() and self.selected is not None:
            p.setPen(ACCENT)
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(self.bar_rect(self.selected).adjusted(0.5, 0.5, -0.5, -0.5))
        p.end()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        hour = self.hour_at(event.position().x())
        if hour != self.hover:
            self.hover = hour
            self.update()

    def leaveEvent(self, event: QEvent) -> None:
        self.hover = None
        self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        hour = self.hour_at(event.position().x())
        if hour is not None and event.button() == Qt.MouseButton.LeftButton:
            self.select(hour)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        step = {Qt.Key.Key_Left: -1, Qt.Key.Key_Right: 1}.get(Qt.Key(event.key()))
        if step and not event.modifiers() & Qt.KeyboardModifier.AltModifier:
            current = self.selected if self.selected is not None else 0
            self.select(max(0, min(len(self.counts) - 1, current + step)))
            return
        super().keyPressEvent(event)

    def focusInEvent(self, event: QFocusEvent) -> None:
        super().focusInEvent(event)
        self.update()

    def focusOutEvent(self, event: QFocusEvent) -> None:
        super().focusOutEvent(event)
        self.update()


class TimelinePage(Page):
    title = "Timeline"

    day_shown = Signal(object)  # the date whose histogram is on screen
    hour_listed = Signal(int)  # the hour whose memories are listed
    viewer_opened = Signal(object)

    def __init__(
        self,
        services: Services,
        tasks: TaskRunner,
        memory: ServiceAccessor | None = None,
        media: ServiceAccessor | None = None,
        now: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(services, tasks)
        self.memory = memory or memory_of(services)
        self.media = media or media_of(services)
        self.now = now or time.time
        self.day: date = date.fromtimestamp(self.now())
        self.hours: list[tuple[float, int]] = []
        self._day_request = 0
        self._hour_request = 0
        self.viewer: MemoryViewer | None = None

        self.setStyleSheet(drop_down_arrows())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 18, 24, 12)
        layout.setSpacing(8)
        top = QHBoxLayout()
        self.prev_button = QPushButton("‹")
        self.prev_button.setObjectName("dayStep")
        self.prev_button.setToolTip("Previous day (Alt+Left)")
        self.prev_button.clicked.connect(lambda: self.step_day(-1))
        self.next_button = QPushButton("›")
        self.next_button.setObjectName("dayStep")
        self.next_button.setToolTip("Next day (Alt+Right)")
        self.next_button.clicked.connect(lambda: self.step_day(1))
        self.date_edit = QDateEdit()
        self.date_edit.setCalendarPopup(True)
        self.date_edit.setDisplayFormat("dddd d MMMM yyyy")
        self.date_edit.setAccessibleName("Day")
        self.date_edit.setMinimumWidth(220)
        self.date_edit.dateChanged.connect(self._date_edited)
        self.today_button = QPushButton("Today")
        self.today_button.clicked.connect(lambda: self.set_day(date.fromtimestamp(self.now())))
        top.addWidget(self.prev_button)
        top.addWidget(self.date_edit)
        top.addWidget(self.next_button)
        top.addWidget(self.today_button)
        top.addStretch(1)
        self.day_summary = QLabel()
        self.day_summary.setObjectName("hint")
        top.addWidget(self.day_summary)
        layout.addLayout(top)

        self.chart = HourChart()
        self.chart.hour_selected.connect(self.list_hour)
        layout.addWidget(self.chart)
        self.hour_label = QLabel()
        self.hour_label.setObjectName("sectionTitle")
        layout.addWidget(self.hour_label)

        self.model = ResultsModel(None, self)
        self.model.want_thumbnail = thumbnail_loader(self, tasks, self.media, self.model)
        self.list = QListView()
        self.list.setObjectName("results")
        self.list.setModel(self.model)
        self.list.setItemDelegate(ResultDelegate(self.list))
        self.list.setUniformItemSizes(True)
        self.list.setMouseTracking(True)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.activated.connect(self._open_index)
        self.list.installEventFilter(self)
        self.chart.installEventFilter(self)  # Down moves from the chart into the list
        self.message = empty_state("")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.list)
        self.stack.addWidget(self.message)
        layout.addWidget(self.stack, 1)

        for seq, step in (("Alt+Left", -1), ("Alt+Right", 1)):
            act = QAction(self)
            act.setShortcut(QKeySequence(seq))
            act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            act.triggered.connect(lambda _=False, s=step: self.step_day(s))
            self.addAction(act)
        self._sync_date_edit()

    # -- days ---------------------------------------------------------------------------------
    def refresh(self, changes: Changes | None = None) -> None:
        if self.memory() is None:
            self._show_message("Mnemo is locked. Unlock it to browse your memories.")
            return
        if changes is None or changes.memories_added or changes.memories_removed:
            self.load_day()

    def step_day(self, days: int) -> None:
        self.set_day(self.day + timedelta(days=days))

    def set_day(self, day: date) -> None:
        today = date.fromtimestamp(self.now())
        self.day = min(day, today)
        self._sync_date_edit()
        self.chart.select(None, notify=False)
        self.load_day()

    def _sync_date_edit(self) -> None:
        today = date.fromtimestamp(self.now())
        self.date_edit.blockSignals(True)
        self.date_edit.setMaximumDate(QDate(today.year, today.month, today.day))
        self.date_edit.setDate(QDate(self.day.year, self.day.month, self.day.day))
        self.date_edit.blockSignals(False)
        self.next_button.setEnabled(self.day < today)
        self.today_button.setEnabled(self.day != today)

    def _date_edited(self, qdate: QDate) -> None:
        d = qdate.toPython()
        if isinstance(d, date) and d != self.day:
            self.set_day(d)

    def load_day(self) -> None:
        service = self.memory()
        if service is None:
            return
        self._day_request += 1
        rid, day = self._day_request, self.day
        start, end = day_bounds(day)
        run_guarded(
            self.tasks,
            self,
            lambda: service.day_histogram(start, end),
            lambda hours: self._day_loaded(rid, day, hours),
            lambda e: self._failed(rid, e),
        )

    def _failed(self, rid: int, err: BaseException) -> None:
        if rid == self._day_request:
            self._show_message("This day could not be loaded. Try again.")

    def _day_loaded(self, rid: int, day: date, hours: list[tuple[float, int]]) -> None:
        if rid != self._day_request:
            return
        self.hours = list(hours)
        counts = [n for _, n in self.hours]
        self.chart.set_counts(counts)
        now = self.now()
        self.chart.future_from = (
            next((h for h, (start, _) in enumerate(self.hours) if start > now), len(self.hours))
            if day == date.fromtimestamp(now)
            else None
        )
        total = sum(counts)
        self.day_summary.setText(f"{total:,} memor{'y' if total == 1 else 'ies'} this day")
        self.day_shown.emit(day)
        if total == 0:
            self.chart.select(None, notify=False)
            self.model.clear()
            self.hour_label.clear()
            self._show_message("Nothing was remembered on this day.")
            return
        keep = self.chart.selected
        if keep is None or keep >= len(counts) or counts[keep] == 0:
            keep = max(h for h, n in enumerate(counts) if n)  # the latest busy hour
        self.chart.select(keep)

    # -- hours --------------------------------------------------------------------------------
    def hour_span(self, hour: int) -> tuple[float, float]:
        start = self.hours[hour][0]
        end = self.hours[hour + 1][0] if hour + 1 < len(self.hours) else day_bounds(self.day)[1]
        return start, end

    def list_hour(self, hour: int) -> None:
        service = self.memory()
        if service is None or not 0 <= hour < len(self.hours):
            return
        self._hour_request += 1
        rid = self._hour_request
        since, until = self.hour_span(hour)
        n = self.hours[hour][1]
        label = datetime.fromtimestamp(since).strftime("%H:%M")
        end_label = datetime.fromtimestamp(until).strftime("%H:%M")
        self.hour_label.setText(f"{label}–{end_label} · {n:,} memor{'y' if n == 1 else 'ies'}")

        def show(memories: list) -> None:  # type: ignore[type-arg]
            if rid != self._hour_request:
                return
            self.model.set_rows([ResultRow.from_memory(m) for m in memories], self.now())
            if memories:
                self.stack.setCurrentWidget(self.list)
                self.list.setCurrentIndex(self.model.index(0))
                self.list.scrollToTop()
            else:
                self._show_message("Nothing was remembered in this hour.")
            self.hour_listed.emit(hour)

        run_guarded(
            self.tasks,
            self,
            lambda: service.list_between(since, until, HOUR_LIMIT),
            show,
            lambda e: self._failed(self._day_request, e),
        )

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.stack.setCurrentWidget(self.message)

    # -- opening ------------------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            watched is self.chart
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() == Qt.Key.Key_Down
            and self.model.rows
        ):
            self.stack.setCurrentWidget(self.list)
            self.list.setFocus()
            return True
        if (
            watched is self.list
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        ):
            idx = self.list.currentIndex()
            if idx.isValid():
                self._open_index(idx)
            return True
        return False

    def _open_index(self, index: QModelIndex) -> None:
        row = self.model.row_at(index.row())
        if row is not None:
            self.open_memory(row.id)

    def open_memory(self, memory_id: int) -> MemoryViewer:
        viewer = MemoryViewer(
            self.memory, self.media, self.tasks, memory_id, [], self.window(), self.now
        )
        viewer.forgotten.connect(lambda _: self.load_day())
        viewer.finished.connect(lambda _: (self.window().activateWindow(), self.list.setFocus()))
        self.viewer = viewer
        viewer.present()
        self.viewer_opened.emit(viewer)
        return viewer

"""The search page: a box with live, debounced results (searches run on the task runner and
stale answers are dropped), filters for app, source and date, and a fast painted result list
that opens the memory viewer."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date

from PySide6.QtCore import QDate, QEvent, QModelIndex, QObject, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QKeyEvent, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.services import Changes, Services
from app.tasks import Op, TaskRunner
from core.errors import UserFacingError
from core.types import SearchFilters, SearchResults
from ui import erase_ui
from ui.memory_viewer import MemoryViewer, ServiceAccessor, media_of, memory_of
from ui.page import Page, empty_state, memories_phrase, nothing_yet
from ui.result_list import (
    ResultDelegate,
    ResultRow,
    ResultsModel,
    day_bounds,
    describe_range,
    drop_down_arrows,
    highlighted_terms,
    run_guarded,
    thumbnail_loader,
)

DEBOUNCE_MS = 180
BUSY_AFTER_MS = 300
RESULTS_K = 100
STILL_SEARCHING_S = 3.0

SOURCES: list[tuple[str, str | None]] = [
    ("All", None),
    ("Screens", "screen"),
    ("Chats", "chat"),
    ("Notes", "note"),
    ("Imports", "import"),
]
SOURCE_WORDS = {"screen": "screens", "chat": "chats", "note": "notes", "import": "imports"}
ANY_TIME, TODAY, LAST_7, LAST_30, CUSTOM = range(5)
DATE_PRESETS = ["Any time", "Today", "Last 7 days", "Last 30 days", "Custom range…"]

NOTHING_YET = nothing_yet(None)  # capture off; nothing_yet(services) knows
LOCKED = "Mnemo is locked. Unlock it to search your memories."
NOT_READY = "Search is starting… it will be ready in a moment."


def no_results(query: str) -> str:
    return f"No memories match ‘{query}’. Try fewer words or another time range."


def search_icon() -> QIcon:
    pm = QPixmap(32, 32)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(QPen(QColor("#6b7385"), 3))
    p.drawEllipse(QPointF(13, 13), 8, 8)
    p.drawLine(QPointF(19, 19), QPointF(27, 27))
    p.end()
    return QIcon(pm)


class SearchPage(Page):
    title = "Search"
    shortcuts = ("Ctrl+F", "Ctrl+K")  # MainWindow binds these to show this page

    results_shown = Signal(object)  # the SearchResults now on screen
    viewer_opened = Signal(object)  # the MemoryViewer just opened
    timeline_requested = Signal(int, list)  # memory id, words to box: open it on the timeline

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
        self._search: Op | None = None  # the newest search; answers to older ones are dropped
        self._pending = False
        self._started = 0.0
        self.stale_dropped = 0  # answers that came back for an older query (tests read it)
        self.total: int | None = None  # memories in the store, once known
        self.last_results: SearchResults | None = None
        self.viewer: MemoryViewer | None = None

        self.setStyleSheet(drop_down_arrows())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 18, 24, 12)
        layout.setSpacing(8)

        self.box = QLineEdit()
        self.box.setObjectName("searchBox")
        self.box.setPlaceholderText("Search your memories — try “invoice last week”")
        self.box.setClearButtonEnabled(True)
        self.box.addAction(search_icon(), QLineEdit.ActionPosition.LeadingPosition)
        self.box.setAccessibleName("Search")
        self.setFocusProxy(self.box)
        layout.addWidget(self.box)

        self.busy = QProgressBar()
        self.busy.setObjectName("searchBusy")
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.busy.setFixedHeight(3)
        busy_slot = QWidget()
        busy_slot.setFixedHeight(3)
        QVBoxLayout(busy_slot).setContentsMargins(0, 0, 0, 0)
        busy_slot.layout().addWidget(self.busy)
        self.busy.hide()
        layout.addWidget(busy_slot)

        self.summary = QLabel()
        self.summary.setObjectName("hint")
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        filters = self._build_filters()
        filters.addWidget(self.summary)
        layout.addLayout(filters)
        self.applied = QLabel()
        self.applied.setObjectName("applied")
        self.applied.setTextFormat(Qt.TextFormat.PlainText)
        self.applied.hide()  # only when filters were applied
        layout.addWidget(self.applied)

        self.model = ResultsModel(None, self)
        self.model.want_thumbnail = thumbnail_loader(self, tasks, self.media, self.model)
        self.list = QListView()
        self.list.setObjectName("results")
        self.list.setModel(self.model)
        self.list.setItemDelegate(ResultDelegate(self.list))
        self.list.setUniformItemSizes(False)  # rows with a picture are taller
        self.list.setMouseTracking(True)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.activated.connect(self._open_index)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(
            lambda pos: erase_ui.result_menu(self, self.list.indexAt(pos), pos)
        )
        self.list.setAccessibleName("Results")
        self.message = empty_state("")
        self.message.setTextFormat(Qt.TextFormat.PlainText)  # it may quote the query
        self.stack = QStackedWidget()
        self.stack.addWidget(self.list)
        self.stack.addWidget(self.message)
        layout.addWidget(self.stack, 1)

        self.debounce = QTimer(self)
        self.debounce.setSingleShot(True)
        self.debounce.setInterval(DEBOUNCE_MS)
        self.debounce.timeout.connect(self.run_search)
        self.busy_timer = QTimer(self)
        self.busy_timer.setSingleShot(True)
        self.busy_timer.setInterval(BUSY_AFTER_MS)
        self.busy_timer.timeout.connect(self._show_busy)

        self.box.textChanged.connect(lambda _: self.debounce.start())
        self.box.installEventFilter(self)
        self.list.installEventFilter(self)
        self._show_message(NOT_READY)

    # -- filters ------------------------------------------------------------------------------
    def _build_filters(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setSpacing(6)
        self.source_group = QButtonGroup(self)
        self.source_group.setExclusive(True)
        self.source_buttons: dict[str | None, QPushButton] = {}
        for i, (label, value) in enumerate(SOURCES):
            b = QPushButton(label)
            b.setObjectName("chip")
            b.setCheckable(True)
            b.setChecked(value is None)
            b.setFocusPolicy(Qt.FocusPolicy.TabFocus)
            self.source_group.addButton(b, i)
            self.source_buttons[value] = b
            row.addWidget(b)
        self.source_group.idClicked.connect(lambda _: self._filters_changed())
        row.addSpacing(12)

        self.app_box = QComboBox()
        self.app_box.setObjectName("appFilter")
        self.app_box.setAccessibleName("App")
        self.app_box.addItem("All apps", None)
        self.app_box.setMinimumWidth(140)
        self.app_box.currentIndexChanged.connect(lambda _: self._filters_changed())
        row.addWidget(self.app_box)

        self.date_box = QComboBox()
        self.date_box.setObjectName("dateFilter")
        self.date_box.setAccessibleName("Date range")
        self.date_box.addItems(DATE_PRESETS)
        self.date_box.currentIndexChanged.connect(self._date_preset_changed)
        row.addWidget(self.date_box)

        today = QDate.currentDate()
        self.date_from = QDateEdit(today.addDays(-7))
        self.date_to = QDateEdit(today)
        for w, name in ((self.date_from, "From"), (self.date_to, "To")):
            w.setCalendarPopup(True)
            w.setDisplayFormat("d MMM yyyy")
            w.setAccessibleName(name)
            w.dateChanged.connect(lambda _: self._filters_changed())
            w.hide()
        self.date_dash = QLabel("–")
        self.date_dash.hide()
        row.addWidget(self.date_from)
        row.addWidget(self.date_dash)
        row.addWidget(self.date_to)

        self.clear_filters_button = QPushButton("Clear filters")
        self.clear_filters_button.setObjectName("link")
        self.clear_filters_button.clicked.connect(self.clear_filters)
        self.clear_filters_button.hide()
        row.addWidget(self.clear_filters_button)
        row.addStretch(1)
        return row

    def _date_preset_changed(self, index: int) -> None:
        self._show_custom_range(index == CUSTOM)
        self._filters_changed()

    def _show_custom_range(self, custom: bool) -> None:
        for w in (self.date_from, self.date_dash, self.date_to):
            w.setVisible(custom)

    def _filters_changed(self) -> None:
        f = self.current_filters()
        self.clear_filters_button.setVisible(
            any(v is not None for v in (f.since, f.until, f.app, f.source))
        )
        if self.box.text().strip():
            self.run_search()  # a deliberate choice: search now (typing stays debounced)

    def current_filters(self) -> SearchFilters:
        f = SearchFilters()
        button = self.source_group.checkedButton()
        for value, b in self.source_buttons.items():
            if b is button:
                f.source = value
        f.app = self.app_box.currentData()
        preset = self.date_box.currentIndex()
        now = self.now()
        if preset == TODAY:
            f.since = day_bounds(date.fromtimestamp(now))[0]
        elif preset == LAST_7:
            f.since = now - 7 * 86400
        elif preset == LAST_30:
            f.since = now - 30 * 86400
        elif preset == CUSTOM:
            a, b = self.date_from.date().toPython(), self.date_to.date().toPython()
            assert isinstance(a, date) and isinstance(b, date)
            if b < a:
                a, b = b, a
            f.since = day_bounds(a)[0]
            f.until = day_bounds(b)[1]
        return f

    def clear_filters(self) -> None:
        for w in (self.app_box, self.date_box):
            w.blockSignals(True)
            w.setCurrentIndex(0)
            w.blockSignals(False)
        self._show_custom_range(False)
        self.source_buttons[None].setChecked(True)
        self._filters_changed()  # one search for the whole reset

    def set_custom_range(self, start: date, end: date) -> None:
        for w, d in ((self.date_from, start), (self.date_to, end)):
            w.blockSignals(True)
            w.setDate(QDate(d.year, d.month, d.day))
            w.blockSignals(False)
        self.date_box.setCurrentIndex(CUSTOM)
        self._filters_changed()

    # -- page life ----------------------------------------------------------------------------
    def refresh(self, changes: Changes | None = None) -> None:
        service = self.memory()
        if service is None:
            # The engine attaches at the end of unlock, which then announces Changes(locked=False):
            # that announcement refreshes this page again (no timer looks for it).
            self._show_message(LOCKED if not self.services.unlocked else NOT_READY)
            return
        self._load_facts(service)
        if changes is None or changes.memories_added or changes.memories_removed:
            if self.box.text().strip():
                self.debounce.start()
            else:
                self._show_idle()

    def _load_facts(self, service: object) -> None:
        def fetch() -> tuple[int, list[str]]:
            return service.count(), service.apps()  # type: ignore[attr-defined]

        def show(result: tuple[int, list[str]]) -> None:
            self.total, apps = result
            current = self.app_box.currentData()
            self.app_box.blockSignals(True)
            self.app_box.clear()
            self.app_box.addItem("All apps", None)
            for a in apps:
                self.app_box.addItem(a, a)
            if current is not None:
                i = self.app_box.findData(current)
                if i < 0:  # keep a filter chosen earlier even if its app has gone
                    self.app_box.addItem(current, current)
                    i = self.app_box.count() - 1
                self.app_box.setCurrentIndex(i)
            self.app_box.blockSignals(False)
            if not self.box.text().strip():
                self._show_idle()

        run_guarded(self.tasks, self, fetch, show, lambda e: None)

    def showEvent(self, event: object) -> None:  # type: ignore[override]
        super().showEvent(event)  # type: ignore[arg-type]
        QTimer.singleShot(0, self, self.focus_box)

    def focus_box(self) -> None:
        self.box.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.box.selectAll()

    # -- searching ----------------------------------------------------------------------------
    def run_search(self) -> None:
        """Search for what the box and filters say now. One search runs at a time: a newer
        request makes the running one stale and is sent as soon as it returns (newest wins,
        the task runner's `key`), so a slow engine is never handed a pile of outdated queries."""
        self.debounce.stop()
        if self._search is not None:
            self._search.cancel()  # from here on, whatever is running answers an old question
            self._search = None
        query = self.box.text().strip()
        if not query:
            self._set_pending(False)
            self.model.clear()
            self.last_results = None
            self._show_idle()
            return
        service = self.memory()
        if service is None:
            self._set_pending(False)
            self._show_message(LOCKED if not self.services.unlocked else NOT_READY)
            return
        self._set_pending(True)
        filters = self.current_filters()
        self._started = time.monotonic()
        self._search = self.tasks.op(
            lambda _ctx: service.search(query, filters, RESULTS_K),
            lambda r: self._finished(query, r, None),
            lambda e: self._finished(query, None, e),
            owner=self,
            key="search",
            on_dropped=self._dropped,
        )

    def _dropped(self) -> None:
        self.stale_dropped += 1

    def _finished(
        self, query: str, results: SearchResults | None, err: BaseException | None
    ) -> None:
        self._search = None
        if err is not None:
            self._on_error(err)
        elif results is not None:
            self._on_results(query, results)

    def _set_pending(self, pending: bool) -> None:
        self._pending = pending
        if pending:
            if not self.busy_timer.isActive() and not self.busy.isVisible():
                self.busy_timer.start(BUSY_AFTER_MS)
        else:
            self.busy_timer.stop()
            self.busy.hide()

    def _show_busy(self) -> None:
        if self._pending:
            self.busy.show()
            slow = time.monotonic() - self._started > STILL_SEARCHING_S
            self.summary.setText("Still searching…" if slow else "Searching…")
            self.busy_timer.start(1000)  # update the words while it lasts

    def _on_results(self, query: str, results: SearchResults) -> None:
        self._set_pending(False)
        self.last_results = results
        keep = self._current_id()
        rows = [ResultRow.from_hit(h) for h in results.hits]
        self.model.set_rows(rows, self.now())
        self.applied.setText(self.describe_applied(results, query))
        self.applied.setVisible(bool(self.applied.text()))
        n = len(rows)
        self.summary.setText(
            f"{n}{'+' if n >= RESULTS_K else ''} result{'s' if n != 1 else ''} · "
            f"{results.took_ms:.0f} ms"
        )
        if not rows:
            self.summary.clear()
            self._show_message(nothing_yet(self.services) if self.total == 0 else no_results(query))
        else:
            self.stack.setCurrentWidget(self.list)
            ids = [r.id for r in rows]
            self.list.setCurrentIndex(self.model.index(ids.index(keep) if keep in ids else 0))
            if keep not in ids:
                self.list.scrollToTop()
        self.results_shown.emit(results)

    def _on_error(self, err: BaseException) -> None:
        self._set_pending(False)
        self.model.clear()
        self.summary.clear()
        if isinstance(err, UserFacingError):
            self._show_message(str(err))
        else:
            # The runner sends the bug to the log and the crash dialog.
            self._show_message("Search ran into a problem. Try again, or restart Mnemo.")

    def describe_applied(self, results: SearchResults, typed: str) -> str:
        f = results.filters
        parts = []
        when = describe_range(f.since, f.until, self.now())
        if when:
            parts.append(when)
        if f.app:
            parts.append(f"app {f.app}")
        if f.source:
            parts.append(f"only {SOURCE_WORDS.get(f.source, f.source)}")
        words = results.query.strip()
        if words and words.lower() != typed.strip().lower():
            parts.append(f"words “{words}”")
        lines = [("Showing: " + " · ".join(parts))] if parts else []
        if results.time_hint is not None and results.hits:
            lo, hi = results.time_hint
            lines.append(f"Memories from {describe_range(lo, hi, self.now())} first")
        if results.fallback:
            lines.append(results.fallback)
        if results.hits and words and not results.exact:
            lines.append(f"No exact matches for “{words}”; these are close in meaning.")
        return "\n".join(lines)

    def _current_id(self) -> int | None:
        row = self.model.row_at(self.list.currentIndex().row())
        return row.id if row else None

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.stack.setCurrentWidget(self.message)

    def _show_idle(self) -> None:
        self.applied.clear()
        self.applied.hide()
        self.summary.clear()
        if self.total == 0:
            self._show_message(nothing_yet(self.services))
        elif self.total is not None:
            self._show_message(
                f"Search {memories_phrase(self.total)} by words or meaning.\n"
                "Time words work too: “yesterday”, “last week”, “in March”."
            )

    # -- keyboard and opening -----------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.KeyPress or not isinstance(event, QKeyEvent):
            return False
        key = event.key()
        if (
            key in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            and event.modifiers() & Qt.KeyboardModifier.ControlModifier
            and watched in (self.box, self.list)
        ):
            self.show_on_timeline()
            return True
        if watched is self.box:
            if key in (Qt.Key.Key_Down, Qt.Key.Key_Up, Qt.Key.Key_PageDown) and self.model.rows:
                self.stack.setCurrentWidget(self.list)
                self.list.setFocus()
                if not self.list.currentIndex().isValid():
                    self.list.setCurrentIndex(self.model.index(0))
                return True
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                if self.debounce.isActive():
                    self.run_search()  # Enter means "search now"; a second Enter opens
                    return True
                if self._pending:
                    return True
                idx = self.list.currentIndex()
                if idx.isValid():
                    self._open_index(idx)
                return True
            if key == Qt.Key.Key_Escape and self.box.text():
                self.box.clear()
                return True
        if watched is self.list:
            if key == Qt.Key.Key_Escape or (
                key == Qt.Key.Key_Up and self.list.currentIndex().row() <= 0
            ):
                self.box.setFocus()
                return True
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                idx = self.list.currentIndex()
                if idx.isValid():
                    self._open_index(idx)
                return True
            text = event.text()
            if (
                text
                and text.isprintable()
                and not event.modifiers()
                & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
            ):
                # Typing while in the list goes on with the query.
                self.box.setFocus()
                self.box.insert(text)
                return True
        return False

    def _open_index(self, index: QModelIndex) -> None:
        row = self.model.row_at(index.row())
        if row is not None:
            self.open_memory(row.id, highlighted_terms(row.snippet), row.count)

    def show_on_timeline(self) -> bool:
        """The selected hit on the timeline, at its frame (screens only)."""
        row = self.model.row_at(self.list.currentIndex().row())
        if row is None or row.media_id is None:
            return False
        self.timeline_requested.emit(row.id, highlighted_terms(row.snippet))
        return True

    def _back_from_viewer(self) -> None:
        self.window().activateWindow()
        self.list.setFocus()

    def open_memory(
        self, memory_id: int, terms: list[str] | None = None, seen: int = 1
    ) -> MemoryViewer:
        viewer = MemoryViewer(
            self.memory, self.media, self.tasks, memory_id, terms, self.window(), self.now
        )
        viewer.seen = seen
        viewer.forgotten.connect(lambda _: self.refresh(Changes(memories_removed=1)))
        viewer.finished.connect(lambda _: self._back_from_viewer())
        self.viewer = viewer
        viewer.present()
        self.viewer_opened.emit(viewer)
        return viewer

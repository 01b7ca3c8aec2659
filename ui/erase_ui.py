"""Erasure in the desktop app: the confirm-then-erase flow (a preview that says how many memories
will go and shows a few, a confirmation, then the receipt), the tray's "Forget the last …",
the Settings tab "Storage & erasure" (usage charts, limits, erase by range / app / source), and
"Forget this" / "Forget everything from this app" for the memory viewer and search results.
All work runs on the task runner; widgets only show what comes back."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from PySide6.QtCore import QDateTime, QRectF, QSize, Qt, QTime
from PySide6.QtGui import QAction, QColor, QFont, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDateTimeEdit,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.services import Changes, Services
from app.tasks import TaskRunner, user_message
from core.erase import EraseSpec, Preview, Receipt
from core.errors import UserFacingError
from core.types import Memory
from ui.result_list import run_guarded, source_label

FORGET_LAST = [("Forget the last 15 minutes", 15 * 60), ("Forget the last hour", 3600),
               ("Forget the last day", 86400)]  # fmt: skip
SOURCES = [("Screens", "screen"), ("Chats", "chat"), ("Notes", "note"), ("Imports", "import")]


# -- words ------------------------------------------------------------------------------------
def size_text(n: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} bytes"


def _when(t: float | None) -> str:
    return datetime.fromtimestamp(t).strftime("%d %b %Y %H:%M") if t is not None else "?"


def memories_text(n: int) -> str:
    return f"{n:,} memor{'y' if n == 1 else 'ies'}"


def preview_text(p: Preview) -> str:
    if not p.memories:
        return "Nothing matches: nothing would be forgotten."
    parts = [f"{memories_text(p.memories)} from {_when(p.oldest)} to {_when(p.newest)}"]
    if p.media_items:
        parts.append(f"{p.media_items} screenshot{'s' if p.media_items != 1 else ''}")
    if p.derived_answers:
        parts.append(
            f"{p.derived_answers} answer{'s' if p.derived_answers != 1 else ''} citing them"
        )
    kinds = ", ".join(
        f"{n} {source_label(k).lower()}"
        for k, n in sorted(p.by_source.items(), key=lambda x: -x[1])
    )
    return " · ".join(parts) + (f"\n({kinds})" if kinds else "")


def examples_text(p: Preview) -> str:
    lines = []
    for ex in p.examples:
        text = " ".join(str(ex["text"]).split())[:90]
        lines.append(f"{_when(ex['time'])}  {ex['app'] or source_label(ex['source'])}: {text}")
    return "\n".join(lines)


def receipt_text(r: Receipt) -> str:
    if not r.memories:
        return "Nothing was forgotten: nothing matched."
    extra = []
    if r.media_items:
        extra.append(f"{r.media_items} screenshot{'s' if r.media_items != 1 else ''}")
    if r.derived_answers:
        extra.append(f"{r.derived_answers} answer{'s' if r.derived_answers != 1 else ''}")
    tail = f" (with {', '.join(extra)})" if extra else ""
    return (
        f"Forgot {memories_text(r.memories)}{tail}: rows, search entries and vectors are gone "
        f"and the space was wiped. Took {r.took_ms / 1000:.1f} s."
    )


# -- the flow ----------------------------------------------------------------------------------
class EraseFlow:
    """Preview (task runner) → confirmation box (non-blocking) → erase (task runner) → receipt.
    `box` is the confirmation while it is open (tests press its buttons)."""

    def __init__(
        self,
        parent: QWidget | None,
        services: Services,
        tasks: TaskRunner,
        on_receipt: Callable[[Receipt], None],
        on_error: Callable[[str], None],
    ) -> None:
        self.parent = parent
        self.services = services
        self.tasks = tasks
        self.on_receipt = on_receipt
        self.on_error = on_error
        self.box: QMessageBox | None = None
        self.preview: Preview | None = None

    def _erase_service(self) -> Any:
        service = self.services.erase if self.services.unlocked else None
        if service is None:
            raise UserFacingError("Mnemo is locked. Unlock it to forget memories.")
        return service

    def start(self, make_spec: Callable[[Any], EraseSpec], what: str) -> None:
        """`make_spec(erase_service)` runs on the worker (a query spec needs a search)."""

        def work() -> tuple[EraseSpec, Preview]:
            service = self._erase_service()
            spec = make_spec(service)
            return spec, service.preview(spec)

        self.tasks.run(
            work, lambda r: self._confirm(r[0], r[1], what), self._failed, owner=self.parent
        )

    def _failed(self, err: BaseException) -> None:
        self.box = None
        self.on_error(user_message(err, "Forgetting failed."))  # a bug also reaches the dialog

    def _confirm(self, spec: EraseSpec, p: Preview, what: str) -> None:
        self.preview = p
        box = QMessageBox(self.parent)
        box.setObjectName("eraseConfirm")
        box.setWindowTitle("Forget memories")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setTextFormat(Qt.TextFormat.PlainText)
        if not p.memories:
            box.setIcon(QMessageBox.Icon.Information)
            box.setText(f"Nothing to forget: no memories match {what}.")
            box.setStandardButtons(QMessageBox.StandardButton.Ok)
            self.box = box
            box.finished.connect(lambda _: setattr(self, "box", None))
            box.open()
            return
        box.setText(f"Forget {memories_text(p.memories)} ({what})?")
        box.setInformativeText(
            preview_text(p) + "\n\nThey are erased for good: text, screenshots, search entries "
            "and vectors. This cannot be undone."
        )
        if p.examples:
            box.setDetailedText("For example:\n" + examples_text(p))
        forget = box.addButton(
            f"Forget {memories_text(p.memories)}", QMessageBox.ButtonRole.DestructiveRole
        )
        forget.setObjectName("danger")
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)
        self.forget_button = forget
        self.box = box

        def answered(_: int) -> None:
            self.box = None
            if box.clickedButton() is forget:
                # No owner: the receipt is shown even if the page that asked has closed.
                self.tasks.run(
                    lambda: self._erase_service().erase(spec), self.on_receipt, self._failed
                )

        box.finished.connect(answered)
        box.open()


# -- tray --------------------------------------------------------------------------------------
def tray_actions(
    services: Services, tasks: TaskRunner, notify: Callable[[str], None]
) -> list[QAction]:
    """ "Forget the last 15 minutes / hour / day" for Tray.add_section."""
    actions = []
    flows: list[EraseFlow] = []
    for label, seconds in FORGET_LAST:
        action = QAction(label)
        action.setObjectName(f"forget{seconds}")

        def run(_: bool = False, s: int = seconds, label: str = label) -> None:
            if not services.unlocked:
                notify("Mnemo is locked. Unlock it to forget memories.")
                return
            flow = EraseFlow(None, services, tasks, lambda r: notify(receipt_text(r)), notify)
            flows[:] = [flow]  # kept alive while its dialog is open
            flow.start(lambda e: e.spec_for_last(s), label.removeprefix("Forget ").lower())

        action.triggered.connect(run)
        action.flows = flows  # type: ignore[attr-defined]
        actions.append(action)
    return actions


# -- memory viewer and search results -------------------------------------------------------
def _viewer_forget(spec_of: Callable[[Memory], EraseSpec], what: Callable[[Memory], str]) -> Any:
    def handler(viewer: Any, memory: Memory) -> None:
        services = _installed.get("services")
        if services is None:
            return

        def done(r: Receipt) -> None:
            viewer.forgotten.emit(memory.id)
            viewer.close()

        def failed(text: str) -> None:
            QMessageBox.warning(viewer, "Mnemo", text)

        flow = EraseFlow(viewer, services, viewer.tasks, done, failed)
        viewer.erase_flow = flow
        flow.start(lambda e: spec_of(memory), what(memory))

    return handler


_installed: dict[str, Any] = {}


def install(services: Services) -> None:
    """Add "Forget this" and "Forget everything from this app" to every memory viewer."""
    from ui.memory_viewer import VIEWER_ACTIONS, ViewerAction

    _installed["services"] = services
    labels = {"Forget this", "Forget everything from this app"}
    VIEWER_ACTIONS[:] = [a for a in VIEWER_ACTIONS if a.label not in labels]
    VIEWER_ACTIONS.append(
        ViewerAction(
            "Forget this",
            _viewer_forget(lambda m: EraseSpec(ids=[m.id]), lambda m: "this memory"),
            "danger",
        )
    )
    VIEWER_ACTIONS.append(
        ViewerAction(
            "Forget everything from this app",
            _viewer_forget(
                lambda m: EraseSpec(app=m.app) if m.app else EraseSpec(ids=[m.id]),
                lambda m: f"everything from {m.app}" if m.app else "this memory",
            ),
            "danger",
        )
    )


# -- charts -------------------------------------------------------------------------------------
ROW = 19  # height of one bar (with its gap) in the horizontal chart


class BarChart(QWidget):
    """A small painted bar chart: vertical bars (by day) or horizontal bars with labels (by
    app). Values are shown as numbers too, so the chart is never the only way to read them."""

    def __init__(self, horizontal: bool = False) -> None:
        super().__init__()
        self.horizontal = horizontal
        self.items: list[tuple[str, float, str]] = []  # label, value, value text
        self.setMinimumHeight(120 if not horizontal else 60)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def set_items(self, items: list[tuple[str, float, str]]) -> None:
        self.items = items
        if self.horizontal:
            self.setMinimumHeight(max(60, ROW * len(items) + 8))
        self.setAccessibleDescription(
            "; ".join(f"{label}: {text}" for label, _, text in items if text)
        )
        self.updateGeometry()
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(520, ROW * len(self.items) + 8 if self.horizontal else 130)

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = QFont(self.font())
        font.setPointSizeF(max(7.5, font.pointSizeF() - 1))
        p.setFont(font)
        top = max((v for _, v, _ in self.items), default=0.0)
        bar = QColor("#3d6fd8")
        muted = QColor("#6b7385")
        if not self.items or top <= 0:
            p.setPen(muted)
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Nothing stored yet.")
            p.end()
            return
        w, h = self.width(), self.height()
        if self.horizontal:
            label_w, value_w, row = 150, 90, ROW
            span = max(10, w - label_w - value_w - 12)
            for i, (label, v, text) in enumerate(self.items):
                y = 4 + i * row
                p.setPen(QColor("#1d2433"))
                p.drawText(
                    QRectF(0, y, label_w - 8, row),
                    Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                    p.fontMetrics().elidedText(label, Qt.TextElideMode.ElideRight, label_w - 8),
                )
                length = max(2.0, span * v / top)
                p.fillRect(QRectF(label_w, y + 4, length, row - 8), bar)
                p.setPen(muted)
                p.drawText(
                    QRectF(label_w + length + 6, y, value_w, row),
                    Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                    text,
                )
        else:
            base, n = h - 20, len(self.items)
            slot = (w - 8) / n
            for i, (label, v, _) in enumerate(self.items):
                bh = (base - 18) * v / top
                x = 4 + i * slot
                if v > 0:
                    p.fillRect(
                        QRectF(x + slot * 0.15, base - max(bh, 1.5), slot * 0.7, max(bh, 1.5)), bar
                    )
                if label:
                    p.setPen(muted)
                    tw = p.fontMetrics().horizontalAdvance(label) + 4
                    # Centred under its bar, but kept inside the widget.
                    lx = min(max(0.0, x + slot / 2 - tw / 2), w - tw)
                    p.drawText(
                        QRectF(lx, base + 2, tw, 16),
                        Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
                        label,
                    )
            p.setPen(muted)
            p.drawText(
                QRectF(6, 0, w - 12, 14),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop,
                f"busiest day: {int(top):,}",
            )
            p.setPen(QColor("#c9ced8"))
            p.drawLine(4, int(base), w - 4, int(base))
        p.end()


# -- Settings → Storage & erasure ------------------------------------------------------------
def range_spec(start: QDateTime, end: QDateTime) -> tuple[EraseSpec, str]:
    """The erase of everything from `start` to the end of `end`'s minute (both included, as
    the user reads "09:00 to 09:30"), and how to say it."""
    a, b = start.toSecsSinceEpoch(), end.toSecsSinceEpoch()
    if b < a:
        a, b = b, a
    a -= a % 60
    b = b - b % 60 + 60  # the whole last minute
    da, db = datetime.fromtimestamp(a), datetime.fromtimestamp(b) - timedelta(minutes=1)
    if da.date() == db.date():
        what = f"on {da:%d %b %Y} from {da:%H:%M} to {db:%H:%M}"
    else:
        what = f"from {da:%d %b %Y %H:%M} to {db:%d %b %Y %H:%M}"
    return EraseSpec(since=float(a), until=float(b)), what


class StoragePanel(QWidget):
    """Usage (now, by day, by app) against the limits, and erase by range / app / source with a
    preview and a confirmation. Loads on the task runner when shown."""

    def __init__(self, services: Services, tasks: TaskRunner) -> None:
        super().__init__()
        self.services = services
        self.tasks = tasks
        self.setObjectName("storagePanel")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(14)

        self.usage_label = QLabel("Loading…")
        self.usage_label.setObjectName("usage")
        self.usage_label.setWordWrap(True)
        layout.addWidget(self.usage_label)

        erase_box = QGroupBox("Forget memories")
        e = QVBoxLayout(erase_box)
        hint = QLabel(
            "Pick what to forget and press Preview: you see how many memories would go, and a "
            "few of them, before anything is erased."
        )
        hint.setObjectName("hint")
        hint.setWordWrap(True)
        e.addWidget(hint)
        row = QHBoxLayout()
        self.kind = QComboBox()
        self.kind.setObjectName("eraseKind")
        self.kind.setAccessibleName("Forget by")
        self.kind.addItems(["A time range", "An app", "A source"])
        row.addWidget(self.kind)
        self.choice = QStackedWidget()
        range_row = QWidget()
        rr = QHBoxLayout(range_row)
        rr.setContentsMargins(0, 0, 0, 0)
        # Times, not only days: "this morning from 9:00 to 9:30" is a range people forget.
        now = QDateTime.currentDateTime()
        self.date_from = QDateTimeEdit(QDateTime(now.date(), QTime(0, 0)))
        self.date_to = QDateTimeEdit(now)
        for w, name in ((self.date_from, "From"), (self.date_to, "To")):
            w.setCalendarPopup(True)
            w.setDisplayFormat("d MMM yyyy HH:mm")
            w.setAccessibleName(name)
        rr.addWidget(self.date_from)
        rr.addWidget(QLabel("to"))
        rr.addWidget(self.date_to)
        rr.addStretch(1)
        self.choice.addWidget(range_row)
        self.app_box = QComboBox()
        self.app_box.setObjectName("eraseApp")
        self.app_box.setAccessibleName("App")
        self.choice.addWidget(self.app_box)
        self.source_box = QComboBox()
        self.source_box.setAccessibleName("Source")
        for label, value in SOURCES:
            self.source_box.addItem(label, value)
        self.choice.addWidget(self.source_box)
        self.kind.currentIndexChanged.connect(self.choice.setCurrentIndex)
        row.addWidget(self.choice, 1)
        self.preview_button = QPushButton("Preview…")
        self.preview_button.setObjectName("danger")
        self.preview_button.clicked.connect(self.preview_erase)
        row.addWidget(self.preview_button)
        e.addLayout(row)
        self.result = QLabel()
        self.result.setObjectName("eraseResult")
        self.result.setWordWrap(True)
        self.result.setTextFormat(Qt.TextFormat.PlainText)
        self.result.hide()  # until there is something to say
        e.addWidget(self.result)
        layout.addWidget(erase_box)

        usage_box = QGroupBox("What is stored")
        u = QVBoxLayout(usage_box)
        u.addWidget(QLabel("Memories per day, last 30 days"))
        self.by_day = BarChart()
        self.by_day.setObjectName("usageByDay")
        u.addWidget(self.by_day)
        u.addWidget(QLabel("Most memories, by app or source"))
        self.by_app = BarChart(horizontal=True)
        self.by_app.setObjectName("usageByApp")
        u.addWidget(self.by_app)
        layout.addWidget(usage_box)
        self.flow = EraseFlow(self, services, tasks, self._erased, self._failed)
        self.loaded = False

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.refresh()

    def spec(self) -> tuple[EraseSpec, str]:
        i = self.kind.currentIndex()
        if i == 0:
            return range_spec(self.date_from.dateTime(), self.date_to.dateTime())
        if i == 1:
            app = self.app_box.currentData()
            if not app:
                raise UserFacingError("Choose an app first.")
            if app.startswith("source:"):
                kind = app.removeprefix("source:")
                return EraseSpec(source=kind), f"every {source_label(kind).lower()} memory"
            return EraseSpec(app=app), f"everything from {app}"
        source = self.source_box.currentData()
        return EraseSpec(source=source), f"every {self.source_box.currentText().lower()} memory"

    def preview_erase(self) -> None:
        self._say("")
        try:
            spec, what = self.spec()
        except UserFacingError as e:
            self._say(str(e))
            return
        self.flow.start(lambda _: spec, what)

    def _erased(self, r: Receipt) -> None:
        self._say(receipt_text(r))
        self.refresh()

    def _failed(self, text: str) -> None:
        self._say(text)

    def _say(self, text: str) -> None:
        self.result.setText(text)
        self.result.setVisible(bool(text))

    def memories_changed(self) -> None:
        """Called by the Settings page when memories were added or erased anywhere."""
        self.refresh()

    def refresh(self) -> None:
        erase = self.services.erase if self.services.unlocked else None
        if erase is None:
            self.usage_label.setText("Unlock Mnemo to see what is stored.")
            return

        def fetch() -> dict[str, Any]:
            return {
                "usage": erase.usage(),
                "days": erase.usage_by_day(30),
                "apps": erase.usage_by_app(10),
                "all_apps": [a for a in erase.usage_by_app(200)],
            }

        run_guarded(self.tasks, self, fetch, self._show, lambda e: None)

    def _show(self, doc: dict[str, Any]) -> None:
        u = doc["usage"]
        limit = f"limit {size_text(u.max_bytes)}" if u.max_bytes else "no size limit"
        age = f"kept for {u.max_age_days} days" if u.max_age_days else "kept until you erase them"
        total_memories = sum(a["memories"] for a in doc["all_apps"])
        self.usage_label.setText(
            f"Now: {memories_text(total_memories)} using {size_text(u.total)} "
            f"(database {size_text(u.database)}, screenshots {size_text(u.media)}, "
            f"search index {size_text(u.index)}) · {limit} · {age}."
        )
        days = doc["days"]
        items = []
        for i, d in enumerate(days):
            label = datetime.fromtimestamp(d["day"]).strftime("%d %b") if i % 5 == 4 else ""
            items.append((label, float(d["memories"]), str(d["memories"])))
        self.by_day.set_items(items)
        self.by_app.set_items(
            [
                (_app_label(a["app"]), float(a["memories"]), f"{a['memories']:,}")
                for a in doc["apps"]
            ]
        )
        current = self.app_box.currentData()
        self.app_box.clear()
        for a in doc["all_apps"]:
            name = a["app"]
            data = name if not _is_kind(name) else f"source:{name}"
            self.app_box.addItem(f"{_app_label(name)} ({a['memories']:,})", data)
        if current is not None and self.app_box.findData(current) >= 0:
            self.app_box.setCurrentIndex(self.app_box.findData(current))
        self.loaded = True


def _is_kind(name: str) -> bool:
    return name in ("screen", "chat", "note", "api") or name.startswith("import:")


def _app_label(name: str) -> str:
    return source_label(name) if _is_kind(name) else name


def result_menu(page: Any, index: Any, pos: Any) -> QMenu | None:
    """The search results' context menu: "Forget this" (the result and the near-identical
    captures it stands for) and "Forget everything from <app>"."""
    row = page.model.row_at(index.row()) if index.isValid() else None
    if row is None:
        return None
    hit = next(
        (h for h in (page.last_results.hits if page.last_results else []) if h.id == row.id), None
    )
    ids = list(hit.group_ids) if hit is not None and hit.group_ids else [row.id]
    menu = QMenu(page)
    menu.setObjectName("resultMenu")

    def done(r: Receipt) -> None:
        page.summary.setText(receipt_text(r))
        page.refresh(Changes(memories_removed=r.memories))

    def failed(text: str) -> None:
        page.summary.setText(text)

    flow = EraseFlow(page, page.services, page.tasks, done, failed)
    page.erase_flow = flow
    what = "this result" + (f" and {len(ids) - 1} near-identical captures" if len(ids) > 1 else "")
    menu.addAction("Forget this", lambda: flow.start(lambda _: EraseSpec(ids=ids), what))
    if row.app:
        app = row.app
        menu.addAction(
            f"Forget everything from {app}",
            lambda: flow.start(lambda _: EraseSpec(app=app), f"everything from {app}"),
        )
    page.result_menu = menu
    menu.popup(page.list.viewport().mapToGlobal(pos))
    return menu

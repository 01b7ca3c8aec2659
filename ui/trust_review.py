"""The Trust review page: memories quarantined as suspicious (preview, source, time, reasons),
Approve / Reject one or many (A / R), always / never trust a source, and every source's trust
with its history. Also the tray badge with the number waiting. All work runs on the task
runner; captured text is shown as plain text only, never as HTML."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime
from typing import Any

from PySide6.QtCore import QPointF, QRect, QSize, Qt, Signal
from PySide6.QtGui import QAction, QColor, QImage, QKeySequence, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.services import Changes, Services
from app.tasks import TaskRunner
from app.trust_service import ReviewItem, SourceInfo
from ui.memory_viewer import trust_sentence
from ui.page import Page, empty_state, memories_phrase

TITLE = "Trust review"
PREVIEW_MAX = QSize(520, 300)
EVIDENCE_WORDS = {
    "suspicious": "Flagged as suspicious",
    "rejected": "You rejected a memory",
    "approved": "You approved a memory",
    "burst": "Wrote a burst of memories",
    "idle_decay": "Idle: drifted back toward neutral",
    "pinned": "Trust choice changed",
}


PIN_WORDS = {"always": " — always trusted", "never": " — never trusted"}


def kind_words(kind: str) -> str:
    if kind.startswith("import:"):
        return f"Imported {kind.removeprefix('import:')} message"
    return {"screen": "Seen on screen", "chat": "Chat message", "note": "Note"}.get(
        kind, kind.title()
    )


def when(t: float) -> str:
    return datetime.fromtimestamp(t).strftime("%d %b %Y, %H:%M")


def plain(text: str) -> QLabel:
    """A label that never interprets its text as HTML (captured text may contain markup)."""
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    return label


def trust_bar(value: float) -> QProgressBar:
    bar = QProgressBar()
    bar.setRange(0, 100)
    bar.setValue(round(value * 100))
    bar.setFormat(f"{value:.2f}")
    bar.setTextVisible(True)
    bar.setMaximumHeight(16)
    level = "low" if value < 0.35 else "mid" if value < 0.65 else "high"
    bar.setObjectName(f"trust-{level}")
    bar.setAccessibleName(f"Trust {value:.2f}")
    return bar


class Sparkline(QWidget):
    """A source's trust after each event, 0 at the bottom and 1 at the top."""

    def __init__(self) -> None:
        super().__init__()
        self.values: list[float] = []
        self.setMinimumHeight(70)
        self.setAccessibleName("Trust over time")

    def set_values(self, values: list[float]) -> None:
        self.values = values
        self.update()

    def paintEvent(self, event: object) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = self.rect().adjusted(4, 4, -4, -4)
        p.setPen(QPen(QColor("#c9cfdb"), 1, Qt.PenStyle.DashLine))
        mid = r.top() + r.height() / 2
        p.drawLine(QPointF(r.left(), mid), QPointF(r.right(), mid))
        if len(self.values) >= 1:
            vals = self.values if len(self.values) > 1 else self.values * 2
            step = r.width() / (len(vals) - 1)
            pts = [
                QPointF(r.left() + i * step, r.bottom() - v * r.height())
                for i, v in enumerate(vals)
            ]
            p.setPen(QPen(QColor("#3d6fd8"), 2))
            for a, b in itertools.pairwise(pts):
                p.drawLine(a, b)
            p.setBrush(QColor("#3d6fd8"))
            p.drawEllipse(pts[-1], 3, 3)
        p.end()


class QueueView(QWidget):
    """The quarantined memories: a multi-select list and the selected one's details."""

    def __init__(self, page: TrustReviewPage) -> None:
        super().__init__()
        self.page = page
        self.items: list[ReviewItem] = []
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        split = QSplitter()
        layout.addWidget(split)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        self.list = QListWidget()
        self.list.setObjectName("review-queue")
        self.list.setAccessibleName("Memories waiting for review")
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.setWordWrap(True)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.itemSelectionChanged.connect(self._selected)
        lv.addWidget(self.list, 1)
        self.hint = QLabel("Select several with Shift or Ctrl to act on all of them.")
        self.hint.setObjectName("hint")
        self.hint.setWordWrap(True)
        lv.addWidget(self.hint)
        split.addWidget(left)

        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(12, 0, 0, 0)
        self.heading = plain("")
        self.heading.setObjectName("subtitle")
        rv.addWidget(self.heading)
        src_row = QHBoxLayout()
        self.source = plain("")
        src_row.addWidget(self.source, 1)
        self.source_bar_holder = QHBoxLayout()
        src_row.addLayout(self.source_bar_holder)
        rv.addLayout(src_row)
        self.reasons = plain("")
        self.reasons.setObjectName("reasons")
        rv.addWidget(self.reasons)
        self.image = QLabel()
        self.image.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.image.setAccessibleName("Screenshot of the region")
        self.image.setObjectName("review-shot")
        self.image.hide()
        rv.addWidget(self.image)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setAccessibleName("Memory text")
        rv.addWidget(self.text, 1)
        buttons = QHBoxLayout()
        self.approve = QPushButton("Approve (A)")
        self.approve.setObjectName("primary")
        self.approve.setToolTip("It is fine: use it like any other memory.")
        self.approve.clicked.connect(self.page.approve_selected)
        self.reject = QPushButton("Reject (R)")
        self.reject.setObjectName("danger")
        self.reject.setToolTip("Erase it and trust its source less.")
        self.reject.clicked.connect(self.page.reject_selected)
        self.always = QPushButton("Always trust this source")
        self.always.clicked.connect(lambda: self.page.pin_selected("always"))
        self.never = QPushButton("Never trust this source")
        self.never.clicked.connect(lambda: self.page.pin_selected("never"))
        for b in (self.approve, self.reject):
            buttons.addWidget(b)
        buttons.addStretch(1)
        for b in (self.always, self.never):
            buttons.addWidget(b)
        rv.addLayout(buttons)
        split.addWidget(right)
        split.setSizes([340, 620])
        self._set_enabled(False)

    def _set_enabled(self, on: bool) -> None:
        for b in (self.approve, self.reject, self.always, self.never):
            b.setEnabled(on)

    def show_items(self, items: list[ReviewItem]) -> None:
        keep = set(self.selected_ids())
        self.items = items
        self.list.clear()
        for it in items:
            first = next((ln for ln in it.preview.splitlines() if ln.strip()), "")
            reason = it.reasons[0] if it.reasons else "Flagged"
            row = QListWidgetItem(f"{it.source}\n{when(it.time)}\n“{first[:80]}”\n⚠ {reason[:160]}")
            row.setData(Qt.ItemDataRole.UserRole, it.id)
            row.setToolTip(it.source)
            self.list.addItem(row)
            if it.id in keep:
                row.setSelected(True)
        if items and not self.list.selectedItems():
            self.list.setCurrentRow(0)
        self._selected()

    def selected_ids(self) -> list[int]:
        return [int(i.data(Qt.ItemDataRole.UserRole)) for i in self.list.selectedItems()]

    def selected(self) -> list[ReviewItem]:
        ids = set(self.selected_ids())
        return [it for it in self.items if it.id in ids]

    def _selected(self) -> None:
        chosen = self.selected()
        self._set_enabled(bool(chosen))
        while self.source_bar_holder.count():
            w = self.source_bar_holder.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        if not chosen:
            self.heading.setText("Nothing selected")
            self.source.setText("")
            self.reasons.setText("")
            self.text.setPlainText("")
            self.image.hide()
            return
        it = chosen[-1]
        many = f" ({len(chosen)} selected: buttons act on all)" if len(chosen) > 1 else ""
        self.heading.setText(f"{kind_words(it.kind)}, {when(it.time)}{many}")
        self.source.setText(f"Source: {it.source}")
        if it.source_trust is not None:
            self.source_bar_holder.addWidget(trust_bar(it.source_trust))
        self.reasons.setText("\n".join(f"⚠ {r}" for r in it.reasons) or "⚠ Flagged")
        self.text.setPlainText(it.preview)
        self.image.hide()
        self.image.clear()
        if it.media_id is not None:
            self.page.load_preview(it)

    def show_image(self, memory_id: int, data: bytes | None, region: dict[str, int] | None) -> None:
        chosen = self.selected()
        if not chosen or chosen[-1].id != memory_id or not data:
            return
        img = QImage.fromData(data)
        if img.isNull():
            return
        if region:
            rect = QRect(region["x"], region["y"], region["w"], region["h"]).intersected(img.rect())
            if not rect.isEmpty():
                img = img.copy(rect)
        pm = QPixmap.fromImage(img)
        if pm.width() > PREVIEW_MAX.width() or pm.height() > PREVIEW_MAX.height():
            pm = pm.scaled(
                PREVIEW_MAX,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        self.image.setPixmap(pm)
        self.image.show()


class SourcesView(QWidget):
    """Every source with a trust bar; the selected one's history as a sparkline and a list."""

    def __init__(self, page: TrustReviewPage) -> None:
        super().__init__()
        self.page = page
        self.sources: list[SourceInfo] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        split = QSplitter(Qt.Orientation.Vertical)
        layout.addWidget(split)
        self.tree = QTreeWidget()
        self.tree.setObjectName("trust-sources")
        self.tree.setAccessibleName("Sources and their trust")
        self.tree.setHeaderLabels(["Source", "Trust", "Waiting", "Memories", "Last write"])
        self.tree.setRootIsDecorated(False)
        self.tree.setColumnWidth(0, 360)
        self.tree.setColumnWidth(1, 160)
        self.tree.itemSelectionChanged.connect(self._selected)
        split.addWidget(self.tree)
        detail = QWidget()
        dv = QVBoxLayout(detail)
        dv.setContentsMargins(0, 6, 0, 0)
        row = QHBoxLayout()
        self.detail_title = plain("Select a source to see its history.")
        self.detail_title.setObjectName("subtitle")
        row.addWidget(self.detail_title, 1)
        self.always = QPushButton("Always trust")
        self.always.clicked.connect(lambda: self._pin("always"))
        self.never = QPushButton("Never trust")
        self.never.clicked.connect(lambda: self._pin("never"))
        self.clear = QPushButton("Use computed trust")
        self.clear.clicked.connect(lambda: self._pin(None))
        for b in (self.always, self.never, self.clear):
            b.setEnabled(False)
            row.addWidget(b)
        dv.addLayout(row)
        self.spark = Sparkline()
        dv.addWidget(self.spark)
        self.events = QListWidget()
        self.events.setAccessibleName("Trust history")
        dv.addWidget(self.events, 1)
        split.addWidget(detail)
        split.setSizes([300, 220])

    def show_sources(self, sources: list[SourceInfo]) -> None:
        current = self.current_id()
        self.sources = sources
        self.tree.clear()
        for s in sources:
            pin = PIN_WORDS.get(s.pinned or "", "")
            item = QTreeWidgetItem([f"{s.label}{pin}", "", str(s.quarantined or ""), str(s.writes)])
            item.setText(4, when(s.last_write) if s.last_write else "—")
            item.setData(0, Qt.ItemDataRole.UserRole, s.id)
            item.setToolTip(0, f"{s.identity} · Beta({s.alpha:.1f}, {s.beta:.1f})")
            self.tree.addTopLevelItem(item)
            self.tree.setItemWidget(item, 1, trust_bar(s.trust))
            if s.id == current:
                item.setSelected(True)

    def current_id(self) -> int | None:
        items = self.tree.selectedItems()
        return int(items[0].data(0, Qt.ItemDataRole.UserRole)) if items else None

    def _selected(self) -> None:
        sid = self.current_id()
        for b in (self.always, self.never, self.clear):
            b.setEnabled(sid is not None)
        if sid is None:
            return
        src = next((s for s in self.sources if s.id == sid), None)
        if src is not None:
            self.detail_title.setText(
                f"{src.label}: {round(src.trust * 100)} % trusted. {trust_sentence(src.trust)}."
            )
        self.page.load_history(sid)

    def show_history(self, source_id: int, events: list[dict[str, Any]]) -> None:
        if source_id != self.current_id():
            return
        values = [e["trust"] for e in events]
        if events:  # start from where the source stood before its first event
            e = events[0]
            a = e["alpha"] - e["d_alpha"]
            b = e["beta"] - e["d_beta"]
            if a > 0 and b > 0:
                values.insert(0, a / (a + b))
        self.spark.set_values(values)
        self.events.clear()
        for e in reversed(events):
            what = EVIDENCE_WORDS.get(e["evidence"], e["evidence"])
            extra = f" ({e['detail']})" if e["detail"] else ""
            mem = f" · memory {e['memory_id']}" if e["memory_id"] else ""
            self.events.addItem(f"{when(e['t'])} · {what}{extra}{mem} → {e['trust']:.2f}")
        if not events:
            self.events.addItem("No trust changes yet: it is at its starting value.")

    def _pin(self, pin: str | None) -> None:
        sid = self.current_id()
        if sid is not None:
            self.page.pin(sid, pin)


class TrustReviewPage(Page):
    title = TITLE
    count_changed = Signal(int)

    def __init__(self, services: Services, tasks: TaskRunner) -> None:
        super().__init__(services, tasks)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        heading = QLabel(TITLE)
        heading.setObjectName("title")
        layout.addWidget(heading)
        intro = QLabel(
            "Memories that read like instructions to an AI, or hide text from you, wait here. "
            "They are kept out of answers until you approve them. Rejecting erases the memory "
            "and trusts its source less."
        )
        intro.setObjectName("subtitle")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.status = QLabel("")
        self.status.setObjectName("hint")
        layout.addWidget(self.status)
        self.tabs = QTabWidget()
        self.queue = QueueView(self)
        self.empty = empty_state(
            "Nothing waits for review.\nSuspicious memories appear here as they are captured "
            "or imported."
        )
        self.queue_stack = QStackedWidget()
        self.queue_stack.addWidget(self.empty)
        self.queue_stack.addWidget(self.queue)
        self.sources = SourcesView(self)
        self.tabs.addTab(self.queue_stack, "Waiting for review")
        self.tabs.addTab(self.sources, "Sources")
        layout.addWidget(self.tabs, 1)
        self.count = 0
        for key, slot in (("A", self.approve_selected), ("R", self.reject_selected)):
            act = QAction(self)
            act.setShortcut(QKeySequence(key))
            act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            act.triggered.connect(slot)
            self.queue.list.addAction(act)
        self._busy = False

    # -- loading
    def refresh(self, changes: Changes | None = None) -> None:
        if not self.services.unlocked or self.services.trust is None:
            return
        if changes is not None and not (
            changes.trust or changes.memories_added or changes.memories_removed
        ):
            return
        trust = self.services.trust

        def load() -> tuple[list[ReviewItem], int, list[SourceInfo]]:
            return trust.queue(), trust.pending_count(), trust.sources()

        self.tasks.run(load, self._show, lambda e: self.status.setText(str(e)), owner=self)

    def _show(self, result: object) -> None:
        items, count, sources = result  # type: ignore[misc]
        self.queue.show_items(items)
        self.queue_stack.setCurrentWidget(self.queue if items else self.empty)
        self.tabs.setTabText(0, f"Waiting for review ({count})" if count else "Waiting for review")
        self.sources.show_sources(sources)
        if count != self.count:
            self.count = count
            self.count_changed.emit(count)

    def load_preview(self, item: ReviewItem) -> None:
        media = self.services.media
        if media is None or item.media_id is None:
            return
        media_id, mid, region = item.media_id, item.id, item.region
        self.tasks.run(
            lambda: media.load(media_id),
            lambda data: self.queue.show_image(mid, data, region),  # type: ignore[arg-type]
            lambda e: None,
            owner=self,
        )

    def load_history(self, source_id: int) -> None:
        trust = self.services.trust
        if trust is None:
            return
        self.tasks.run(
            lambda: trust.history(source_id),
            lambda events: self.sources.show_history(source_id, events),  # type: ignore[arg-type]
            lambda e: None,
            owner=self,
        )

    # -- deciding
    def _act(self, work: Callable[[], Any], message: Callable[[Any], str]) -> None:
        if self._busy:
            return
        self._busy = True
        self.queue._set_enabled(False)

        def done(result: object) -> None:
            self._busy = False
            self.status.setText(message(result))
            self.refresh()

        def failed(err: BaseException) -> None:
            self._busy = False
            self.status.setText(str(err))
            self.refresh()

        self.tasks.run(work, done, failed, owner=self)

    def approve_selected(self) -> None:
        ids, trust = self.queue.selected_ids(), self.services.trust
        if ids and trust is not None:
            self._act(
                lambda: trust.approve(ids),
                lambda r: f"Approved {len(r.done)} memories: they can be used in answers now.",
            )

    def reject_selected(self) -> None:
        ids, trust = self.queue.selected_ids(), self.services.trust
        if ids and trust is not None:
            self._act(
                lambda: trust.reject(ids),
                lambda r: (
                    f"Rejected and erased {len(r.done)} memories; their sources are trusted less."
                ),
            )

    def pin_selected(self, pin: str) -> None:
        sids = {it.source_id for it in self.queue.selected() if it.source_id is not None}
        for sid in sids:
            self.pin(sid, pin)

    def pin(self, source_id: int, pin: str | None) -> None:
        trust = self.services.trust
        if trust is None:
            return
        words = {"always": "always trusted", "never": "never trusted", None: "back to its score"}
        self._act(lambda: trust.set_pinned(source_id, pin), lambda r: f"Source {words[pin]}.")


class ReviewBadge:
    """The tray's share of trust review: an "attention" icon and "N memories to review" while
    anything waits, and a menu action that opens the review page."""

    def __init__(self, tray: Any, services: Services, tasks: TaskRunner) -> None:
        self.tray = tray
        self.services = services
        self.tasks = tasks
        self.count = 0
        self.action = QAction("Trust review")
        self.action.setVisible(False)
        tray.add_section([self.action])

    def update(self) -> None:
        trust = self.services.trust
        if trust is None:
            return
        self.tasks.run(trust.pending_count, self.show, lambda e: None, owner=self)

    def show(self, count: object) -> None:
        if not self.services.unlocked:
            return
        n = int(count)  # type: ignore[call-overload]
        self.count = n
        self.action.setVisible(n > 0)
        self.action.setText(f"Review {n:,} suspicious {'memory' if n == 1 else 'memories'}…")
        if n:
            self.tray.set_state("attention", f"{memories_phrase(n)} to review", part="review")
        else:
            self.tray.set_state("idle", "Unlocked", part="review")


class TrustSettingsBox(QWidget):
    """Settings → Trust: how many wait and a button to the review page."""

    def __init__(self, services: Services, tasks: TaskRunner) -> None:
        super().__init__()
        self.services = services
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.label = plain("Open Trust review to see quarantined memories and source trust.")
        row.addWidget(self.label, 1)
        button = QPushButton("Open Trust review")
        button.clicked.connect(self._open)
        row.addWidget(button)
        trust = services.trust
        if trust is not None:
            tasks.run(trust.pending_count, self._show, lambda e: None)

    def _show(self, count: object) -> None:
        n = int(count)  # type: ignore[call-overload]
        if n:
            self.label.setText(f"{n} memories wait for your review.")

    def _open(self) -> None:
        window = self.window()
        if hasattr(window, "show_page"):
            window.show_page(TITLE)

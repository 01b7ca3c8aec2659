"""The memory viewer: one memory in context (its conversation, or its full screen text with the
matched words marked), its provenance and trust, and a slot for its screenshot. Memory text
is inserted as plain characters, never parsed as HTML."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QRect, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QGuiApplication,
    QImage,
    QPainter,
    QPaintEvent,
    QPen,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
)
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from app.tasks import TaskRunner
from core.errors import UserFacingError
from core.types import CHAT, IMPORT_PREFIX, OK, QUARANTINED, Memory
from ui.result_list import (
    MARK_BG,
    Ranges,
    absolute_time,
    find_terms,
    relative_time,
    run_guarded,
    source_label,
)

# The memory engine and media services hang off `services` once unlocked; widgets reach them
# through these accessors so tests can hand in fakes and a locked store reads as None.
ServiceAccessor = Callable[[], Any]


def memory_of(services: object) -> ServiceAccessor:
    return lambda: (
        getattr(services, "memory", None) if getattr(services, "unlocked", True) else None
    )


def media_of(services: object) -> ServiceAccessor:
    return lambda: getattr(services, "media", None) if getattr(services, "unlocked", True) else None


@dataclass(slots=True)
class ViewerAction:
    """A button other features add to every viewer (e.g. erasure's "Forget this"):
    `handler(viewer, memory)` runs on the GUI thread; long work goes through viewer.tasks.
    An action that erased the memory emits `viewer.forgotten.emit(memory.id)` (the list it
    came from refreshes) and closes the viewer."""

    label: str
    handler: Callable[[MemoryViewer, Memory], None]
    object_name: str = ""


# Features append here at start-up; each viewer shows them left of Copy/Close.
VIEWER_ACTIONS: list[ViewerAction] = []

Rect = QRect | tuple[int, int, int, int]


class ScreenshotView(QWidget):
    """Shows an image scaled to fit, with boxes (in image pixels) marked over it."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("screenshot")
        self.image = QImage()
        self.rects: list[QRect] = []
        self.setMinimumHeight(160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_image(self, image: QImage, rects: list[Rect]) -> None:
        self.image = image
        self.rects = [r if isinstance(r, QRect) else QRect(*r) for r in rects]
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(640, 360)

    def image_rect(self) -> QRectF:
        if self.image.isNull():
            return QRectF()
        avail = QRectF(self.rect()).adjusted(4, 4, -4, -4)
        scale = min(avail.width() / self.image.width(), avail.height() / self.image.height())
        w, h = self.image.width() * scale, self.image.height() * scale
        return QRectF(avail.center().x() - w / 2, avail.center().y() - h / 2, w, h)

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        p.fillRect(self.rect(), QColor("#e9ecf2"))
        target = self.image_rect()
        if not target.isNull():
            p.drawImage(target, self.image)
            sx = target.width() / self.image.width()
            p.setPen(QPen(QColor("#d93025"), 2))
            p.setBrush(QBrush(QColor(255, 214, 0, 70)))
            for r in self.rects:
                p.drawRect(
                    QRectF(
                        target.left() + r.x() * sx - 2,
                        target.top() + r.y() * sx - 2,
                        r.width() * sx + 4,
                        r.height() * sx + 4,
                    )
                )
        p.end()


def _plain_label(object_name: str, wrap: bool = True) -> QLabel:
    label = QLabel()
    label.setObjectName(object_name)
    label.setTextFormat(Qt.TextFormat.PlainText)  # memory fields are data, never markup
    label.setWordWrap(wrap)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def insert_marked(
    cursor: QTextCursor, text: str, ranges: Ranges, base: QTextCharFormat, mark: QTextCharFormat
) -> None:
    """Insert text as characters with the ranges in the mark format."""
    pos = 0
    for start, length in sorted(ranges):
        if start < pos:
            continue
        if start > pos:
            cursor.insertText(text[pos:start], base)
        cursor.insertText(text[start : start + length], mark)
        pos = start + length
    if pos < len(text):
        cursor.insertText(text[pos:], base)


def trust_sentence(trust: float) -> str:
    """What a trust score means, in words (the number itself is on the Trust review page)."""
    if trust >= 0.75:
        return "Trusted source: nothing from it has tried to instruct an AI"
    if trust >= 0.45:
        return "Source with no reason for doubt so far"
    return (
        "Less trusted source: some of what it showed read like instructions to an AI, "
        "so it counts for less in answers"
    )


def is_conversation(m: Memory) -> bool:
    return m.kind == CHAT or m.kind.startswith(IMPORT_PREFIX) or bool(m.conversation)


class MemoryViewer(QDialog):
    """Open with `MemoryViewer(memory, media, tasks, memory_id, terms)` then `show()`. It loads
    the memory and its neighbours on the task runner. `loaded` fires when shown."""

    loaded = Signal(object)  # the Memory, or None when it no longer exists
    forgotten = Signal(int)  # a plug-in action erased this memory; lists should refresh

    def __init__(
        self,
        memory: ServiceAccessor,
        media: ServiceAccessor,
        tasks: TaskRunner,
        memory_id: int,
        terms: list[str] | None = None,
        parent: QWidget | None = None,
        now: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(parent)
        import time

        self.memory_service = memory
        self.media_service = media
        self.tasks = tasks
        self.memory_id = memory_id
        self.terms = list(terms or [])
        self.now = now or time.time
        self.memory: Memory | None = None
        self.seen = 1  # near-identical memories the search grouped into this one
        self.neighbours: list[Memory] = []
        self.setObjectName("memoryViewer")
        self.setWindowTitle("Memory")
        self.resize(820, 640)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.setSpacing(6)
        self.heading = _plain_label("viewerTitle")
        self.heading.setText("Loading…")
        layout.addWidget(self.heading)
        self.meta = _plain_label("viewerMeta")
        layout.addWidget(self.meta)
        self.provenance = _plain_label("viewerMeta")
        layout.addWidget(self.provenance)
        self.review = _plain_label("warning")
        self.review.hide()
        layout.addWidget(self.review)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.screenshot = ScreenshotView()
        self.screenshot.hide()
        self.splitter.addWidget(self.screenshot)
        self.text = QTextEdit()
        self.text.setObjectName("viewerText")
        self.text.setReadOnly(True)
        self.text.setAcceptRichText(False)
        self.text.setUndoRedoEnabled(False)
        self.splitter.addWidget(self.text)
        self.splitter.setChildrenCollapsible(False)
        layout.addWidget(self.splitter, 1)

        buttons = QHBoxLayout()
        self.action_buttons: list[QPushButton] = []
        for action in VIEWER_ACTIONS:
            b = QPushButton(action.label)
            if action.object_name:
                b.setObjectName(action.object_name)
            b.setEnabled(False)
            b.clicked.connect(lambda _=False, a=action: self._run_action(a))
            buttons.addWidget(b)
            self.action_buttons.append(b)
        buttons.addStretch(1)
        self.copy_button = QPushButton("Copy text")
        self.copy_button.setEnabled(False)
        self.copy_button.clicked.connect(self.copy_text)
        buttons.addWidget(self.copy_button)
        self.close_button = QPushButton("Close")
        self.close_button.setObjectName("primary")
        self.close_button.clicked.connect(self.close)
        buttons.addWidget(self.close_button)
        layout.addLayout(buttons)
        self.load()

    # -- loading ------------------------------------------------------------------------------
    def present(self) -> None:
        """Show as a dialog of its parent window, in front, with the keyboard (Esc, Ctrl+C)."""
        self.setWindowFlag(Qt.WindowType.Dialog)
        self.show()
        self.raise_()
        self.activateWindow()

    def load(self) -> None:
        service = self.memory_service()
        if service is None:
            self._show_message("Mnemo is locked. Unlock it to see this memory.")
            return
        mid = self.memory_id

        def fetch() -> tuple[Memory | None, list[Memory]]:
            m = service.get(mid)
            return m, (service.neighbours(mid) if m is not None else [])

        run_guarded(self.tasks, self, fetch, self._loaded, self._failed)

    def _failed(self, err: BaseException) -> None:
        if isinstance(err, UserFacingError):
            self._show_message(str(err))
        else:
            self._show_message("This memory could not be opened.")  # the runner reports the bug
        self.loaded.emit(None)

    def _show_message(self, text: str) -> None:
        self.heading.setText(text)
        self.meta.clear()
        self.provenance.clear()
        self.text.clear()

    def _loaded(self, result: tuple[Memory | None, list[Memory]]) -> None:
        m, around = result
        if m is None:
            self._show_message("This memory is no longer there; it may have been forgotten.")
            self.loaded.emit(None)
            return
        self.memory = m
        self.neighbours = around or [m]
        self._show_header(m)
        if is_conversation(m):
            self._show_conversation(m, self.neighbours)
        else:
            self._show_full_text(m)
        self.copy_button.setEnabled(True)
        for b in self.action_buttons:
            b.setEnabled(True)
        if m.media_id is not None:
            self._load_screenshot(m)
        self.loaded.emit(m)

    def _show_header(self, m: Memory) -> None:
        now = self.now()
        self.setWindowTitle(f"Memory — {m.title or m.conversation or source_label(m.kind)}")
        self.heading.setText(m.title or m.conversation or m.app or source_label(m.kind))
        meta = [
            f"{absolute_time(m.time, now)} ({relative_time(m.time, now)})",
            source_label(m.kind),
        ]
        if m.app:
            meta.append(m.app)
        if m.domain:
            meta.append(m.domain)
        self.meta.setText(" · ".join(meta))
        prov = []
        if m.author:
            prov.append(f"From {m.author}")
        if m.conversation:
            prov.append(f"in “{m.conversation}”")
        if m.file:
            prov.append(f"imported from {m.file}")
        prov.append(trust_sentence(m.trust))
        if self.seen > 1:
            prov.append(f"seen {self.seen} times (near-identical captures)")
        self.provenance.setText(" · ".join(prov))
        if m.status != OK:
            why = "; ".join(m.reasons) if m.reasons else "no reason recorded"
            lead = "Held for review, not used in answers" if m.status == QUARANTINED else "Rejected"
            self.review.setText(f"{lead}: {why}")
            self.review.show()

    def _formats(self) -> tuple[QTextCharFormat, QTextCharFormat, QTextCharFormat, QTextCharFormat]:
        base = QTextCharFormat()
        base.setForeground(QBrush(QColor("#1d2433")))
        mark = QTextCharFormat(base)
        mark.setBackground(QBrush(MARK_BG))
        mark.setFontWeight(QFont.Weight.Bold)
        name = QTextCharFormat(base)
        name.setFontWeight(QFont.Weight.DemiBold)
        muted = QTextCharFormat()
        muted.setForeground(QBrush(QColor("#6b7385")))
        return base, mark, name, muted

    def _show_conversation(self, opened: Memory, messages: list[Memory]) -> None:
        base, mark, name, muted = self._formats()
        doc = self.text.document()
        doc.clear()
        cursor = QTextCursor(doc)
        now = self.now()
        opened_pos = 0
        for i, m in enumerate(messages):
            here = m.id == opened.id
            head = QTextBlockFormat()
            head.setTopMargin(0 if i == 0 else 10)
            body = QTextBlockFormat()
            body.setLeftMargin(8)
            if here:
                head.setBackground(QBrush(QColor("#eaf0fd")))
                body.setBackground(QBrush(QColor("#eaf0fd")))
            if i == 0:
                cursor.setBlockFormat(head)
            else:
                cursor.insertBlock(head)
            if here:
                opened_pos = cursor.position()
            cursor.insertText(m.author or source_label(m.kind), name)
            cursor.insertText("   " + absolute_time(m.time, now), muted)
            cursor.insertBlock(body)
            ranges = find_terms(m.text, self.terms) if here else []
            insert_marked(cursor, m.text, ranges, base, mark)
        self._scroll_to(opened_pos)

    def _show_full_text(self, m: Memory) -> None:
        base, mark, _, _ = self._formats()
        doc = self.text.document()
        doc.clear()
        cursor = QTextCursor(doc)
        ranges = find_terms(m.text, self.terms)
        insert_marked(cursor, m.text, ranges, base, mark)
        self._scroll_to(ranges[0][0] if ranges else 0)

    def _scroll_to(self, pos: int) -> None:
        c = self.text.textCursor()
        c.setPosition(min(pos, len(self.text.document().toPlainText())))
        self.text.setTextCursor(c)
        QTimer.singleShot(0, self.text.ensureCursorVisible)

    # -- screenshot ---------------------------------------------------------------------------
    def _load_screenshot(self, m: Memory) -> None:
        media = self.media_service()
        if media is None or not hasattr(media, "load_image") or m.media_id is None:
            return
        media_id, mid, terms = m.media_id, m.id, list(self.terms)

        def fetch() -> tuple[bytes, list[Rect]]:
            data = media.load_image(media_id)
            rects: list[Rect] = []
            if hasattr(media, "match_boxes"):
                rects = list(media.match_boxes(mid, terms))
            return data, rects

        def failed(err: BaseException) -> None:
            self.screenshot.hide()

        run_guarded(self.tasks, self, fetch, lambda r: self.show_screenshot(r[0], r[1]), failed)

    def show_screenshot(self, image_bytes: bytes, highlight_rects: list[Rect]) -> None:
        """Show an image (PNG/JPEG/WebP bytes) above the text, boxes in image pixels marked."""
        image = QImage.fromData(image_bytes)
        if image.isNull():
            self.screenshot.hide()
            return
        self.screenshot.set_image(image, highlight_rects)
        self.screenshot.show()
        self.splitter.setSizes([int(self.height() * 0.6), int(self.height() * 0.25)])

    # -- actions ------------------------------------------------------------------------------
    def copy_text(self) -> None:
        if self.memory is not None:
            QGuiApplication.clipboard().setText(self.memory.text)
            self.copy_button.setText("Copied")
            QTimer.singleShot(1500, self.copy_button, lambda: self.copy_button.setText("Copy text"))

    def _run_action(self, action: ViewerAction) -> None:
        if self.memory is not None:
            action.handler(self, self.memory)

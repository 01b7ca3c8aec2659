"""The chat window: ask the assistant about your memories. Answers stream in as message bubbles
with citation chips that open the memory; past conversations are in a sidebar. It is the
"Chat" page of the main window (the tray's "Ask Mnemo…", Ctrl+Alt+M on X11 and Ctrl+J bring it
forward) rather than a second top-level window: locking deletes the main window, so the chat
goes with every other content view, and there is one window to find. ChatPanel is a plain
widget, so a pop-out window later is a few lines.

Answer text is untrusted (it may echo captured text): it goes through a small Markdown
renderer that escapes everything first, and is shown in a text browser that never loads a
resource or follows a link."""

from __future__ import annotations

import html
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QAction,
    QGuiApplication,
    QKeyEvent,
    QKeySequence,
    QResizeEvent,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.services import Changes, Services
from app.tasks import Cancel, Lane, OpContext, TaskRunner, user_message
from core.errors import UserFacingError
from ui.memory_viewer import MemoryViewer, ServiceAccessor, media_of, memory_of
from ui.page import Page
from ui.result_list import relative_time, run_guarded, source_label

log = logging.getLogger(__name__)

CHIPS_PER_ROW = 4

STATUS_TEXT = {
    "not_loaded": "The model loads when you ask your first question.",
    "loading": "Loading the model…",
    "ready": "Ready. Answers come only from your memories, with sources.",
    "busy": "Thinking…",
    "restarting": "The model stopped; restarting…",
    "failed": "The model could not start. Choose another model file in Settings → Models.",
}
LOCKED = "Mnemo is locked. Unlock it to ask about your memories."
NO_ASSISTANT = (
    "The assistant is not running yet; it starts shortly after unlocking. If this message "
    "stays, check the model in Settings → Models."
)
NOT_FOUND_NOTE = "Your memories do not seem to contain the answer."
RELATED_TOOLTIP = "Matches the question but does not hold the answer"


def assistant_of(services: object) -> ServiceAccessor:
    """The assistant hangs off `services` once unlocked (None while locked or not wired)."""
    return lambda: (
        getattr(services, "assistant", None) if getattr(services, "unlocked", True) else None
    )


# -- safe Markdown ---------------------------------------------------------------------------
_FENCE = re.compile(r"^\s*```")
_BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*(\d{1,3})[.)]\s+(.*)$")
_HEADING = re.compile(r"^\s*#{1,6}\s+(.*)$")
_IMAGE = re.compile(r"!\[([^\]\n]*)\]\(([^)\n]*)\)")
_LINK = re.compile(r"(?<!!)\[([^\]\n]+)\]\(([^)\s\n]+)\)")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__")
_ITALIC = re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])|(?<!\w)_(?=\S)(.+?)(?<=\S)_(?!\w)")
_CITE = re.compile(r"\[(\d{1,3})\]")
_CODE_SPAN = re.compile(r"`([^`\n]+)`")

CITE_STYLE = "color:#2f5cc0; text-decoration:none; font-weight:600;"
CODE_STYLE = "font-family:monospace; background-color:#eef0f4;"


def _inline(raw: str, cite: bool) -> str:
    """One line of text to HTML: everything escaped; code, bold, italic and [n] marked up by
    us. Images and links stay visible as text and never become tags or anchors."""
    out: list[str] = []
    pos = 0
    for m in _CODE_SPAN.finditer(raw):
        out.append(_styled(raw[pos : m.start()], cite))
        out.append(f'<span style="{CODE_STYLE}">{html.escape(m.group(1))}</span>')
        pos = m.end()
    out.append(_styled(raw[pos:], cite))
    return "".join(out)


def _styled(raw: str, cite: bool) -> str:
    # A Markdown image is shown as its literal text; a link as "text (address)". Neither is
    # ever fetched or followed.
    raw = _LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})", raw)
    text = html.escape(raw, quote=True)
    text = _BOLD.sub(lambda m: f"<b>{m.group(1) or m.group(2)}</b>", text)
    text = _ITALIC.sub(lambda m: f"<i>{m.group(1) or m.group(2)}</i>", text)
    if cite:
        text = _CITE.sub(
            lambda m: f'<a href="cite:{m.group(1)}" style="{CITE_STYLE}">[{m.group(1)}]</a>', text
        )
    return text


def render_markdown(text: str, cite: bool = True) -> str:
    """Plain text with light Markdown (paragraphs, **bold**, *italic*, `code`, fenced code,
    - bullets, 1. numbered lists, # headings) to HTML in which every character of the input is
    escaped. With `cite`, [n] becomes an in-document anchor `cite:n` (the only anchors made)."""
    blocks: list[str] = []
    para: list[str] = []
    items: list[str] = []
    list_tag = ""
    code: list[str] | None = None

    def end_para() -> None:
        if para:
            blocks.append("<p>" + "<br>".join(_inline(p, cite) for p in para) + "</p>")
            para.clear()

    def end_list() -> None:
        nonlocal list_tag
        if items:
            blocks.append(f"<{list_tag}>" + "".join(items) + f"</{list_tag}>")
            items.clear()
        list_tag = ""

    for line in text.replace("\r\n", "\n").split("\n"):
        if code is not None:
            if _FENCE.match(line):
                blocks.append(
                    f'<pre style="{CODE_STYLE}">' + html.escape("\n".join(code)) + "</pre>"
                )
                code = None
            else:
                code.append(line)
            continue
        if _FENCE.match(line):
            end_para()
            end_list()
            code = []
            continue
        bullet, numbered = _BULLET.match(line), _NUMBERED.match(line)
        if bullet or numbered:
            end_para()
            tag = "ul" if bullet else "ol"
            if list_tag and list_tag != tag:
                end_list()
            list_tag = tag
            body = bullet.group(1) if bullet else numbered.group(2)  # type: ignore[union-attr]
            items.append("<li>" + _inline(body, cite) + "</li>")
            continue
        if not line.strip():
            end_para()
            end_list()
            continue
        heading = _HEADING.match(line)
        if heading:
            end_para()
            end_list()
            blocks.append("<p><b>" + _inline(heading.group(1), cite) + "</b></p>")
            continue
        if items:
            end_list()
        para.append(line.strip())
    if code is not None:  # an unfinished fence while streaming
        blocks.append(f'<pre style="{CODE_STYLE}">' + html.escape("\n".join(code)) + "</pre>")
    end_para()
    end_list()
    return "".join(blocks)


class SafeTextBrowser(QTextBrowser):
    """A text browser that never fetches anything: links are not followed (only our own
    `cite:` anchors are reported through `cite_clicked`) and every resource (image, style
    sheet) is refused. Refused addresses are kept in `refused` for tests."""

    cite_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.refused: list[str] = []
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.anchorClicked.connect(self._anchor)

    def loadResource(self, type: int, name: QUrl) -> Any:
        self.refused.append(name.toString())
        return None

    def _anchor(self, url: QUrl) -> None:
        if url.scheme() == "cite" and url.path().isdigit():
            self.cite_clicked.emit(int(url.path()))


class AnswerText(SafeTextBrowser):
    """The body of a bubble: as tall as its text, no scroll bars of its own."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("answerText")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.document().setDocumentMargin(2)
        self.document().setIndentWidth(18)  # lists: a small indent suits a bubble
        self.document().contentsChanged.connect(self._fit)

    def _fit(self) -> None:
        self.document().setTextWidth(self.viewport().width())
        h = int(self.document().size().height() + 0.999)
        m = self.contentsMargins()
        self.setFixedHeight(max(h, 18) + m.top() + m.bottom())

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._fit()  # laid out at its real width only once shown

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self._fit()

    def sizeHint(self) -> QSize:
        return QSize(400, self.height())


# -- bubbles ---------------------------------------------------------------------------------
def _button_text(text: str) -> str:
    return text.replace("&", "&&")  # '&' would otherwise be eaten as a mnemonic


CHIP_TITLE_CHARS = 32


def chip_label(c: Any, now: float) -> str:
    """'[1] Mail - Inbox · just now': the window's title says what the user saw (the process
    behind a captured window is often only "python" or "java"); else the app, else the source."""
    title = " ".join((c.title or "").split())
    if len(title) > CHIP_TITLE_CHARS:
        title = title[: CHIP_TITLE_CHARS - 1].rstrip() + "…"
    where = title or c.app or source_label(c.source)
    # A related memory has no [n]: it is not a source of the answer.
    mark = f"[{c.n}] " if getattr(c, "n", None) is not None else ""
    return f"{mark}{where} · {relative_time(c.time, now)}"


def chip_tooltip(c: Any, lead: str = "") -> str:
    # Tooltips guess rich text; escaping inside <qt> makes memory text plain characters.
    head = " · ".join(x for x in (source_label(c.source), c.app, c.title) if x)
    first = f"{html.escape(lead)}<br>" if lead else ""
    return f"<qt>{first}<b>{html.escape(head)}</b><br>{html.escape(c.snippet[:400])}</qt>"


class QuestionBubble(QFrame):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.setObjectName("userBubble")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        self.label = QLabel(text)
        self.label.setObjectName("userText")
        self.label.setTextFormat(Qt.TextFormat.PlainText)  # typed text is never markup
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.label)
        # A wrapped QLabel guesses a narrow width and grows tall; a bubble is as wide as its
        # text (up to the width the transcript allows) and exactly as tall as that needs.
        self.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        m = self.layout().contentsMargins()
        natural = self.label.fontMetrics().horizontalAdvance(self.label.text()) + 4
        width = min(self.maximumWidth() - m.left() - m.right(), natural)
        width = max(width, 40)
        return QSize(
            width + m.left() + m.right(), self.label.heightForWidth(width) + m.top() + m.bottom()
        )

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        m = self.layout().contentsMargins()
        inner = max(40, width - m.left() - m.right())
        return self.label.heightForWidth(inner) + m.top() + m.bottom()


class AnswerBubble(QFrame):
    """One answer: streamed text, then citation chips, a quieter row of related memories
    (matching the question without holding the answer), a note line and Copy."""

    open_citation = Signal(int)  # memory id
    save_turn = Signal(int)  # the stored answer's memory id

    def __init__(self, now: Callable[[], float]) -> None:
        super().__init__()
        self.now = now
        self.text = ""
        self.citations: list[Any] = []
        self.related: list[Any] = []
        self.state = "streaming"  # streaming | done | not_found | stopped | error
        self.setObjectName("answerBubble")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.setSpacing(6)
        self.body = AnswerText()
        self.body.cite_clicked.connect(self._cite)
        layout.addWidget(self.body)
        self.chips_box = QWidget()
        self.chips = QGridLayout(self.chips_box)
        self.chips.setContentsMargins(0, 0, 0, 0)
        self.chips.setHorizontalSpacing(6)
        self.chips.setVerticalSpacing(4)
        self.chips_box.hide()
        layout.addWidget(self.chips_box)
        self.related_box = QWidget()
        self.related_box.setObjectName("relatedRow")
        self.related_chips = QGridLayout(self.related_box)
        self.related_chips.setContentsMargins(0, 0, 0, 0)
        self.related_chips.setHorizontalSpacing(6)
        self.related_chips.setVerticalSpacing(4)
        self.related_label = QLabel("Related")
        self.related_label.setObjectName("relatedLabel")
        self.related_label.setToolTip(RELATED_TOOLTIP)
        self.related_chips.addWidget(self.related_label, 0, 0)
        self.related_box.hide()
        layout.addWidget(self.related_box)
        foot = QHBoxLayout()
        foot.setContentsMargins(0, 0, 0, 0)
        self.note = QLabel()
        self.note.setObjectName("answerNote")
        self.note.setTextFormat(Qt.TextFormat.PlainText)
        self.note.setWordWrap(True)
        self.note.hide()
        foot.addWidget(self.note, 1)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setObjectName("link")
        self.copy_button.setToolTip("Copy the answer")
        self.copy_button.clicked.connect(self.copy)
        self.copy_button.hide()
        self.save_button = QPushButton("Save as memory")
        self.save_button.setObjectName("link")
        self.save_button.setToolTip(
            "Keep this answer as a memory of its own (chat answers are not memories otherwise)"
        )
        self.save_button.clicked.connect(self._save)
        self.save_button.hide()
        self.saved_id: int | None = None
        foot.addStretch(0)
        foot.addWidget(self.save_button)
        foot.addWidget(self.copy_button)
        layout.addLayout(foot)
        self.chip_buttons: list[QPushButton] = []
        self.related_buttons: list[QPushButton] = []
        self.set_text("")

    def set_text(self, text: str) -> None:
        self.text = text
        shown = text if text or self.state != "streaming" else "…"
        self.body.setHtml(render_markdown(shown, cite=bool(self.citations)))

    def set_state(self, state: str, note: str = "") -> None:
        self.state = state
        self.setProperty("state", state)
        self.style().unpolish(self)
        self.style().polish(self)
        for w in (self.body, self.note):
            w.style().unpolish(w)
            w.style().polish(w)
        self.note.setText(note)
        self.note.setVisible(bool(note))
        self.copy_button.setVisible(bool(self.text.strip()))
        # A new style (the italic of "not found") lays the text out anew: fit its height again,
        # or the bubble keeps the height of the text as first laid out.
        self.body._fit()

    def _memory_chip(self, m: Any, now: float, name: str, tip: str, spoken: str) -> QPushButton:
        """A chip for a cited or related memory (`name` picks its style) that opens it."""
        b = QPushButton(_button_text(chip_label(m, now)))
        b.setObjectName(name)
        b.setToolTip(tip)
        b.setCursor(Qt.CursorShape.PointingHandCursor)
        b.setAccessibleName(spoken)
        b.clicked.connect(lambda _=False, mid=m.memory_id: self.open_citation.emit(mid))
        return b

    def set_citations(self, citations: list[Any]) -> None:
        self.citations = list(citations)
        for b in self.chip_buttons:
            b.deleteLater()
        self.chip_buttons = []
        now = self.now()
        for i, c in enumerate(self.citations):
            b = self._memory_chip(c, now, "citeChip", chip_tooltip(c), f"Source {c.n}")
            self.chips.addWidget(b, i // CHIPS_PER_ROW, i % CHIPS_PER_ROW)
            self.chip_buttons.append(b)
        self.chips.setColumnStretch(CHIPS_PER_ROW, 1)
        self.chips_box.setVisible(bool(self.citations))
        self.set_text(self.text)  # [n] in the text become clickable now that they are known

    def set_related(self, related: list[Any]) -> None:
        """The memories that match the question without holding the answer: chips apart from
        the citations (no [n], a quieter style), opening the memory as a citation chip does."""
        self.related = list(related)
        for b in self.related_buttons:
            b.deleteLater()
        self.related_buttons = []
        now = self.now()
        for i, r in enumerate(self.related):
            tip = chip_tooltip(r, RELATED_TOOLTIP)
            b = self._memory_chip(r, now, "relatedChip", tip, f"Related memory {i + 1}")
            self.related_chips.addWidget(b, i // CHIPS_PER_ROW, 1 + i % CHIPS_PER_ROW)
            self.related_buttons.append(b)
        self.related_chips.setColumnStretch(CHIPS_PER_ROW + 1, 1)
        self.related_box.setVisible(bool(self.related))

    def set_saveable(self, memory_id: int | None) -> None:
        self.saved_id = memory_id
        self.save_button.setVisible(memory_id is not None and self.state != "not_found")

    def _save(self) -> None:
        if self.saved_id is not None:
            self.save_turn.emit(self.saved_id)
            self.save_button.setText("Saved")
            self.save_button.setEnabled(False)

    def _cite(self, n: int) -> None:
        for c in self.citations:
            if c.n == n:
                self.open_citation.emit(c.memory_id)
                return

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.text)
        self.copy_button.setText("Copied")
        QTimer.singleShot(1500, self.copy_button, lambda: self.copy_button.setText("Copy"))


class Transcript(QScrollArea):
    """The conversation, newest at the bottom; follows the stream unless the user scrolled up."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("transcript")
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        inner = QWidget()
        inner.setObjectName("transcriptInner")
        self.column = QVBoxLayout(inner)
        self.column.setContentsMargins(16, 16, 16, 16)
        self.column.setSpacing(12)
        self.column.addStretch(1)
        self.setWidget(inner)
        self.follow = True
        self._mine: list[QWidget] = []  # question bubbles: as wide as their text, up to 75 %
        bar = self.verticalScrollBar()
        bar.valueChanged.connect(self._scrolled)
        bar.rangeChanged.connect(self._range)

    def _scrolled(self, value: int) -> None:
        self.follow = value >= self.verticalScrollBar().maximum() - 24

    def _range(self, _lo: int, hi: int) -> None:
        if self.follow:
            self.verticalScrollBar().setValue(hi)

    def add(self, bubble: QWidget, mine: bool) -> None:
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        if mine:
            row.addStretch(1)
            bubble.setMaximumWidth(self._question_width())
            row.addWidget(bubble)
            self._mine.append(bubble)
        else:
            row.addWidget(bubble, 6)
            row.addStretch(1)
        self.column.addLayout(row)

    def _question_width(self) -> int:
        return max(int(self.viewport().width() * 0.75), 200)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        width = self._question_width()
        for b in self._mine:
            b.setMaximumWidth(width)
            b.updateGeometry()

    def bubbles(self) -> list[QWidget]:
        out = []
        for i in range(self.column.count()):
            row = self.column.itemAt(i).layout()
            if row is None:
                continue
            for j in range(row.count()):
                w = row.itemAt(j).widget()
                if w is not None:
                    out.append(w)
        return out

    def clear(self) -> None:
        # Only the rows go: the items before them (the stretch that keeps each row at its own
        # height, and whatever a page put above it) stay, or the next bubble is stretched over
        # the whole transcript.
        while self.column.count() > 0:
            row = self.column.itemAt(self.column.count() - 1).layout()
            if row is None:
                break
            self.column.takeAt(self.column.count() - 1)
            while row.count():
                w = row.takeAt(0).widget()
                if w is not None:
                    w.deleteLater()
            row.deleteLater()
        self._mine = []
        self.follow = True


class QuestionBox(QPlainTextEdit):
    """Enter sends; Shift+Enter starts a new line."""

    submitted = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("questionBox")
        self.setPlaceholderText("Ask about anything you saw, read or wrote… (Enter to send)")
        self.setAccessibleName("Question")
        self.setTabChangesFocus(True)
        self.setFixedHeight(74)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
            event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        ):
            self.submitted.emit()
            return
        super().keyPressEvent(event)


# -- the panel -------------------------------------------------------------------------------
class ChatPanel(QWidget):
    """Conversations on the left, the transcript and the question box on the right."""

    answered = Signal(object)  # the Answer (or an error) once a request is over
    viewer_opened = Signal(object)  # the MemoryViewer just opened
    conversation_loaded = Signal(int)

    def __init__(
        self,
        services: object,
        tasks: TaskRunner,
        assistant: ServiceAccessor | None = None,
        memory: ServiceAccessor | None = None,
        media: ServiceAccessor | None = None,
        now: Callable[[], float] | None = None,
    ) -> None:
        super().__init__()
        self.services = services
        self.tasks = tasks
        self.assistant = assistant or assistant_of(services)
        self.memory = memory or memory_of(services)
        self.media = media or media_of(services)
        self.now = now or time.time
        self.conversation_id: int | None = None
        self.busy = False
        self.viewer: MemoryViewer | None = None
        self.renders = 0  # bubble redraws while streaming (coalescing is measurable)
        self._request = 0
        self._cancel: Cancel | None = None
        self._current: AnswerBubble | None = None
        self._stream: list[str] = []
        self._model_state = ""
        self._error = ""  # the last request's error stays in view until the next question
        self._polling = False
        self._status_again = False  # a refresh came while a fetch was on its way
        self._preloaded = False
        # Streamed pieces arrive as the op's items: batched, one queued signal pending at a
        # time, so a fast model means fewer, larger redraws, never one signal per token.
        # Closing the window (on lock) stops a running answer: the model does not go on
        # generating for nobody. A plain holder, as `self` is gone when `destroyed` fires.
        running: list[Cancel] = []
        self._running = running
        self.destroyed.connect(lambda *_: [e.set() for e in running])

        outer = QHBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        side = QWidget()
        side.setObjectName("chatSidebar")
        side.setFixedWidth(230)
        sl = QVBoxLayout(side)
        sl.setContentsMargins(12, 14, 12, 12)
        sl.setSpacing(8)
        self.new_button = QPushButton("New conversation")
        self.new_button.setToolTip("Start a new conversation (Ctrl+N)")
        self.new_button.clicked.connect(self.new_conversation)
        sl.addWidget(self.new_button)
        history_label = QLabel("Past conversations")
        history_label.setObjectName("sectionTitle")
        sl.addWidget(history_label)
        self.history = QListWidget()
        self.history.setObjectName("chatHistory")
        self.history.setAccessibleName("Past conversations")
        self.history.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.history.itemActivated.connect(self._history_chosen)
        self.history.itemClicked.connect(self._history_chosen)
        sl.addWidget(self.history, 1)
        self.delete_button = QPushButton("Delete conversation")
        self.delete_button.setObjectName("danger")
        self.delete_button.setEnabled(False)
        self.delete_button.clicked.connect(self._delete_chosen)
        sl.addWidget(self.delete_button)
        outer.addWidget(side)

        main = QWidget()
        ml = QVBoxLayout(main)
        ml.setContentsMargins(20, 14, 20, 14)
        ml.setSpacing(8)
        head = QHBoxLayout()
        heading = QLabel("Ask Mnemo")
        heading.setObjectName("title")
        head.addWidget(heading)
        head.addStretch(1)
        ml.addLayout(head)
        self.status = QLabel()
        self.status.setObjectName("chatStatus")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        ml.addWidget(self.status)
        self.transcript = Transcript()
        ml.addWidget(self.transcript, 1)
        self.empty = QLabel(
            "Ask a question about what you have seen, read or written — for example "
            "“What was the total of the invoice from last week?”. Answers cite the memories "
            "they come from; click a source to open it."
        )
        self.empty.setObjectName("empty")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.transcript.column.insertWidget(0, self.empty)
        row = QHBoxLayout()
        self.box = QuestionBox()
        self.box.submitted.connect(self.send)
        row.addWidget(self.box, 1)
        self.send_button = QPushButton("Ask")
        self.send_button.setObjectName("primary")
        self.send_button.setToolTip("Send (Enter)")
        self.send_button.clicked.connect(self.send)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stop")
        self.stop_button.setToolTip("Stop the answer (Esc)")
        self.stop_button.clicked.connect(self.stop)
        self.stop_button.hide()
        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        row.addLayout(buttons)
        ml.addLayout(row)
        hint = QLabel("Enter sends · Shift+Enter new line · Esc stops · Ctrl+N new conversation")
        hint.setObjectName("hint")
        ml.addWidget(hint)
        outer.addWidget(main, 1)
        self.setFocusProxy(self.box)

        for keys, slot in (
            (("Ctrl+N",), self.new_conversation),
            (("Esc",), self.stop),
        ):
            act = QAction(self)
            act.setShortcuts([QKeySequence(k) for k in keys])
            act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            act.triggered.connect(slot)
            self.addAction(act)
        self._show_availability()

    # -- availability and model status ---------------------------------------------------------
    def _show_availability(self) -> bool:
        if not getattr(self.services, "unlocked", True):
            self._set_status(LOCKED, "error")
        elif self.assistant() is None:
            self._set_status(NO_ASSISTANT, "error")
        else:
            if not self.busy and not self._model_state:
                self._set_status(STATUS_TEXT["ready"], "ready")
            self._enable_input(not self.busy)
            return True
        self._enable_input(False)
        return False

    def _set_status(self, text: str, state: str) -> None:
        self.status.setText(text)
        self.status.setProperty("state", state)
        self.status.style().unpolish(self.status)
        self.status.style().polish(self.status)

    def _enable_input(self, on: bool) -> None:
        self.box.setEnabled(on)
        self.send_button.setEnabled(on)
        self.send_button.setVisible(not self.busy)
        self.stop_button.setVisible(self.busy)

    def refresh_status(self) -> None:
        """Fetch the model's state once: on show, after a preload, and whenever the app
        announces that it changed (Changes.model); nothing polls it."""
        if not self._show_availability():  # the assistant may attach after unlocking
            return
        service = self.assistant()
        if service is None:
            return
        if self._polling:
            # A fetch is on its way, but it may have read the state before this change: fetch
            # once more when it returns, or the line would keep showing the older state.
            self._status_again = True
            return
        self._polling = True
        self._status_again = False

        def settle() -> None:
            self._polling = False
            if self._status_again:
                self.refresh_status()

        def done(status: tuple[str, str]) -> None:
            self._model_status(*status)
            settle()

        def failed(err: BaseException) -> None:
            settle()

        run_guarded(self.tasks, self, service.model_status, done, failed)

    def _model_status(self, state: str, message: str) -> None:
        self._model_state = state
        if state == "not_loaded" and not self._preloaded:
            self.preload()
        if (self.busy or self._error) and state in ("ready", "busy", "not_loaded"):
            return  # the request's own progress line (or its error) says more
        text = STATUS_TEXT.get(state, message or state)
        if state == "failed" and message:
            text = f"{message} Choose another model file in Settings → Models, or try again."
        elif state in ("loading", "restarting") and message:
            text = message
        self._set_status(text, "error" if state == "failed" else state)

    def preload(self) -> None:
        service = self.assistant()
        if service is None:
            return
        self._preloaded = True
        run_guarded(self.tasks, self, service.preload, lambda _: self.refresh_status(), _ignore)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._show_availability():
            self.refresh_status()
            self.reload_history()

    # -- asking --------------------------------------------------------------------------------
    def send(self) -> None:
        question = self.box.toPlainText().strip()
        service = self.assistant()
        if self.busy or not question or service is None:
            return
        self.busy = True
        self._request += 1
        request = self._request
        cancel = Cancel()
        self._cancel = cancel
        self._running[:] = [cancel]
        self._error = ""
        self.box.clear()
        self._enable_input(False)
        self.stop_button.setFocus()  # the box is disabled; Esc and Space still reach Stop
        self.empty.hide()
        self.transcript.follow = True
        self.transcript.add(QuestionBubble(question), mine=True)
        bubble = AnswerBubble(self.now)
        bubble.open_citation.connect(self.open_memory)
        bubble.save_turn.connect(self.save_turn)
        self.transcript.add(bubble, mine=False)
        self._current = bubble
        self._stream = []
        if self._model_state in ("loading", "not_loaded"):
            self._set_status("Loading the model… your answer starts when it is ready.", "loading")
        else:
            self._set_status("Thinking…", "busy")
        cid = self.conversation_id

        def ask(ctx: OpContext) -> Any:
            # Stop keeps the answer's callback (it says "Stopped" and keeps what arrived), so
            # it sets this request's own event rather than cancelling the op.
            return service.ask(question, cid, ctx.emit, cancel)

        self.tasks.op(
            ask,
            lambda answer: self._answered(request, bubble, answer),
            lambda err: self._failed(request, bubble, err),
            lane=Lane.MODEL,
            owner=self,
            on_item=lambda pieces: self._draw_stream(request, pieces),
        )
        log.info("question sent (request %d, conversation %s)", request, cid)

    def _draw_stream(self, request: int, pieces: list[str]) -> None:
        # Pieces of a stopped or older answer are dropped.
        if request != self._request or self._cancel is None or self._cancel.is_set():
            return
        self._stream.extend(pieces)
        bubble = self._current
        if pieces and bubble is not None and bubble.state == "streaming":
            if self.status.text() != "Answering…":
                self._set_status("Answering…", "busy")
            self.renders += 1
            bubble.set_text("".join(self._stream))

    def stop(self) -> None:
        """Esc / Stop: the model is told at once; the bubble says Stopped straight away."""
        if not self.busy or self._cancel is None or self._cancel.is_set():
            return
        self._cancel.set()  # what had arrived is kept; later pieces are dropped
        bubble = self._current
        if bubble is not None:
            bubble.set_text("".join(self._stream))
            bubble.set_state("stopped", "Stopped")
        self._set_status("Stopped.", "ready")
        log.info("answer stopped (request %d)", self._request)

    def _finish(self, request: int) -> bool:
        if request != self._request:
            return False
        self.busy = False  # the op delivered every piece before its result
        self._cancel = None
        self._current = None
        self._enable_input(True)
        self.box.setFocus()
        return True

    def _answered(self, request: int, bubble: AnswerBubble, answer: Any) -> None:
        stopped = bubble.state == "stopped" or answer.cancelled
        if not self._finish(request):
            return
        self.conversation_id = answer.conversation_id
        if stopped:
            # Keep what had arrived when Stop was pressed.
            if bubble.state != "stopped":
                bubble.set_text("".join(self._stream))
                bubble.set_state("stopped", "Stopped")
            self._set_status("Stopped.", "ready")
        else:
            detail = str(getattr(answer, "detail", "") or "").strip()
            # The short answer with its citations first; the sentence it rests on after it.
            bubble.set_text(answer.text + (f"\n\n“{detail}”" if detail else ""))
            bubble.set_citations(answer.citations)
            # Live answers only: a past conversation keeps its citations, not its related
            # memories (they are not stored with the answer).
            bubble.set_related(list(getattr(answer, "related_memories", None) or []))
            total = answer.timings.get("total_ms", 0.0) / 1000
            if answer.not_found:
                bubble.set_state("not_found", NOT_FOUND_NOTE)
            else:
                n = len(answer.citations)
                sources = f"{n} source{'s' if n != 1 else ''}" if n else "no sources cited"
                bubble.set_state("done", f"{sources} · {total:.1f} s")
                bubble.set_saveable(getattr(answer, "answer_memory_id", None))
            self._set_status(STATUS_TEXT["ready"], "ready")
        self._model_state = ""
        self.reload_history()
        self.answered.emit(answer)

    def _failed(self, request: int, bubble: AnswerBubble, err: BaseException) -> None:
        if not self._finish(request):
            return
        if isinstance(err, UserFacingError):
            message = str(err)
        else:
            # The runner sends the bug itself to the log and the crash dialog.
            message = "Something went wrong while answering. Try again; the details were logged."
        self._error = message
        bubble.set_text("".join(self._stream))
        bubble.set_state("error", message)
        self._set_status(message, "error")
        self.answered.emit(err)

    # -- conversations ---------------------------------------------------------------------------
    def new_conversation(self) -> None:
        if self.busy:
            self.stop()
            self._request += 1  # the stopped answer no longer belongs on screen
            self.busy = False
            self._cancel = None
            self._current = None
            self._enable_input(True)
        self.conversation_id = None
        self._error = ""
        self.transcript.clear()
        self.empty.show()
        self.history.clearSelection()
        self.delete_button.setEnabled(False)
        self.box.setFocus()

    def reload_history(self) -> None:
        service = self.assistant()
        if service is None:
            return
        run_guarded(self.tasks, self, service.conversations, self._show_history, _ignore)

    def _show_history(self, summaries: list[Any]) -> None:
        now = self.now()
        metrics = self.history.fontMetrics()
        width = max(self.history.viewport().width() - 24, 80)
        self.history.clear()
        for s in summaries:
            title = " ".join((s.title or "Untitled").split())
            short = metrics.elidedText(title, Qt.TextElideMode.ElideRight, width)
            item = QListWidgetItem(f"{short}\n{relative_time(s.updated_at, now)}")
            item.setData(Qt.ItemDataRole.UserRole, s.id)
            item.setToolTip(f"<qt>{html.escape(title)}</qt>")
            self.history.addItem(item)
            if s.id == self.conversation_id:
                item.setSelected(True)
        self.delete_button.setEnabled(self.conversation_id is not None)

    def _history_chosen(self, item: QListWidgetItem) -> None:
        cid = item.data(Qt.ItemDataRole.UserRole)
        if isinstance(cid, int) and cid != self.conversation_id:
            self.open_conversation(cid)

    def open_conversation(self, conversation_id: int) -> None:
        service = self.assistant()
        if service is None:
            return
        if self.busy:
            self.new_conversation()

        def show(turns: list[Any]) -> None:
            self.transcript.clear()
            self.conversation_id = conversation_id
            self.empty.setVisible(not turns)
            for t in turns:
                if t.role == "user":
                    self.transcript.add(QuestionBubble(t.text), mine=True)
                else:
                    bubble = AnswerBubble(self.now)
                    bubble.open_citation.connect(self.open_memory)
                    bubble.set_text(t.text)
                    bubble.set_citations(t.citations)
                    bubble.set_state("done", "")
                    self.transcript.add(bubble, mine=False)
            self.delete_button.setEnabled(True)
            self.conversation_loaded.emit(conversation_id)

        def failed(err: BaseException) -> None:
            self._set_status(user_message(err, ""), "error")
            self.reload_history()

        run_guarded(self.tasks, self, lambda: service.conversation(conversation_id), show, failed)

    def _delete_chosen(self) -> None:
        service, cid = self.assistant(), self.conversation_id
        if service is None or cid is None or self.busy:
            return
        self.new_conversation()
        run_guarded(
            self.tasks,
            self,
            lambda: service.delete_conversation(cid),
            lambda _: self.reload_history(),
            lambda err: self._set_status(str(err), "error"),
        )

    # -- citations -----------------------------------------------------------------------------
    def save_turn(self, memory_id: int) -> None:
        """Keep a chat answer as a memory (a note) that search and answers can draw on."""
        service = self.assistant()
        if service is None:
            return
        self.tasks.run(
            lambda: service.save_turn(memory_id),
            lambda _mid: self._set_status("Saved as a memory.", "ready"),
            lambda err: self._set_status(user_message(err, "Could not save it."), "error"),
        )

    def open_memory(self, memory_id: int) -> MemoryViewer:
        viewer = MemoryViewer(
            self.memory, self.media, self.tasks, memory_id, None, self.window(), self.now
        )
        self.viewer = viewer
        viewer.present()
        self.viewer_opened.emit(viewer)
        return viewer


def _ignore(_: object) -> None:
    pass


class ChatPage(Page):
    """The chat as a page of the main window; Ctrl+J / Ctrl+Shift+A bring it forward."""

    title = "Chat"
    shortcuts = ("Ctrl+J", "Ctrl+Shift+A")

    def __init__(self, services: Services, tasks: TaskRunner) -> None:
        super().__init__(services, tasks)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.chat = ChatPanel(services, tasks)
        layout.addWidget(self.chat)
        self.setFocusProxy(self.chat)

    def refresh(self, changes: Changes | None = None) -> None:
        if changes is None and self.chat._show_availability():
            self.chat.reload_history()
        if changes is not None and changes.model:
            # Only the model's own announcements: new memories (every capture) say nothing
            # about it. On unlock the page is made anew and its showEvent asks once.
            self.chat.refresh_status()
        if changes is not None and changes.memories_removed and not self.chat.busy:
            # An erase takes answers whose sources it erased, and the questions it matched:
            # the list (and its titles) and the open conversation show what is left.
            self.chat.reload_history()
            if self.chat.conversation_id is not None:
                self.chat.open_conversation(self.chat.conversation_id)

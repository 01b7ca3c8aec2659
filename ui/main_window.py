"""The main window: a navigation rail and one page per task. Pages are registered in PAGES so
each feature adds its own without touching the others."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence, QResizeEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.services import Changes, Services
from app.tasks import TaskRunner
from ui.damage_banner import DamageBanner
from ui.icons import app_icon
from ui.page import Page, empty_state, memories_phrase, nothing_yet

if TYPE_CHECKING:
    from core.types import Memory
    from ui.memory_viewer import MemoryViewer

log = logging.getLogger(__name__)
SHOW_ON_TIMELINE = "Show on timeline"


IMPORT_FORMATS = {
    "chatgpt": "ChatGPT",
    "claude": "Claude",
    "whatsapp": "WhatsApp",
    "telegram": "Telegram",
    "jsonl": "JSON Lines",
    "markdown": "Markdown",
    "screenshots": "screenshot",
}


def kind_phrase(kind: str, n: int) -> str:
    """'4 imported from JSON Lines files' for the stored kind 'import:jsonl', and so on."""
    if kind == "screen":
        return f"{n:,} read from the screen"
    if kind == "chat":
        return f"{n:,} chat message{'s' if n != 1 else ''}"
    if kind == "note":
        return f"{n:,} note{'s' if n != 1 else ''}"
    if kind.startswith("import:"):
        fmt = kind.split(":", 1)[1]
        name = IMPORT_FORMATS.get(fmt, fmt)
        return f"{n:,} imported from {name} file{'s' if n != 1 else ''}"
    return f"{n:,} {kind}"


class HomePage(Page):
    """What is in the store, and a quick note. Honest about what is empty."""

    title = "Home"

    def __init__(self, services: Services, tasks: TaskRunner) -> None:
        super().__init__(services, tasks)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        heading = QLabel("Your memory")
        heading.setObjectName("title")
        layout.addWidget(heading)
        self.summary = QLabel("Loading…")
        self.summary.setObjectName("subtitle")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.empty = empty_state(nothing_yet(services))
        self.empty.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.empty)
        layout.addSpacing(12)
        note_label = QLabel("Write a note to remember")
        layout.addWidget(note_label)
        self.note = QPlainTextEdit()
        self.note.setPlaceholderText("e.g. The spare key is in the blue box in the hall.")
        self.note.setFixedHeight(90)
        self.note.setAccessibleName("Note")
        layout.addWidget(self.note)
        row = QHBoxLayout()
        self.note_status = QLabel()
        self.note_status.setObjectName("hint")
        row.addWidget(self.note_status, 1)
        self.save = QPushButton("Remember (Ctrl+Enter)")
        self.save.setObjectName("primary")
        self.save.clicked.connect(self._save_note)
        row.addWidget(self.save)
        layout.addLayout(row)
        layout.addStretch(1)  # extra height goes below the note, not between the parts
        save_action = QAction(self)
        save_action.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
        save_action.triggered.connect(self._save_note)
        self.note.addAction(save_action)

    def _save_note(self) -> None:
        text = self.note.toPlainText()
        if not text.strip():
            self.note_status.setText("Write something first.")
            return
        self.save.setEnabled(False)

        def done(mid: object) -> None:
            self.save.setEnabled(True)
            self.note.clear()
            self.note_status.setText("Saved.")

        def failed(err: BaseException) -> None:
            self.save.setEnabled(True)
            self.note_status.setText(str(err))

        self.tasks.run(lambda: self.services.add_note(text), done, failed, owner=self)

    def refresh(self, changes: Changes | None = None) -> None:
        if not self.services.unlocked:
            return

        def show(status: object) -> None:
            assert isinstance(status, dict)
            mem = status.get("memories", {})
            total = mem.get("total", 0)
            parts = [kind_phrase(kind, n) for kind, n in sorted(mem.get("by_source", {}).items())]
            size_mb = sum(status.get("sizes", {}).values()) / 1e6
            self.summary.setText(
                f"You have {memories_phrase(total)}"
                + (f": {', '.join(parts)}." if parts else ".")
                + f"\n{size_mb:.1f} MB on disk, encrypted, in {status['data_dir']}"
            )
            self.empty.setText(nothing_yet(self.services))
            self.empty.setVisible(total == 0)

        self.tasks.run(self.services.status, show, lambda e: None, owner=self)


def _search_page(services: Services, tasks: TaskRunner) -> Page:
    from ui.search_page import SearchPage  # imported here: it builds on Page above

    return SearchPage(services, tasks)


def _timeline_page(services: Services, tasks: TaskRunner) -> Page:
    from ui.timeline_page import TimelinePage

    return TimelinePage(services, tasks)


def _settings_page(services: Services, tasks: TaskRunner) -> Page:
    from ui.settings_page import SettingsPage  # it builds on Page, defined above

    return SettingsPage(services, tasks)


def _trust_review_page(services: Services, tasks: TaskRunner) -> Page:
    from ui.trust_review import TrustReviewPage

    return TrustReviewPage(services, tasks)


def _import_page(services: Services, tasks: TaskRunner) -> Page:
    from ui.import_page import ImportPage

    return ImportPage(services, tasks)


# (title, factory). Later features append their pages (search, chat, import, review…);
# Settings is always shown last, whatever is appended after it.
def _chat_page(services: Services, tasks: TaskRunner) -> Page:
    from ui.chat_window import ChatPage

    return ChatPage(services, tasks)


PAGES: list[tuple[str, Callable[[Services, TaskRunner], Page]]] = [
    ("Search", _search_page),
    ("Home", HomePage),
    ("Timeline", _timeline_page),
    ("Trust review", _trust_review_page),
    ("Import", _import_page),
    ("Settings", _settings_page),
    ("Chat", _chat_page),
]


class MainWindow(QMainWindow):
    lock_requested = Signal()
    quit_requested = Signal()

    def __init__(self, services: Services, tasks: TaskRunner, tray_available: bool) -> None:
        super().__init__()
        self.services = services
        self.tasks = tasks
        self.tray_available = tray_available
        self._told_about_tray = False
        self.setWindowTitle("Mnemo")
        self.setWindowIcon(app_icon())
        self._size_saver = QTimer(self)
        self._size_saver.setSingleShot(True)
        self._size_saver.setInterval(600)
        self._size_saver.timeout.connect(self.remember_size)
        self.resize(self.first_size())
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.nav = QListWidget()
        self.nav.setObjectName("nav")
        self.nav.setFixedWidth(180)
        self.stack = QStackedWidget()
        layout.addWidget(self.nav)
        layout.addWidget(self.stack, 1)
        outer = QWidget()
        column = QVBoxLayout(outer)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        self.damage_banner = DamageBanner()
        column.addWidget(self.damage_banner)
        column.addWidget(central, 1)
        self.setCentralWidget(outer)
        self.pages: list[Page] = []
        pages = sorted(PAGES, key=lambda entry: entry[0] == "Settings")  # stable: Settings last
        for i, (title, factory) in enumerate(pages):
            page = factory(services, tasks)
            self.pages.append(page)
            self.stack.addWidget(page)
            item = QListWidgetItem(title)
            self.nav.addItem(item)
            if i < 9:
                act = QAction(self)
                act.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
                act.triggered.connect(lambda _=False, n=i: self.nav.setCurrentRow(n))
                self.addAction(act)
            # A page may claim window-wide shortcuts that bring it forward (Search: Ctrl+F/K,
            # Timeline: Ctrl+T, at "now").
            for seq in getattr(page, "shortcuts", ()):
                act = QAction(self)
                act.setShortcut(QKeySequence(seq))
                act.triggered.connect(lambda _=False, n=i: self._focus_page(n))
                self.addAction(act)
        self._connect_timeline()
        self.nav.currentRowChanged.connect(self._show_page)
        self.nav.setCurrentRow(0)
        lock = QAction("Lock", self)
        lock.setShortcut(QKeySequence("Ctrl+L"))
        lock.triggered.connect(self.lock_requested)
        self.addAction(lock)
        quit_ = QAction("Quit", self)
        quit_.setShortcut(QKeySequence("Ctrl+Q"))
        quit_.triggered.connect(self.quit_requested)
        self.addAction(quit_)
        self.statusBar().showMessage("Unlocked · Ctrl+L locks · Ctrl+Q quits")

    def first_size(self) -> QSize:
        """The size remembered from last time if it still fits the screen, else a natural one
        for the screen (1440x900 on 1920x1080)."""
        screen = QGuiApplication.primaryScreen()
        avail = screen.availableGeometry().size() if screen is not None else QSize(1920, 1050)
        remembered = parse_size(str(self.services.settings.get("device.window_size") or ""))
        if remembered is not None:
            return remembered.boundedTo(avail).expandedTo(QSize(640, 480))
        return natural_size(avail)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.isVisible() and not self.isMaximized() and not self.isFullScreen():
            self._size_saver.start()

    def remember_size(self) -> None:
        size = f"{self.width()}x{self.height()}"
        try:
            if self.services.settings.get("device.window_size") != size:
                self.services.settings.set("device.window_size", size)
        except Exception:  # a read-only data folder: the size is simply not remembered
            log.warning("the window size could not be remembered", exc_info=True)

    def page(self, title: str) -> Page | None:
        return next((p for p in self.pages if p.title == title), None)

    def show_page(self, title: str) -> None:
        for i, p in enumerate(self.pages):
            if p.title == title:
                self.nav.setCurrentRow(i)

    def _focus_page(self, row: int) -> None:
        self.nav.setCurrentRow(row)
        page = self.pages[row]
        show_now = getattr(page, "show_now", None)
        if show_now is not None:
            show_now()
        page.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _connect_timeline(self) -> None:
        """Search hits (Ctrl+Enter) and the viewer's "Show on timeline" open the timeline at
        their frame."""
        timeline = self.page("Timeline")
        if timeline is None or not hasattr(timeline, "open_at"):
            return
        search = self.page("Search")
        if search is not None and hasattr(search, "timeline_requested"):
            search.timeline_requested.connect(self.show_on_timeline)
        from ui.memory_viewer import VIEWER_ACTIONS, ViewerAction

        def open_on_timeline(viewer: MemoryViewer, m: Memory) -> None:
            viewer.close()
            self.show_on_timeline(m.id, viewer.terms)

        VIEWER_ACTIONS[:] = [a for a in VIEWER_ACTIONS if a.label != SHOW_ON_TIMELINE]
        VIEWER_ACTIONS.insert(0, ViewerAction(SHOW_ON_TIMELINE, open_on_timeline))

    def show_on_timeline(self, memory_id: int, terms: list[str]) -> None:
        timeline = self.page("Timeline")
        if timeline is None:
            return
        self.show_page("Timeline")
        timeline.open_at(memory_id, terms)  # type: ignore[attr-defined]

    def _show_page(self, row: int) -> None:
        if 0 <= row < len(self.pages):
            self.stack.setCurrentIndex(row)
            self.pages[row].refresh()

    def refresh(self, changes: Changes | None = None) -> None:
        self.damage_banner.show_damage(getattr(self.services, "damage", None))
        current = self.stack.currentWidget()
        if isinstance(current, Page):
            current.refresh(changes)

    def bring_forward(self) -> None:
        self.show()
        self.setWindowState(self.windowState() & ~Qt.WindowState.WindowMinimized)
        self.raise_()
        self.activateWindow()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._size_saver.isActive():
            self._size_saver.stop()
            self.remember_size()
        if self.tray_available:
            # Closing keeps Mnemo running in the tray; Quit is in the tray menu (and Ctrl+Q).
            event.ignore()
            self.hide()
            if not self._told_about_tray:
                self._told_about_tray = True
                self.statusBar().showMessage("Mnemo keeps running in the tray.")
        else:
            event.accept()
            self.quit_requested.emit()


def parse_size(text: str) -> QSize | None:
    w, _, h = text.partition("x")
    if not (w.isdigit() and h.isdigit()):
        return None
    return QSize(int(w), int(h))


def natural_size(avail: QSize) -> QSize:
    """Three quarters of the screen or so, never cramped, never more than a page needs."""
    w = max(min(avail.width(), 960), min(1440, round(avail.width() * 0.75)))
    h = max(min(avail.height(), 640), min(900, round(avail.height() * 0.86)))
    return QSize(w, h)


def show_bug(parent: QWidget | None, details: str) -> None:
    """The crash dialog: a plain message and the details to copy."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Critical)
    box.setWindowTitle("Mnemo ran into a problem")
    box.setText(
        "Something went wrong inside Mnemo. Your data is safe. The details below "
        "help fix it (they contain no memories)."
    )
    box.setDetailedText(details)
    box.exec()

"""The About window: version, where the data is, the model in use, the bundled models and
their licences, and "Copy diagnostics" (a report without content, shown before it is copied).
Reached from the tray menu, the main window's Help menu, and F1."""

from __future__ import annotations

import html
from collections.abc import Callable
from html import escape
from typing import Any

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QMainWindow,
    QPlainTextEdit,
    QPushButton,
    QSystemTrayIcon,
    QVBoxLayout,
    QWidget,
)

from app.diagnostics import about_facts, as_text, collect
from app.services import Services
from app.tasks import TaskRunner
from core.version import VERSION
from ui.icons import app_icon


def gui_facts() -> dict[str, Any]:
    """What only the GUI knows, for the diagnostics report."""
    from PySide6 import __version__ as pyside_version
    from PySide6.QtCore import qVersion

    app = QGuiApplication.instance()
    screens = QGuiApplication.screens() if app is not None else []
    return {
        "qt": qVersion(),
        "pyside": pyside_version,
        "qt_platform": QGuiApplication.platformName() if app is not None else "",
        "tray_available": QSystemTrayIcon.isSystemTrayAvailable(),
        "screens": [
            f"{s.size().width()}x{s.size().height()}@{s.devicePixelRatio():g}" for s in screens
        ],
    }


# Every shortcut, as Help lists them (kept next to the dialog that shows them).
SHORTCUTS: list[tuple[str, str]] = [
    ("Ctrl+Alt+R", "From anywhere (X11): the timeline at now"),
    ("Ctrl+Alt+M", "From anywhere (X11): ask Mnemo"),
    ("Ctrl+1 … Ctrl+7", "Go to a page (Search, Home, Timeline, …, in the order on the left)"),
    ("Ctrl+F / Ctrl+K", "Search"),
    ("Ctrl+T", "Timeline at the latest frame"),
    ("Ctrl+J", "Chat"),
    ("↓ / ↑, Enter", "Search: move through the results, open one"),
    ("Ctrl+Enter", "Search: show the selected screen on the timeline"),
    ("← / →, Shift+← / →", "Timeline: one frame, ten frames"),
    ("PgUp / PgDn, Home / End", "Timeline: 25 frames, first / last frame of the day"),
    ("+ / −, Ctrl+wheel", "Timeline: zoom from the day to five minutes"),
    ("Alt+← / Alt+→", "Timeline: previous / next day"),
    ("Ctrl+C, Ctrl+A", "Timeline: copy the selected text of the frame, select all of it"),
    ("Ctrl+Enter", "Home: remember the note"),
    ("Tab / Shift+Tab", "Move between the parts of a page"),
    ("Ctrl+L", "Lock Mnemo"),
    ("Ctrl+Q", "Quit"),
    ("F1", "This window"),
]


def shortcuts_html() -> str:
    rows = "".join(
        f"<tr><td style='padding-right:18px'><b>{html.escape(k)}</b></td>"
        f"<td>{html.escape(v)}</td></tr>"
        for k, v in SHORTCUTS
    )
    return f"<table cellspacing='2'>{rows}</table>"


class AboutWindow(QDialog):
    def __init__(
        self, services: Services, tasks: TaskRunner, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.services = services
        self.tasks = tasks
        self.setWindowTitle("About Mnemo")
        self.setWindowIcon(app_icon())
        layout = QVBoxLayout(self)
        # The layout sets the minimum size (no fixed minimum on the dialog, which would stop
        # it from growing when the report appears).
        layout.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)
        self.resize(700, 340)
        layout.setContentsMargins(28, 24, 28, 20)
        layout.setSpacing(10)

        head = QHBoxLayout()
        logo = QLabel()
        logo.setPixmap(app_icon().pixmap(64, 64))
        head.addWidget(logo, 0, Qt.AlignmentFlag.AlignTop)
        titles = QVBoxLayout()
        self.title = QLabel()
        self.title.setObjectName("title")
        titles.addWidget(self.title)
        tagline = QLabel(
            "A private memory for your screen and your chats. Everything stays encrypted on "
            "this computer; nothing leaves it."
        )
        tagline.setObjectName("subtitle")
        tagline.setWordWrap(True)
        tagline.setMinimumWidth(480)
        titles.addWidget(tagline)
        head.addLayout(titles, 1)
        layout.addLayout(head)

        grid = QGridLayout()
        grid.setHorizontalSpacing(14)
        grid.setVerticalSpacing(6)
        self.data_dir = QLabel()
        self.data_dir.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.data_dir.setWordWrap(True)
        open_folder = QPushButton("Open folder")
        open_folder.clicked.connect(self._open_folder)
        self.model = QLabel()
        self.model.setWordWrap(True)
        for row, (label, widget) in enumerate(
            (("Your data", self.data_dir), ("Language model", self.model))
        ):
            name = QLabel(label)
            name.setObjectName("fieldname")
            grid.addWidget(name, row, 0, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(widget, row, 1, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(open_folder, 0, 2, Qt.AlignmentFlag.AlignTop)
        grid.setColumnStretch(1, 1)
        layout.addLayout(grid)

        models_title = QLabel("Bundled models")
        models_title.setObjectName("section")
        layout.addWidget(models_title)
        self.models = QLabel()
        self.models.setTextFormat(Qt.TextFormat.RichText)
        self.models.setWordWrap(True)
        layout.addWidget(self.models)

        self.runtime = QLabel()
        self.runtime.setObjectName("hint")
        layout.addWidget(self.runtime)

        keys_title = QLabel("Keyboard shortcuts")
        keys_title.setObjectName("section")
        layout.addWidget(keys_title)
        self.shortcuts = QLabel(shortcuts_html())
        self.shortcuts.setTextFormat(Qt.TextFormat.RichText)
        self.shortcuts.setAccessibleName("Keyboard shortcuts")
        layout.addWidget(self.shortcuts)

        self.report = QPlainTextEdit()
        self.report.setReadOnly(True)
        self.report.setAccessibleName("Diagnostics report")
        self.report.setFixedHeight(170)
        self.report.hide()
        layout.addWidget(self.report)
        layout.addStretch(1)

        row = QHBoxLayout()
        self.copy_status = QLabel()
        self.copy_status.setObjectName("hint")
        self.copy_status.setWordWrap(True)
        row.addWidget(self.copy_status, 1)
        self.copy = QPushButton("Copy diagnostics")
        self.copy.setToolTip(
            "Versions, platform, sizes, counts and settings; no memories, passphrase or keys."
        )
        self.copy.clicked.connect(self.copy_diagnostics)
        row.addWidget(self.copy)
        close = QPushButton("Close")
        close.setObjectName("primary")
        close.setDefault(True)
        close.clicked.connect(self.accept)
        row.addWidget(close)
        layout.addLayout(row)
        self.refresh()

    def refresh(self) -> None:
        """Facts may need one settings read from the store: fetched on the task runner."""
        self.title.setText(f"Mnemo {VERSION}")
        self.data_dir.setText(str(self.services.data_dir))
        self.model.setText("…")
        self.tasks.run(
            lambda: about_facts(self.services), self._show_facts, lambda e: None, owner=self
        )

    def _show_facts(self, facts: object) -> None:
        assert isinstance(facts, dict)
        self.data_dir.setText(facts["data_dir"])
        self.model.setText(facts["model_in_use"])
        rows = "".join(
            f"<tr><td>{escape(m['name'])}</td><td>&nbsp;&nbsp;{escape(m['role'])}</td>"
            f"<td>&nbsp;&nbsp;{escape(m['licence'])}</td>"
            f"<td>&nbsp;{'' if m['present'] else '<b>missing</b>'}</td></tr>"
            for m in facts["models"]
        )
        self.models.setText(f"<table>{rows}</table>")
        self.runtime.setText(
            f"Python {facts['python']} · Qt {gui_facts()['qt']}"
            + (" · packaged app" if facts["packaged"] else " · running from source")
        )
        self._fit()

    def _fit(self) -> None:
        """Grow to what the content needs after it changed (wrapped labels need more height
        than the window had when shown; adjustSize() would cap it at 2/3 of the screen)."""
        layout = self.layout()
        layout.activate()
        width = max(self.width(), layout.sizeHint().width())
        need = layout.heightForWidth(width) if layout.hasHeightForWidth() else -1
        need = max(need, layout.sizeHint().height())
        if need > self.height() or width > self.width():
            self.resize(width, max(need, self.height()))

    def _open_folder(self) -> None:
        folder = self.services.data_dir
        if folder.exists():
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
        else:
            self.copy_status.setText("The data folder does not exist yet; it is made at first run.")

    def copy_diagnostics(self) -> None:
        """Collect on the task runner (counts need SQL), then copy and show what was copied."""
        self.copy.setEnabled(False)
        self.copy_status.setText("Collecting…")
        gui = gui_facts()

        def done(text: object) -> None:
            assert isinstance(text, str)
            QGuiApplication.clipboard().setText(text)
            self.report.setPlainText(text)
            self.report.show()
            self._fit()
            self.copy.setEnabled(True)
            self.copy_status.setText(
                "Copied to the clipboard. It holds no memories, passphrase or keys."
            )

        def failed(err: BaseException) -> None:
            self.copy.setEnabled(True)
            self.copy_status.setText(f"Could not collect diagnostics: {type(err).__name__}.")

        self.tasks.run(lambda: as_text(collect(self.services, gui)), done, failed, owner=self)


def add_help_menu(window: QMainWindow, show_about: Callable[[], None]) -> QAction:
    """A Help menu with "About Mnemo" (F1) on a main window."""
    action = QAction("About Mnemo", window)
    action.setShortcut(QKeySequence(QKeySequence.StandardKey.HelpContents))
    if action.shortcut().isEmpty():
        action.setShortcut(QKeySequence("F1"))
    action.setMenuRole(QAction.MenuRole.AboutRole)
    action.triggered.connect(show_about)
    window.menuBar().addMenu("&Help").addAction(action)
    return action

"""What every page of the main window shares: the Page base class, empty states, counts in
words, and where file dialogs open. Pages import this, never the main window (which imports
the pages)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QStandardPaths, Qt
from PySide6.QtWidgets import QLabel, QWidget

if TYPE_CHECKING:
    from app.services import Changes, Services
    from app.tasks import TaskRunner


class Page(QWidget):
    """A page of the main window. `refresh` is called when it is shown or data changed."""

    title = ""

    def __init__(self, services: Services, tasks: TaskRunner) -> None:
        super().__init__()
        self.services = services
        self.tasks = tasks

    def refresh(self, changes: Changes | None = None) -> None:
        pass


def empty_state(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("empty")
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    return label


def nothing_yet(services: object) -> str:
    """The empty state: what to do to get memories, knowing whether capture is on already."""
    capture = getattr(services, "capture", None)
    if capture is not None and getattr(capture, "running", False):
        return (
            "No memories yet.\nScreen capture is on: what you read on screen shows up here "
            "within a minute or so. You can also import a chat history or write a note."
        )
    return (
        "No memories yet.\nTurn on screen capture from the tray icon or in Settings → Capture, "
        "import a chat history, or write a note: everything you keep stays encrypted on this "
        "computer."
    )


def memories_phrase(n: int) -> str:
    return f"{n:,} memor{'y' if n == 1 else 'ies'}"


def start_folder() -> Path:
    """Where file dialogs open: the Downloads folder (where exports land), else home; never
    the folder Mnemo happened to be started from."""
    downloads = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DownloadLocation)
    for candidate in (downloads, str(Path.home())):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return Path.home()

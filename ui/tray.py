"""The tray icon and its menu. Features add their own actions through `add_section`, and
report their state through `set_state(state, status, part=…)`; the icon and the status line
are computed here, in one place, from every part's latest report."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from ui.icons import tray_icon

# Most urgent first: a locked store hides everything else; a review waiting or a capture
# problem needs the user; paused, excluded and capturing describe capture; idle is the rest.
PRIORITY = ("locked", "attention", "paused", "excluded", "capturing", "idle")


def combined_state(parts: dict[str, tuple[str, str]]) -> tuple[str, str]:
    """(icon state, status line) of the most urgent report; ("idle", "Unlocked") if none."""
    best: tuple[str, str] = ("idle", "Unlocked")
    rank = len(PRIORITY)
    for state, status in parts.values():
        r = PRIORITY.index(state) if state in PRIORITY else PRIORITY.index("idle")
        if r < rank:
            best, rank = (state, status), r
    return best


class Tray(QObject):
    open_requested = Signal()
    lock_requested = Signal()
    quit_requested = Signal()
    about_requested = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.icon = QSystemTrayIcon(tray_icon("idle"))
        self.icon.setToolTip("Mnemo")
        self.menu = QMenu()
        self.status = QAction("Locked")
        self.status.setEnabled(False)
        self.menu.addAction(self.status)
        self.menu.addSeparator()
        self.open_action = self.menu.addAction("Open Mnemo")
        self.open_action.triggered.connect(self.open_requested)
        self.feature_anchor = self.menu.addSeparator()
        self.lock_action = self.menu.addAction("Lock")
        self.lock_action.triggered.connect(self.lock_requested)
        self.menu.addSeparator()
        about_action = self.menu.addAction("About Mnemo")
        about_action.triggered.connect(self.about_requested)
        quit_action = self.menu.addAction("Quit Mnemo")
        quit_action.triggered.connect(self.quit_requested)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self._parts: dict[str, tuple[str, str]] = {"session": ("locked", "Locked")}
        self.state = "locked"

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            self.open_requested.emit()

    def add_section(self, actions: list[QAction]) -> None:
        """Insert feature actions (capture, forget…) above Lock."""
        for a in actions:
            self.menu.insertAction(self.feature_anchor, a)

    def set_state(self, state: str, status: str, part: str = "session") -> None:
        """`part` reports its own state ("session": locked/unlocked, "review", "capture"); the
        icon shows the most urgent of all parts. Locking clears what the other parts said."""
        if part == "session":
            self._parts = {"session": (state, status)}
        else:
            self._parts[part] = (state, status)
        shown, line = combined_state(self._parts)
        self.state = shown
        self.icon.setIcon(tray_icon(shown))
        self.status.setText(line)
        self.icon.setToolTip(f"Mnemo — {line}")
        self.lock_action.setEnabled(self._parts["session"][0] != "locked")

    def show(self) -> None:
        self.icon.show()

    def hide(self) -> None:
        self.icon.hide()

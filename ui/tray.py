"""The tray icon and its menu. Features add their own actions through `add_section`."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from ui.icons import tray_icon


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

    def set_state(self, state: str, status: str) -> None:
        self.icon.setIcon(tray_icon(state))
        self.status.setText(status)
        self.icon.setToolTip(f"Mnemo — {status}")
        self.lock_action.setEnabled(state != "locked")

    def show(self) -> None:
        self.icon.show()

    def hide(self) -> None:
        self.icon.hide()

"""Screen capture in the tray: a status line, Start/Stop, Pause (15 min, 1 h, until tomorrow),
Resume, Capture now, and the tray icon's state. Also starts capture after unlock when the user
turned it on, and restarts it after a lock only if it was running."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from app.capture_service import PAUSE_CHOICES, until_tomorrow
from app.services import Changes, Services
from app.tasks import TaskRunner

ICON_STATES = {"off": "idle"}


class CaptureControl(QObject):
    def __init__(self, services: Services, tasks: TaskRunner, tray: Any | None = None) -> None:
        super().__init__()
        self.services = services
        self.tasks = tasks
        self.tray = tray
        self._resume_after_unlock: bool | None = None
        self._enabled_changed = False
        self.status_action = QAction("Capture is off")
        self.status_action.setEnabled(False)
        self.toggle_action = QAction("Start capturing")
        self.toggle_action.triggered.connect(self.toggle)
        self.pause_menu = QMenu("Pause capture")
        for label, seconds in PAUSE_CHOICES:
            a = self.pause_menu.addAction(f"Pause for {label.lower()}" if seconds else label)
            a.triggered.connect(lambda _=False, s=seconds: self.pause(s))
        self.pause_action = self.pause_menu.menuAction()
        self.resume_action = QAction("Resume capture")
        self.resume_action.triggered.connect(self.resume)
        self.now_action = QAction("Capture now")
        self.now_action.triggered.connect(self.capture_now)
        self.actions = [
            self.status_action,
            self.toggle_action,
            self.pause_action,
            self.resume_action,
            self.now_action,
        ]
        if tray is not None:
            tray.add_section(self.actions)
            # Ages and clock times in the status line are current whenever the menu opens;
            # everything else is redrawn when capture announces a change (`changed`).
            tray.menu.aboutToShow.connect(self.refresh)
        self.refresh()

    # -- life cycle ----------------------------------------------------------------------------
    def unlocked(self) -> None:
        """Start capture if the user turned it on (and it was running before a lock)."""
        resume = self._resume_after_unlock
        self._resume_after_unlock = None

        def enabled() -> bool:
            return bool(self.services.settings.get("capture.enabled"))

        def done(on: object) -> None:
            if on and resume is not False and self.services.capture is not None:
                self.services.capture.start()
            self.refresh()

        self.tasks.run(enabled, done, lambda e: None)

    def locking(self) -> None:
        """Before the store locks: remember whether capture was running."""
        capture = self.services.capture
        self._resume_after_unlock = bool(
            capture is not None and capture.running and not capture.paused
        )
        self.refresh()

    def consent(self, on: bool) -> None:
        """The first-run window's checkbox: turn capture on (it starts once unlocked)."""
        if on:
            self.tasks.run(
                lambda: self.services.settings.set("capture.enabled", True),
                lambda _: self._start_if_unlocked(),
                None,
            )

    def _start_if_unlocked(self) -> None:
        if self.services.capture is not None:
            self.services.capture.start()
        self.refresh()

    # -- actions ------------------------------------------------------------------------------
    def toggle(self) -> None:
        capture = self.services.capture
        if capture is None:
            return
        on = not capture.running
        if on:
            capture.start()
        else:
            self.tasks.run(capture.stop, lambda _: self.refresh(), None)  # joins its threads
        self._save_enabled(on)
        self.refresh()

    def _save_enabled(self, on: bool) -> None:
        def save() -> None:
            self.services.settings.set("capture.enabled", on)
            self.services.announce(Changes(settings=["capture.enabled"]))

        self.tasks.run(save, None, None)

    def pause(self, seconds: float | None) -> None:
        capture = self.services.capture
        if capture is not None:
            capture.pause(seconds if seconds is not None else until_tomorrow(time.time()))
        self.refresh()

    def resume(self) -> None:
        capture = self.services.capture
        if capture is not None:
            if not capture.running:
                capture.start()
                self._save_enabled(True)
            capture.resume()
        self.refresh()

    def capture_now(self) -> None:
        if self.services.capture is not None:
            self.services.capture.capture_now()

    # -- status -------------------------------------------------------------------------------
    def changed(self, changes: Changes) -> None:
        """A batch of announced changes, on the GUI thread (from the controller)."""
        if "capture.enabled" in changes.settings:
            self._enabled_changed = True
        if (
            changes.capture
            or changes.locked is not None
            or any(k.startswith("capture.") for k in changes.settings)
        ):
            self.refresh()

    def refresh(self) -> None:
        capture = self.services.capture if self.services.unlocked else None
        if capture is None:
            for a in self.actions:
                a.setVisible(a is self.status_action)
            self.status_action.setText("Capture: locked" if not self.services.unlocked else "")
            return
        if self._enabled_changed:
            self._enabled_changed = False
            self.tasks.run(
                lambda: bool(self.services.settings.get("capture.enabled")),
                self._apply_enabled,
                None,
            )
        status = capture.status()
        self.status_action.setText(status.line)
        off = status.state == "off"
        paused = status.paused_until is not None
        self.toggle_action.setText("Start capturing" if off else "Stop capturing")
        self.toggle_action.setVisible(True)
        self.pause_action.setVisible(not off and not paused)
        self.resume_action.setVisible(paused)
        self.now_action.setVisible(True)
        if self.tray is not None:
            self.tray.set_state(
                ICON_STATES.get(status.state, status.state), status.line, part="capture"
            )
            # The tray's own status line says it already when capture is the most urgent.
            self.status_action.setVisible(self.tray.status.text() != status.line)
            for text in capture.take_notices():
                self.tray.icon.showMessage("Mnemo", text)

    def _apply_enabled(self, on: object) -> None:
        capture = self.services.capture
        if capture is None:
            return
        if on and not capture.running:
            capture.start()
        elif not on and capture.running:
            self.tasks.run(capture.stop, lambda _: self.refresh(), None)
        self.refresh()

"""Wires the windows, the tray and the services together for the desktop app."""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from pathlib import Path
from types import TracebackType
from typing import Any

from PySide6.QtCore import QEvent, QObject, QTimer, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtNetwork import QLocalServer, QLocalSocket
from PySide6.QtWidgets import QApplication, QMenu, QMessageBox, QSystemTrayIcon

from app import paths, security
from app.autolock import AutoLock, BackupScheduler
from app.hotkey import TIMELINE_KEYS, GlobalHotkey
from app.logging_setup import setup_logging
from app.retention import RetentionScheduler
from app.services import Changes, Services
from app.tasks import TaskRunner
from core.errors import StoreLocked, UserFacingError
from ui import erase_ui
from ui.about import AboutWindow, add_help_menu
from ui.capture_tray import CaptureControl
from ui.main_window import MainWindow, show_bug
from ui.tray import Tray
from ui.trust_review import TITLE as TRUST_REVIEW
from ui.trust_review import ReviewBadge
from ui.unlock import FirstRunWindow, UnlockWindow, centre

log = logging.getLogger(__name__)

# Windows Qt makes for itself that show no content: the tray icon's own window (X11 XEmbed).
# Locking must leave them alone, or the tray icon disappears with the content.
_SHELL_WINDOWS = ("QSystemTrayIconSys",)
# After unlock, the embedding model starts loading right after the main window's first paint,
# or after this long if no paint comes (started in the tray, or a window manager that holds it).
WARM_UP_AFTER_MS = 700


class _ChangeRelay(QObject):
    """Lives on the GUI thread. Services announce changes from any thread; emitting a signal
    of this object from a worker delivers it queued, in order, on the GUI thread, so no change
    is lost between a copy and a clear of a shared list."""

    changed = Signal(object)


class Controller(QObject):
    def __init__(
        self, app: QApplication, data_dir: Path, instance: str, start_in_tray: bool = False
    ) -> None:
        super().__init__()
        self.app = app
        self.data_dir = data_dir
        self.start_in_tray = start_in_tray
        self.services = Services(data_dir)
        self.tasks = TaskRunner(parent=self)
        self.tasks.bug.connect(lambda details: show_bug(self.main, details))
        self.tasks.user_error.connect(self._user_error)
        self.tray_available = QSystemTrayIcon.isSystemTrayAvailable()
        self.tray: Tray | None = None
        self.review_badge: ReviewBadge | None = None
        self.capture: CaptureControl | None = None  # made in start(), once the tray exists
        self.main: MainWindow | None = None
        self.gate: FirstRunWindow | UnlockWindow | None = None
        self.about: AboutWindow | None = None
        self._open_chat_after_unlock = False
        self.hotkey: GlobalHotkey | None = None
        self.timeline_hotkey: GlobalHotkey | None = None
        self.server = QLocalServer(self)
        QLocalServer.removeServer(instance)
        self.server.listen(instance)
        self.server.newConnection.connect(self._other_instance)
        # Changes arrive from worker threads as queued signals; the GUI thread gathers them and
        # a single-shot timer coalesces a burst into one refresh.
        self._pending: list[Changes] = []
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(250)
        self._refresh_timer.timeout.connect(self._flush_changes)
        self._warm_timer = QTimer(self)  # the embedding model's load after unlock
        self._warm_timer.setSingleShot(True)
        self._warm_timer.timeout.connect(self._warm_up)
        self._changes = _ChangeRelay(self)
        self._changes.changed.connect(self._change_arrived)
        self.services.subscribe(self._changes.changed.emit)
        self._quitting = False
        self.autolock = AutoLock(self.tasks, self.services.autolock_config, self._is_unlocked)
        self.autolock.lock_requested.connect(lambda reason: self.lock())
        self.backups = BackupScheduler(self.tasks, self.services.run_scheduled_backup)
        self.backups.finished.connect(self._notify)
        erase_ui.install(self.services)  # "Forget this" in memory viewers
        self.retention = RetentionScheduler(self.tasks, self._enforce_retention)
        self.retention.finished.connect(self._notify)

    def _enforce_retention(self) -> str | None:
        erase = self.services.erase if self.services.unlocked else None
        receipts = erase.enforce_retention() if erase is not None else []
        n = sum(r.memories for r in receipts)
        return f"Retention: forgot {n} old memories, as your storage settings ask." if n else None

    def _is_unlocked(self) -> bool:
        return self.services.unlocked

    def start(self) -> None:
        if self.tray_available:
            self.tray = Tray()
            self.tray.open_requested.connect(self.open)
            self.tray.lock_requested.connect(self.lock)
            self.tray.quit_requested.connect(self.quit)
            self.tray.about_requested.connect(self.show_about)
            ask = QAction("Ask Mnemo…", self.tray)
            ask.triggered.connect(self.open_chat)
            self.tray.add_section([ask])
            import_action = QAction("Import chats…", self.tray)
            import_action.triggered.connect(self.import_chats)
            self.tray.add_section([import_action])
            self.tray.set_state("locked", "Locked")
            self.review_badge = ReviewBadge(self.tray, self.services, self.tasks)
            self.review_badge.action.triggered.connect(self._open_review)
            # Kept here: the menu does not own its actions.
            self.forget_actions = erase_ui.tray_actions(self.services, self.tasks, self._notify)
            self.tray.add_section(self.forget_actions)
            self.tray.show()
        else:
            log.info("no system tray available; the window is the entry point")
        # Ctrl+Alt+M from anywhere opens the chat (X11 only; in-app Ctrl+J works everywhere).
        self.hotkey = GlobalHotkey(parent=self)
        if self.app.platformName() == "xcb" and self.hotkey.start():
            self.hotkey.pressed.connect(self.open_chat)
        # Ctrl+Alt+R from anywhere rewinds: the timeline at "now" (in-app: Ctrl+T).
        self.timeline_hotkey = GlobalHotkey(TIMELINE_KEYS, parent=self)
        if self.app.platformName() == "xcb" and self.timeline_hotkey.start():
            self.timeline_hotkey.pressed.connect(self.open_timeline)
        self.capture = CaptureControl(self.services, self.tasks, self.tray)
        if self.services.initialised:
            self._start_locked()
        else:
            gate = FirstRunWindow(self.services, self.tasks, self.capture.consent)
            self._show_gate(gate)

    def _start_locked(self) -> None:
        """Unlock with the keyring's passphrase when the user chose that; else ask."""
        hidden = self.start_in_tray and self.tray_available
        data_dir = self.data_dir
        if not self.services.settings.get("device.use_keyring"):
            self._show_unlock(hidden=hidden)
            return

        def from_keyring() -> bool:
            passphrase = security.keyring_fetch(data_dir)
            if passphrase is None:
                return False
            self.services.unlock(passphrase)
            return True

        def done(ok: object) -> None:
            if ok:
                # Started at login with --tray: stay in the tray, unlocked.
                self._on_unlocked(show=not hidden)
            else:
                self._show_unlock(hidden=hidden)

        def failed(err: BaseException) -> None:
            log.info("keyring unlock failed (%s); asking", type(err).__name__)
            self._show_unlock(hidden=hidden)

        self.tasks.run(from_keyring, done, failed)

    # -- gates --------------------------------------------------------------------------------
    def _show_gate(self, gate: FirstRunWindow | UnlockWindow, hidden: bool = False) -> None:
        self.gate = gate
        gate.unlocked.connect(self._on_unlocked)
        gate.rejected.connect(self._gate_closed)
        if not hidden:
            gate.show()
            centre(gate)
            gate.raise_()
            gate.activateWindow()

    def _show_unlock(self, hidden: bool = False) -> None:
        self._show_gate(UnlockWindow(self.services, self.tasks), hidden=hidden)

    # -- keyring (device.use_keyring): unlock without asking, else fall back to the window --
    def _gate_closed(self) -> None:
        if not self.services.unlocked and not self.tray_available:
            self.quit()

    def _on_unlocked(self, show: bool = True) -> None:
        setup_logging(paths.log_dir(self.data_dir))
        self.gate = None
        memory = getattr(self.services, "memory", None)
        if memory is not None:
            # The embedding model loads now, not on the first search, but once the window has
            # drawn itself: importing its engine on a worker stalls this thread (measured
            # under load: gaps of 0.5-1.4 s while torch imports), and a window shown during
            # that import stays blank.
            self._warm_timer.start(WARM_UP_AFTER_MS)
        if self.main is None:
            self.main = MainWindow(self.services, self.tasks, self.tray_available)
            self.main.lock_requested.connect(self.lock)
            self.main.quit_requested.connect(self.quit)
            add_help_menu(self.main, self.show_about)
            from ui.import_page import accept_drops_on

            accept_drops_on(self.main)  # files dropped on the window are imported
        if self._warm_timer.isActive():
            # Its first paint ends the wait for the model's load; the filter goes with it.
            self.main.installEventFilter(self)
        self.main.refresh()
        if self._open_chat_after_unlock:
            self._open_chat_after_unlock = False
            self.main.show_page("Chat")
            show = True
        if show:
            self.main.bring_forward()
        if self.tray:
            self.tray.set_state("idle", "Unlocked")
        if self.review_badge is not None:
            self.review_badge.update()
        self.autolock.start()
        self.backups.start()
        if self.capture is not None:
            self.capture.unlocked()
        self.retention.start()
        # Every unlock reads every page in the background before the first write; damage
        # found arrives as Changes(damaged=…): banner, notification, read-only.
        for notice in getattr(self.services, "notices", []):
            self._notify(notice)
        if self.services.loosened:
            self._notify(
                f"{len(self.services.loosened)} files in the data folder can be read by other "
                "users of this computer. Mnemo keeps them private (0700/0600); check who "
                f"changed them: {self.services.loosened[0]}"
            )

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # A top-level widget paints its whole tree while it handles UpdateRequest, so a 0 ms
        # timer started here fires once the first paint is done.
        if (
            event.type() == QEvent.Type.UpdateRequest
            and watched is self.main
            and self._warm_timer.isActive()
            and self._warm_timer.interval() != 0
        ):
            self._warm_timer.start(0)
        return False

    def _warm_up(self) -> None:
        if self.main is not None:
            self.main.removeEventFilter(self)  # not a Python call on every event from now on
        memory = getattr(self.services, "memory", None)
        if self.services.unlocked and memory is not None and not self._quitting:
            memory.warm_up()

    # -- actions -------------------------------------------------------------------------------
    def open(self) -> None:
        if self.services.unlocked and self.main is not None:
            self.main.bring_forward()
        elif self.gate is not None:
            self.gate.show()
            self.gate.raise_()
            self.gate.activateWindow()
        else:
            self._show_unlock()

    def show_about(self) -> None:
        if self.about is None:
            self.about = AboutWindow(self.services, self.tasks)
        self.about.refresh()
        self.about.show()
        self.about.raise_()
        self.about.activateWindow()

    def open_chat(self) -> None:
        """The tray's "Ask Mnemo…": the main window on its Chat page, question box focused."""
        if self.services.unlocked and self.main is not None:
            self.main.show_page("Chat")
            self.main.bring_forward()
            page = self.main.page("Chat")
            if page is not None:
                page.setFocus()
        else:
            self._open_chat_after_unlock = True
            self.open()

    def open_timeline(self) -> None:
        """The main window on the Timeline page at the latest frame."""
        if self.services.unlocked and self.main is not None:
            self.main.show_page("Timeline")
            self.main.bring_forward()
            page = self.main.page("Timeline")
            show_now = getattr(page, "show_now", None)
            if show_now is not None:
                show_now()
        else:
            self.open()

    def _open_review(self) -> None:
        self.open()
        if self.main is not None:
            self.main.show_page(TRUST_REVIEW)

    def import_chats(self) -> None:
        """Tray: the Import page with its file picker (after unlocking, when locked)."""
        from ui.import_page import ImportPage

        self.open()
        main = self.main
        page = main.page(ImportPage.title) if main is not None else None
        if main is not None and isinstance(page, ImportPage) and self.services.unlocked:
            main.show_page(ImportPage.title)
            page.choose_files()

    def lock(self) -> None:
        """Close windows that show content, close the store, ask for the passphrase again."""
        if not self.services.unlocked and self.main is None:
            return
        self._warm_timer.stop()
        self.autolock.timer.stop()
        self.backups.stop()
        if self.capture is not None:
            self.capture.locking()
        self.retention.stop()
        # Every window that may show content goes: dialogs, viewers, chat, the main window.
        was_showing = False
        for w in QApplication.topLevelWidgets():
            if w.metaObject().className() in _SHELL_WINDOWS:
                continue
            if w.isVisible() and w is not self.gate and w.isWindow():
                was_showing = was_showing or not isinstance(w, QMenu)
                w.hide()
        if self.main is not None:
            self.main.deleteLater()
            self.main = None
        self.services.lock()
        if self.tray:
            self.tray.set_state("locked", "Locked")
        # The unlock prompt takes the place of what was on screen; when Mnemo was only in the
        # tray (auto-lock while away), it waits there until opened.
        self._show_unlock(hidden=not was_showing and self.tray is not None)

    def quit(self) -> None:
        """Leave the event loop now. `QApplication.quit()` asks every window to close first and
        gives up when one refuses: the main window refuses (it hides to the tray), so Ctrl+Q
        from a page would leave the process running with no window."""
        self._quitting = True
        self.app.exit(0)

    def shutdown(self) -> None:
        # A refresh already scheduled, or a change still queued, must not run after the
        # windows are gone.
        self._quitting = True
        self._refresh_timer.stop()
        self._warm_timer.stop()
        self._pending.clear()
        self.autolock.stop()
        self.backups.stop()
        if self.hotkey is not None:
            self.hotkey.stop()
        if self.timeline_hotkey is not None:
            self.timeline_hotkey.stop()
        self.retention.stop()
        # Stop the work first, then wait for it: closing the store interrupts a running query
        # (the task gets StoreLocked) and closing the model host ends a streaming answer, so
        # quitting never waits for an answer or a long search to finish.
        self.services.close()
        self.tasks.wait(3_000)
        if self.tray:
            self.tray.hide()
        self.server.close()

    def _other_instance(self) -> None:
        sock: QLocalSocket | None = self.server.nextPendingConnection()
        if sock is not None:

            def show() -> None:
                sock.readAll()
                self.open()

            sock.readyRead.connect(show)
            sock.disconnected.connect(sock.deleteLater)

    def _user_error(self, text: str) -> None:
        if not self.services.unlocked and text == str(StoreLocked()):
            return  # a task that outlived the lock; the unlock prompt already says so
        parent = self.main if self.main is not None else self.gate
        QMessageBox.warning(parent, "Mnemo", text)

    @Slot(object)
    def _change_arrived(self, changes: Changes) -> None:
        if self._quitting:
            return
        self._pending.append(changes)
        if not self._refresh_timer.isActive():
            self._refresh_timer.start()

    def _notify(self, text: str) -> None:
        if self.tray is not None:
            self.tray.icon.showMessage("Mnemo", text)
        elif self.main is not None:
            self.main.statusBar().showMessage(text, 15_000)

    def _flush_changes(self) -> None:
        batch, self._pending = self._pending, []
        if any(c.locked for c in batch) and not self.services.unlocked and self.main is not None:
            self.lock()  # locked underneath us (damage found, another caller): hide content
            return
        damaged = next((c.damaged for c in batch if c.damaged), None)
        if damaged:
            self._notify(damaged)
            if self.tray:
                self.tray.set_state("error", "Read-only: the store is damaged")
        if not batch:
            return
        merged = Changes(
            memories_added=sum(c.memories_added for c in batch),
            memories_removed=sum(c.memories_removed for c in batch),
            trust=any(c.trust for c in batch),
            model=any(c.model for c in batch),
            capture=any(c.capture for c in batch),
        )
        if self.capture is not None:
            # The tray's capture section also follows the lock and capture's own settings.
            self.capture.changed(
                Changes(
                    capture=merged.capture,
                    locked=next((c.locked for c in batch if c.locked is not None), None),
                    settings=sorted({k for c in batch for k in c.settings}),
                )
            )
        if self.main is not None and self.services.unlocked:
            self.main.refresh(merged)
            if self.review_badge is not None and (
                merged.memories_added or merged.memories_removed or merged.trust
            ):
                self.review_badge.update()

    # -- one error path ------------------------------------------------------------------------
    def install_excepthooks(self) -> None:
        """An exception nothing caught, in a slot on the GUI thread or in any thread, is logged
        with its traceback and shown in the crash dialog (the same path as a failed task)."""
        self._previous_hooks: tuple[Any, Any] | None = (sys.excepthook, threading.excepthook)
        sys.excepthook = self._unhandled
        threading.excepthook = self._unhandled_in_thread

    def remove_excepthooks(self) -> None:
        hooks = getattr(self, "_previous_hooks", None)
        if hooks is not None:
            sys.excepthook, threading.excepthook = hooks
            self._previous_hooks = None

    def _unhandled(
        self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        log.error("unhandled error", exc_info=(exc_type, exc, tb))
        if isinstance(exc, UserFacingError):
            self.tasks.user_error.emit(str(exc))
        else:
            # A signal of a GUI-thread object: from another thread it is delivered queued.
            self.tasks.bug.emit("".join(traceback.format_exception(exc_type, exc, tb)))

    def _unhandled_in_thread(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None or issubclass(args.exc_type, SystemExit):
            return
        self._unhandled(args.exc_type, args.exc_value, args.exc_traceback)

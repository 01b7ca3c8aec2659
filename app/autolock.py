"""Locking by itself: after N minutes without a key press or mouse action in any Mnemo window,
and when the session's screen locks; plus scheduled backups. Qt core only (an event filter on the
application object, timers, D-Bus); the controller connects `lock_requested` to its lock.

Screen-lock detection, best first: org.freedesktop.ScreenSaver / org.gnome.ScreenSaver
`GetActive` over the session D-Bus (QtDBus), else a screen-locker process (i3lock, slock,
xsecurelock, swaylock, …) which only runs while the screen is locked. With neither, it says so
(`screen_lock_method`), and inactivity locking still works."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer, Signal

from app.tasks import TaskRunner

log = logging.getLogger(__name__)

ACTIVITY_EVENTS = {
    QEvent.Type.KeyPress,
    QEvent.Type.MouseButtonPress,
    QEvent.Type.MouseMove,
    QEvent.Type.Wheel,
    QEvent.Type.TouchBegin,
}
# Processes that exist only while the screen is locked.
LOCKER_PROCESSES = {
    "i3lock",
    "slock",
    "xsecurelock",
    "swaylock",
    "physlock",
    "xtrlock",
    "betterlockscreen",
}
DBUS_SERVICES = (
    ("org.freedesktop.ScreenSaver", "/org/freedesktop/ScreenSaver", "org.freedesktop.ScreenSaver"),
    ("org.gnome.ScreenSaver", "/org/gnome/ScreenSaver", "org.gnome.ScreenSaver"),
)


def locker_process_running(proc: Path = Path("/proc")) -> bool:
    try:
        entries = list(proc.iterdir())
    except OSError:
        return False
    for p in entries:
        if not p.name.isdigit():
            continue
        try:
            comm = (p / "comm").read_text().strip()
        except OSError:
            continue
        if comm in LOCKER_PROCESSES:
            return True
    return False


class ScreenLockProbe:
    """Answers "is the session's screen locked?" with the best method available."""

    def __init__(self) -> None:
        self.method = "none"
        self._iface: Any = None
        try:
            from PySide6.QtDBus import QDBusConnection, QDBusInterface

            bus = QDBusConnection.sessionBus()
            if bus.isConnected():
                names = bus.interface().registeredServiceNames().value() or []
                for service, path, iface in DBUS_SERVICES:
                    if service in names:
                        self._iface = QDBusInterface(service, path, iface, bus)
                        self._iface.setTimeout(500)  # asked on the GUI thread: never hang
                        self.method = f"D-Bus ({service})"
                        break
        except Exception:  # no QtDBus or no bus: fall back below
            log.info("no D-Bus screen saver interface")
        if self._iface is None and Path("/proc").is_dir():
            self.method = "screen locker process"

    @property
    def available(self) -> bool:
        return self.method != "none"

    def describe(self) -> str:
        if self.method.startswith("D-Bus"):
            return f"Screen lock is detected through {self.method}."
        if self.method == "screen locker process":
            return (
                "No screen saver service on D-Bus; Mnemo watches for a screen locker "
                "(i3lock, slock, xsecurelock, swaylock…). Other lockers are not noticed, "
                "so keep inactivity locking on."
            )
        return "Screen lock cannot be detected here; inactivity locking still works."

    def locked(self) -> bool:
        if self._iface is not None:
            reply = self._iface.call("GetActive")
            args = reply.arguments()
            return bool(args and args[0])
        if self.method == "screen locker process":
            return locker_process_running()
        return False


class AutoLock(QObject):
    """Emits `lock_requested` after inactivity or when the screen locks. `config` runs on the
    task runner (it reads settings from the database) and returns (minutes, lock_with_screen)."""

    lock_requested = Signal(str)

    def __init__(
        self,
        tasks: TaskRunner,
        config: Callable[[], tuple[int, bool]],
        is_unlocked: Callable[[], bool],
        probe: ScreenLockProbe | None = None,
        check_ms: int = 5_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.tasks = tasks
        self.config = config
        self.is_unlocked = is_unlocked
        self.probe = probe or ScreenLockProbe()
        self.monotonic = monotonic
        self.minutes = 15
        self.with_screen = True
        self.last_activity = monotonic()
        self._loading = False
        self.timer = QTimer(self)
        self.timer.setInterval(check_ms)
        self.timer.timeout.connect(self.check)
        app = QCoreApplication.instance()
        if app is not None:
            app.installEventFilter(self)

    def start(self) -> None:
        self.last_activity = self.monotonic()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()
        app = QCoreApplication.instance()
        if app is not None:
            app.removeEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() in ACTIVITY_EVENTS:
            self.last_activity = self.monotonic()
        return False

    def reload(self) -> None:
        """Read the settings on a worker; then decide."""
        if self._loading or not self.is_unlocked():
            return
        self._loading = True

        def done(values: object) -> None:
            self._loading = False
            assert isinstance(values, tuple)
            self.minutes, self.with_screen = int(values[0]), bool(values[1])
            self.decide()

        def failed(_: BaseException) -> None:
            self._loading = False

        self.tasks.run(self.config, done, failed)

    def check(self) -> None:
        self.reload()

    def decide(self) -> None:
        if not self.is_unlocked():
            return
        idle = self.monotonic() - self.last_activity
        if self.minutes > 0 and idle >= self.minutes * 60:
            log.info("locking after %.0f s of inactivity", idle)
            self.lock_requested.emit("inactivity")
        elif self.with_screen and self.probe.locked():
            log.info("locking because the screen locked")
            self.lock_requested.emit("screen")


class BackupScheduler(QObject):
    """Every hour: when a backup folder is set and the last backup there is older than the
    interval, write one (on the task runner) and keep only the newest N."""

    finished = Signal(str)

    def __init__(self, tasks: TaskRunner, run_if_due: Callable[[], str | None]) -> None:
        super().__init__()
        self.tasks = tasks
        self.run_if_due = run_if_due
        self._running = False
        self.timer = QTimer(self)
        self.timer.setInterval(3_600_000)
        self.timer.timeout.connect(self.tick)
        # The first look a minute after start (not an hour later); stopped with the rest.
        self.first = QTimer(self)
        self.first.setSingleShot(True)
        self.first.setInterval(60_000)
        self.first.timeout.connect(self.tick)

    def start(self) -> None:
        self.timer.start()
        self.first.start()

    def stop(self) -> None:
        self.timer.stop()
        self.first.stop()

    def tick(self) -> None:
        if self._running:
            return
        self._running = True

        def done(result: object) -> None:
            self._running = False
            if isinstance(result, str):
                self.finished.emit(result)

        def failed(err: BaseException) -> None:
            self._running = False
            log.warning("scheduled backup failed: %s", type(err).__name__)
            self.finished.emit(f"Scheduled backup failed: {err}")

        self.tasks.run(self.run_if_due, done, failed)

"""Auto-lock decisions (inactivity, screen lock), the screen-locker process fallback, and the
scheduled backup service call."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from app.autolock import AutoLock, ScreenLockProbe, locker_process_running
from app.services import Services
from app.tasks import TaskRunner
from core import backup as backups
from core.keys import TEST_KDF
from tests.storehelp import PASSPHRASE


class FakeProbe(ScreenLockProbe):
    def __init__(self) -> None:
        self.method = "fake"
        self.screen_locked = False

    def locked(self) -> bool:
        return self.screen_locked


@pytest.fixture
def tasks(qtbot: QtBot) -> TaskRunner:
    runner = TaskRunner()
    yield runner
    runner.wait(5000)


def _autolock(
    tasks: TaskRunner, minutes: int, with_screen: bool
) -> tuple[AutoLock, list[float], FakeProbe]:
    now = [0.0]
    probe = FakeProbe()
    lock = AutoLock(
        tasks, lambda: (minutes, with_screen), lambda: True, probe=probe, monotonic=lambda: now[0]
    )
    return lock, now, probe


def test_locks_after_inactivity_and_activity_resets(qtbot: QtBot, tasks: TaskRunner) -> None:
    lock, now, _ = _autolock(tasks, 2, False)
    reasons: list[str] = []
    lock.lock_requested.connect(reasons.append)
    lock.start()
    now[0] = 100.0
    w = QWidget()
    qtbot.addWidget(w)
    QApplication.sendEvent(
        w, QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_A, Qt.KeyboardModifier.NoModifier)
    )
    assert lock.last_activity == 100.0
    now[0] = 100.0 + 119
    lock.check()
    qtbot.wait(200)
    assert reasons == []
    now[0] = 100.0 + 121
    lock.check()
    qtbot.waitUntil(lambda: reasons == ["inactivity"], timeout=3000)
    lock.stop()


def test_zero_minutes_never_locks_but_screen_lock_does(qtbot: QtBot, tasks: TaskRunner) -> None:
    lock, now, probe = _autolock(tasks, 0, True)
    reasons: list[str] = []
    lock.lock_requested.connect(reasons.append)
    now[0] = 10_000.0
    lock.check()
    qtbot.wait(200)
    assert reasons == []
    probe.screen_locked = True
    lock.check()
    qtbot.waitUntil(lambda: reasons == ["screen"], timeout=3000)
    lock.stop()


def test_screen_lock_ignored_when_turned_off(qtbot: QtBot, tasks: TaskRunner) -> None:
    lock, _, probe = _autolock(tasks, 0, False)
    reasons: list[str] = []
    lock.lock_requested.connect(reasons.append)
    probe.screen_locked = True
    lock.check()
    qtbot.wait(300)
    assert reasons == []
    lock.stop()


def test_locker_process_fallback(tmp_path: Path) -> None:
    for pid, comm in ((12, "bash"), (40, "i3lock")):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "comm").write_text(comm + "\n")
    assert locker_process_running(tmp_path)
    (tmp_path / "40" / "comm").write_text("vim\n")
    assert not locker_process_running(tmp_path)
    assert ScreenLockProbe().describe()  # says how (or that it cannot) on this machine


def test_scheduled_backup_writes_when_due_and_prunes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    s = Services(tmp_path / "data")
    s.create(PASSPHRASE, kdf=TEST_KDF)
    assert s.run_scheduled_backup() is None  # no folder: off
    folder = tmp_path / "backups"
    s.settings.set("backup.folder", str(folder))
    with pytest.raises(backups.BadInput, match="does not exist"):
        s.run_scheduled_backup()
    folder.mkdir()
    s.settings.set("backup.keep", 2)
    for i in range(3):
        old = folder / backups.default_name(1_600_000_000 + i)
        old.write_bytes(b"old")
        os.utime(old, (1_600_000_000 + i, 1_600_000_000 + i))
    assert "Backed up" in (s.run_scheduled_backup() or "")
    assert len(backups.backups_in(folder)) == 2
    assert s.run_scheduled_backup() is None  # not due again for 24 h
    s.close()


def test_backup_scheduler_stop_leaves_no_timer_running(qtbot: QtBot, tasks: TaskRunner) -> None:
    """Lock or quit stops the hourly check and the first look a minute after start."""
    from app.autolock import BackupScheduler

    scheduler = BackupScheduler(tasks, lambda: None)
    scheduler.start()
    assert scheduler.timer.isActive() and scheduler.first.isActive()
    scheduler.stop()
    assert not scheduler.timer.isActive() and not scheduler.first.isActive()

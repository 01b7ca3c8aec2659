"""R15 in the app shell: locking hides every window that shows content (the main window and any
viewer or dialog), closes the store, and puts the unlock prompt in their place."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import pytest
from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication, QDialog, QLabel
from pytestqt.qtbot import QtBot

from app.services import Services
from core.errors import StoreLocked
from core.keys import TEST_KDF
from tests.storehelp import PASSPHRASE
from ui.controller import WARM_UP_AFTER_MS, Controller
from ui.unlock import UnlockWindow


@pytest.fixture(autouse=True)
def _runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))


def test_lock_hides_content_windows_and_shows_the_unlock_prompt(
    qtbot: QtBot, tmp_path: Path
) -> None:
    setup = Services(tmp_path / "data")
    setup.create(PASSPHRASE, kdf=TEST_KDF)
    setup.close()
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    c = Controller(app, tmp_path / "data", f"mnemo-test-{os.getpid()}")
    try:
        c.start()
        qtbot.waitUntil(
            lambda: isinstance(c.gate, UnlockWindow) and c.gate.isVisible(), timeout=5000
        )
        gate = c.gate
        assert isinstance(gate, UnlockWindow)
        gate.passphrase.setText(PASSPHRASE)
        gate.button.click()
        qtbot.waitUntil(lambda: c.main is not None and c.main.isVisible(), timeout=10_000)
        viewer = QDialog()
        viewer.setWindowTitle("A memory")
        QLabel("some remembered text", viewer)
        viewer.show()
        qtbot.addWidget(viewer)
        main = c.main
        c.lock()
        assert not viewer.isVisible() and not main.isVisible()
        assert c.main is None and not c.services.unlocked
        assert isinstance(c.gate, UnlockWindow) and c.gate.isVisible()
        with pytest.raises(StoreLocked):
            c.services.add_note("x")
        assert not c.autolock.timer.isActive()
    finally:
        c.tasks.wait(10_000)
        c.shutdown()
        if c.gate is not None:
            c.gate.close()


def test_a_refresh_scheduled_before_shutdown_does_not_run_after_it(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seen under load: a lock notice queued just before shutdown fired after the windows
    were deleted and tried to lock a window that no longer existed."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    c = Controller(app, tmp_path / "data", f"mnemo-test-lock-{os.getpid()}")
    c.services.create(PASSPHRASE, TEST_KDF)
    c._on_unlocked()
    main = c.main
    assert main is not None
    locks: list[bool] = []
    monkeypatch.setattr(c, "lock", lambda: locks.append(True))
    c.services.lock()  # the store locks underneath the window: a locked notice is queued
    assert c._refresh_timer.isActive()
    c.tasks.wait(10_000)
    c.shutdown()
    qtbot.wait(400)  # longer than the refresh interval: nothing may fire now
    assert locks == []
    c.tasks.wait(10_000)
    main.hide()
    main.deleteLater()


def test_a_task_that_outlives_the_lock_shows_no_error(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The unlock prompt already says Mnemo is locked; a search or refresh that was running
    when it locked must not add a warning box on top of it."""
    import ui.controller as controller_module

    shown: list[str] = []

    def warning(_parent: object, _title: str, text: str) -> None:
        shown.append(text)

    monkeypatch.setattr(controller_module.QMessageBox, "warning", staticmethod(warning))
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    c = Controller(app, tmp_path / "data", f"mnemo-test-lock2-{os.getpid()}")
    try:
        c.services.create(PASSPHRASE, TEST_KDF)
        c.lock()
        c.tasks.user_error.emit(str(StoreLocked()))
        c.tasks.user_error.emit("That file is not a chat export.")
        assert shown == ["That file is not a chat export."]
    finally:
        c.tasks.wait(10_000)
        c.shutdown()
        if c.gate is not None:
            c.gate.close()


def test_the_embedding_model_loads_after_the_window_is_shown_and_not_after_a_lock(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Importing the embedding engine on a worker stalls the GUI thread for up to seconds
    (measured: gaps of 0.5-1.4 s under load), so it starts once the window has drawn itself
    (or after a fallback delay); a lock before then cancels it."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    c = Controller(app, tmp_path / "data", f"mnemo-test-warm-{os.getpid()}")
    c.services.create(PASSPHRASE, TEST_KDF)
    loads: list[bool] = []
    try:
        monkeypatch.setattr(type(c.services.memory), "warm_up", lambda self: loads.append(True))
        c._on_unlocked()
        assert c.main is not None and c.main.isVisible()
        assert loads == [] and c._warm_timer.isActive()
        qtbot.waitUntil(lambda: loads == [True], timeout=5000)
        # The window's first paint ends the wait (the timer is the fallback).
        c.lock()
        c.services.unlock(PASSPHRASE)
        c._on_unlocked()
        assert c._warm_timer.interval() == WARM_UP_AFTER_MS
        QApplication.sendEvent(c.main, QEvent(QEvent.Type.UpdateRequest))
        assert c._warm_timer.isActive() and c._warm_timer.interval() == 0
        qtbot.waitUntil(lambda: loads == [True, True], timeout=5000)
        # Once the wait is over, the window's events no longer pass through the controller.
        c._warm_timer.start(WARM_UP_AFTER_MS)
        QApplication.sendEvent(c.main, QEvent(QEvent.Type.UpdateRequest))
        assert c._warm_timer.interval() == WARM_UP_AFTER_MS
        c._warm_timer.stop()
        c.lock()
        c.services.unlock(PASSPHRASE)
        c._on_unlocked()
        c.lock()  # before the timer fired
        qtbot.wait(WARM_UP_AFTER_MS + 300)
        assert loads == [True, True] and not c._warm_timer.isActive()
    finally:
        c.tasks.wait(10_000)
        c.shutdown()
        if c.gate is not None:
            c.gate.close()

"""First-run and unlock windows (pytest-qt, offscreen): create a store, a wrong passphrase shows
the message, repeated failures make the next try wait, the right one emits unlocked."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.services import Services
from app.tasks import TaskRunner
from core.keys import TEST_KDF
from tests.storehelp import PASSPHRASE
from ui.unlock import FirstRunWindow, UnlockWindow


@pytest.fixture(autouse=True)
def _runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))


@pytest.fixture
def tasks(qtbot: QtBot) -> TaskRunner:
    runner = TaskRunner()
    yield runner
    runner.wait(10_000)


def test_first_run_creates_the_store(qtbot: QtBot, tmp_path: Path, tasks: TaskRunner) -> None:
    services = Services(tmp_path / "data")
    w = FirstRunWindow(services, tasks)
    qtbot.addWidget(w)
    w.show()
    assert not w.create.isEnabled()
    qtbot.keyClicks(w.first, PASSPHRASE)
    qtbot.keyClicks(w.second, PASSPHRASE[:-1] + "X")
    assert w.error.isVisible() and "differ" in w.error.text()
    assert not w.create.isEnabled()
    w.second.clear()
    qtbot.keyClicks(w.second, PASSPHRASE)
    assert w.create.isEnabled() and not w.error.isVisible()
    with qtbot.waitSignal(w.unlocked, timeout=15_000):
        w.create.click()
    assert services.unlocked and (tmp_path / "data" / "mnemo.key").exists()
    assert w.first.text() == "" and w.second.text() == ""
    services.close()


def test_unlock_wrong_then_waits_then_right(
    qtbot: QtBot, tmp_path: Path, tasks: TaskRunner
) -> None:
    setup = Services(tmp_path / "data")
    setup.create(PASSPHRASE, kdf=TEST_KDF)
    setup.add_note("hello")
    setup.close()
    services = Services(tmp_path / "data")
    w = UnlockWindow(services, tasks)
    qtbot.addWidget(w)
    w.show()
    for attempt in range(1, 4):
        w.passphrase.setText("not my passphrase")
        w.button.click()
        qtbot.waitUntil(lambda a=attempt: w.failures == a, timeout=10_000)
        assert w.error.isVisible() and "Wrong passphrase" in w.error.text()
        assert not services.unlocked
    # After the third mistake the next try waits (2 s, then 4, 8… up to a minute).
    assert [UnlockWindow.delay_after(n) for n in (1, 2, 3, 4, 5, 12)] == [0, 0, 2, 4, 8, 60]
    assert not w.button.isEnabled() and w.button.text() == "Wait 2 s"
    w.passphrase.setText(PASSPHRASE)
    w.button.click()  # ignored while waiting
    assert not services.unlocked
    qtbot.waitUntil(w.button.isEnabled, timeout=5_000)
    with qtbot.waitSignal(w.unlocked, timeout=15_000):
        w.button.click()
    assert services.unlocked and services.status()["memories"]["total"] == 1
    assert w.passphrase.text() == ""
    services.close()


def test_the_wrong_passphrase_dialog_grows_to_show_its_whole_message(
    qtbot: QtBot, tmp_path: Path, tasks: TaskRunner
) -> None:
    services = Services(tmp_path / "data")
    services.create(PASSPHRASE, TEST_KDF)
    services.lock()
    w = UnlockWindow(services, tasks)
    qtbot.addWidget(w)
    w.show()
    w.resize(460, w.minimumSizeHint().height())  # as small as it opens
    qtbot.keyClicks(w.passphrase, "not the passphrase at all")
    w.button.click()
    qtbot.waitUntil(lambda: w.error.isVisible() and w.error.text().startswith("Wrong"))
    w.show_error(
        "Wrong passphrase. Nothing was changed; try again. " * 3
    )  # a long message wraps onto several lines
    qtbot.waitUntil(lambda: w.error.height() >= w.error.heightForWidth(w.error.width()))
    assert w.button.geometry().bottom() <= w.height()  # nothing pushed out of the window


def test_strength_is_said_once() -> None:
    from core.passphrase import MIN_LENGTH, strength_text

    text = strength_text("correct horse battery staple violet harbour 93!")
    assert text == "Strength: strong. Make sure you will remember it."
    assert strength_text("") == f"Use at least {MIN_LENGTH} characters."

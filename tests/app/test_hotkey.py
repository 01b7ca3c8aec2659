"""The system-wide shortcut on a real X server (Xvfb): a synthetic key press of the combination
reaches the app; a combination another client holds is reported, not fatal."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from app.hotkey import GlobalHotkey
from tests.xdisplay import start_xvfb, stop_xvfb

pytestmark = pytest.mark.skipif(
    not (shutil.which("Xvfb") and shutil.which("xdotool")), reason="needs Xvfb and xdotool"
)


@pytest.fixture(scope="module")
def xserver() -> Iterator[str]:
    proc, name = start_xvfb("1280x800x24", "-noreset")
    yield name
    stop_xvfb(proc)


def press(display: str, keys: str) -> None:
    env = {**os.environ, "DISPLAY": display}
    subprocess.run(["xdotool", "key", keys], env=env, check=True, timeout=10)


def test_the_combination_fires_pressed_on_the_gui_thread(qtbot, xserver) -> None:
    import threading

    before = set(threading.enumerate())
    hotkey = GlobalHotkey("Ctrl+Alt+M", display=xserver)
    assert hotkey.start(), hotkey.problem
    assert set(threading.enumerate()) == before, "the shortcut needs no thread of its own"
    try:
        with qtbot.waitSignal(hotkey.pressed, timeout=3000):
            press(xserver, "ctrl+alt+m")
        # Another combination does not.
        with qtbot.assertNotEmitted(hotkey.pressed, wait=300):
            press(xserver, "ctrl+m")
    finally:
        hotkey.stop()
    assert not hotkey.available and hotkey._notifier is None


def test_a_combination_already_taken_is_reported(qtbot, xserver) -> None:
    first = GlobalHotkey("Ctrl+Alt+K", display=xserver)
    assert first.start(), first.problem
    try:
        second = GlobalHotkey("Ctrl+Alt+K", display=xserver)
        assert not second.start()
        assert "already uses" in second.problem
    finally:
        first.stop()


def test_bad_names_and_no_display_are_reported(monkeypatch) -> None:
    bad = GlobalHotkey("Ctrl+Hyper+M", display=":0")
    assert not bad.start() and "unknown modifier" in bad.problem
    monkeypatch.delenv("DISPLAY", raising=False)
    h = GlobalHotkey()
    assert not h.start() and "X11" in h.problem

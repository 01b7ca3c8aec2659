"""The real app on a fresh virtual display: first run typed with xdotool, the main window and
the tray icon appear, a screenshot is saved; Ctrl+L locks and the unlock window replaces the
content."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.security import UnlockThrottle
from app.services import Services
from core.errors import WrongPassphrase
from core.keys import unlock_key
from tests.storehelp import PASSPHRASE, ROOT
from tests.xdisplay import start_xvfb, stop_xvfb

NEW_PASSPHRASE = "a brand new passphrase"

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def display(tmp_path: Path) -> Iterator[dict[str, str]]:
    for tool in ("Xvfb", "xdotool"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (apt-get install xvfb xdotool trayer)")
    xvfb, name = start_xvfb("1400x900x24")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MNEMO_", "WAYLAND"))}
    env.update(DISPLAY=name, XDG_RUNTIME_DIR=str(tmp_path), QT_QPA_PLATFORM="xcb")
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    tray = None
    if shutil.which("trayer"):
        tray = subprocess.Popen(
            ["trayer", "--edge", "top", "--align", "right", "--widthtype", "request"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
    env["MNEMO_TEST_TRAY"] = "1" if tray else "0"
    try:
        yield env
    finally:
        if tray is not None:
            tray.terminate()
            tray.wait(10)
        stop_xvfb(xvfb)


def xdo(env: dict[str, str], *args: str) -> str:
    r = subprocess.run(["xdotool", *args], env=env, capture_output=True, text=True, timeout=30)
    return r.stdout.strip()


def wait_window(env: dict[str, str], name: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for wid in xdo(env, "search", "--onlyvisible", "--name", name).split():
            return wid
        time.sleep(0.2)
    raise AssertionError(f"no visible window named {name!r}")


def screenshot(env: dict[str, str], out: Path) -> None:
    code = (
        "import mss, sys\nfrom PIL import Image\n"
        "with mss.mss() as s:\n    shot = s.grab(s.monitors[0])\n"
        "Image.frombytes('RGB', shot.size, shot.rgb).save(sys.argv[1])\n"
    )
    subprocess.run([sys.executable, "-c", code, str(out)], env=env, check=True, timeout=30)


def painted(env: dict[str, str], app: subprocess.Popen[str], shot: Path) -> float:
    """Seconds until the display shows a drawn window (a screenshot with content, not the bare
    root); the app dying meanwhile fails with its output, and nothing drawn in 15 s fails."""
    start = time.monotonic()
    while True:
        if app.poll() is not None:
            out = app.stdout.read() if app.stdout else ""
            raise AssertionError(f"the app exited with {app.returncode}:\n{out}")
        screenshot(env, shot)
        if shot.stat().st_size > 10_000:
            return time.monotonic() - start
        if time.monotonic() - start > 15:
            raise AssertionError(f"nothing drawn on the display ({shot.stat().st_size} bytes)")
        time.sleep(0.1)


def test_first_run_main_window_tray_and_lock(display: dict[str, str], tmp_path: Path) -> None:
    env = display
    data = tmp_path / "data"
    app = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "--data-dir", str(data)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        first = wait_window(env, "Welcome to Mnemo")
        xdo(env, "windowactivate", "--sync", first)
        xdo(env, "windowfocus", "--sync", first)
        for _ in range(2):
            xdo(env, "type", "--delay", "5", PASSPHRASE)
            xdo(env, "key", "Return")
        main = wait_window(env, "^Mnemo$", timeout=30)
        assert (data / "mnemo.key").exists() and (data / "mnemo.db").exists()
        painted(env, app, tmp_path / "main.png")
        if env["MNEMO_TEST_TRAY"] == "1":
            # The tray icon is an embedded window of our process (XEmbed, inside trayer).
            pid_windows = xdo(env, "search", "--pid", str(app.pid), "").split()
            assert len(pid_windows) >= 2, "no tray icon window"
        # Settings -> Security by keyboard: the navigation's last entry, then the tab bar.
        from core.settings import SETTINGS

        sections = list(dict.fromkeys(st.section for st in SETTINGS))
        geometry = xdo(env, "getwindowgeometry", main)
        xdo(
            env, "mousemove", "--window", main, "60", "60", "click", "1"
        )  # the nav rail, below the menu bar
        xdo(env, "key", "End", "Tab")
        xdo(env, "key", *["Right"] * sections.index("security"))
        time.sleep(0.5)
        screenshot(env, tmp_path / "settings-security.png")
        assert geometry
        # Change the passphrase there: current, new, again, Enter.
        xdo(env, "key", "Tab")
        for text, then in (
            (PASSPHRASE, "Tab"),
            (NEW_PASSPHRASE, "Tab"),
            (NEW_PASSPHRASE, "Return"),
        ):
            xdo(env, "type", "--delay", "5", text)
            xdo(env, "key", then)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                unlock_key(data, NEW_PASSPHRASE).wipe()
                break
            except WrongPassphrase:
                time.sleep(0.3)
        else:
            screenshot(env, tmp_path / "passphrase-not-changed.png")
            raise AssertionError("the passphrase was not changed from Settings")
        # Auto-lock after 5 minutes: Tab past "Lock now" to the minutes field.
        xdo(env, "key", "Tab", "Tab", "ctrl+a")
        xdo(env, "type", "5")
        xdo(env, "key", "Tab")
        time.sleep(0.5)
        screenshot(env, tmp_path / "passphrase-changed.png")
        reader = Services(data)
        reader.throttle = UnlockThrottle(data, runtime_dir=tmp_path / "reader")
        reader.unlock(NEW_PASSPHRASE)
        try:
            assert reader.settings.get("security.autolock_minutes") == 5
        finally:
            reader.close()
        # Ctrl+L locks: the content goes, the unlock window comes.
        xdo(env, "windowactivate", "--sync", main)
        xdo(env, "key", "ctrl+l")
        wait_window(env, "Unlock Mnemo", timeout=15)
        time.sleep(0.3)
        screenshot(env, tmp_path / "locked.png")
        assert xdo(env, "search", "--onlyvisible", "--name", "^Mnemo$") == ""
        # The new passphrase opens it again.
        gate = wait_window(env, "Unlock Mnemo")
        xdo(env, "windowactivate", "--sync", gate)
        xdo(env, "type", "--delay", "5", NEW_PASSPHRASE)
        xdo(env, "key", "Return")
        wait_window(env, "^Mnemo$", timeout=30)
        assert app.poll() is None, app.stdout.read() if app.stdout else ""
    finally:
        app.terminate()
        try:
            out, _ = app.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            app.kill()
            out, _ = app.communicate()
    assert "Traceback" not in (out or ""), out

"""The app shell on a real X display with a system tray (Xvfb + trayer): the tray icon is
still there after lock and unlock, and Ctrl+Q leaves from every page within 3 s."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_first_run import display

__all__ = ["display"]

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHILD = Path(__file__).with_name("shell_child.py")


def test_tray_icon_survives_lock_and_ctrl_q_quits_from_every_page(
    display: dict[str, str], tmp_path: Path
) -> None:
    if display.get("MNEMO_TEST_TRAY") != "1" or shutil.which("trayer") is None:
        pytest.skip("trayer is not installed: no system tray on the virtual display")
    r = subprocess.run(
        [sys.executable, str(CHILD), str(tmp_path / "data")],
        env=display,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    seen = json.loads(r.stdout.strip().splitlines()[-1])
    assert seen["tray"] is True
    assert seen["tray_unlocked"] is True
    assert seen["tray_locked"] is True, "the tray icon went away when Mnemo locked"
    assert seen["tray_relocked_unlocked"] is True, "no tray icon after unlocking again"
    assert seen["quit_chat_soon_s"] is not None, "Ctrl+Q on the Chat page left Mnemo running"
    quits = seen["quit_s"]
    assert len(quits) >= 5 and "Chat" in quits
    stuck = [page for page, took in quits.items() if took is None]
    assert not stuck, f"Ctrl+Q did not quit from: {stuck}"
    assert max(quits.values()) < 3.0, quits
    assert seen["shutdown_s"] < 3.0, seen

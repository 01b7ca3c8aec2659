"""Is there a display to show windows on? Answered without Qt, so a missing display gives one
clear line instead of Qt's abort."""

from __future__ import annotations

import os
import sys
from pathlib import Path

NO_DISPLAY_MESSAGE = (
    "mnemo: no display found, so the desktop app cannot start. Run it inside a desktop "
    "session, or on a virtual display (e.g. 'xvfb-run make run'). The command line works "
    "without a display: 'python main.py --help'."
)


def display_problem() -> str | None:
    """None when windows can be shown; otherwise a message saying what to do."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform.startswith(("offscreen", "minimal", "vnc")):
        return None
    if sys.platform != "linux":
        return None
    if os.environ.get("WAYLAND_DISPLAY") and not os.environ.get("DISPLAY"):
        return None
    display = os.environ.get("DISPLAY")
    if not display:
        return NO_DISPLAY_MESSAGE
    host, _, rest = display.partition(":")
    number = rest.split(".")[0]
    socket_missing = not Path(f"/tmp/.X11-unix/X{number}").exists()
    if host in ("", "unix") and number.isdigit() and socket_missing:
        return NO_DISPLAY_MESSAGE.replace(
            "no display found", f"the display {display} is not running"
        )
    return None

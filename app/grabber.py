"""Grabs each monitor's pixels with mss into numpy BGRA arrays (no copies beyond mss's own).
Create it on the capture thread that uses it; X11 (and later Windows/macOS), not Wayland."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.window_context import WAYLAND_MESSAGE, is_wayland_session, local_display_missing
from core.capture.geometry import Rect
from core.errors import UserFacingError

log = logging.getLogger(__name__)


class ScreenUnavailable(UserFacingError):
    """The screen cannot be read here (Wayland, no display, display gone)."""

    code = "unavailable"


@dataclass(frozen=True, slots=True)
class Monitor:
    index: int  # mss index, 1-based; stable while the layout does not change
    x: int
    y: int
    w: int
    h: int
    name: str | None = None
    primary: bool = False

    @property
    def rect(self) -> Rect:
        return Rect(self.x, self.y, self.w, self.h)

    @property
    def key(self) -> str:
        """An id for per-monitor state (change detection): changes when the layout does."""
        return f"{self.name or self.index}@{self.x},{self.y},{self.w}x{self.h}"


@dataclass(slots=True)
class Frame:
    monitor: Monitor
    pixels: np.ndarray  # (h, w, 4) uint8 BGRA, writable (black_out works in place)
    time: float  # seconds since the epoch, when the grab finished
    grab_seconds: float


class ScreenGrabber:
    def __init__(
        self, display: str | None = None, environ: Mapping[str, str] | None = None
    ) -> None:
        env = os.environ if environ is None else environ
        if sys.platform.startswith("linux"):
            if is_wayland_session(env):
                raise ScreenUnavailable(WAYLAND_MESSAGE)
            display = display or env.get("DISPLAY")
            if not display:
                raise ScreenUnavailable(
                    "No X display is set (DISPLAY is empty), so the screen cannot be captured. "
                    "Start Mnemo from your desktop session."
                )
        self._display = display
        self._sct: Any = None

    def _mss(self) -> Any:
        if self._sct is None:
            import mss

            kwargs: dict[str, Any] = {}
            if sys.platform.startswith("linux"):
                problem = local_display_missing(self._display)
                if problem:
                    raise ScreenUnavailable(
                        f"The screen cannot be captured: {problem}. Start Mnemo from your "
                        "desktop session."
                    )
                kwargs["display"] = self._display
            try:
                self._sct = mss.MSS(**kwargs)
            except mss.ScreenShotError as e:
                raise ScreenUnavailable(
                    f"Cannot open the display {self._display or ''} to capture the screen ({e})."
                    " Check that your desktop session is running."
                ) from None
        return self._sct

    def close(self) -> None:
        if self._sct is not None:
            try:
                self._sct.close()
            finally:
                self._sct = None

    def refresh(self) -> None:
        """Forget the monitor layout (after a monitor was plugged or unplugged)."""
        self.close()

    def monitors(self) -> list[Monitor]:
        out = []
        for i, m in enumerate(self._mss().monitors):
            if i == 0:
                continue  # mss's index 0 is the union of all monitors
            out.append(
                Monitor(
                    index=i,
                    x=int(m["left"]),
                    y=int(m["top"]),
                    w=int(m["width"]),
                    h=int(m["height"]),
                    name=m.get("output") or m.get("name"),
                    primary=bool(m.get("is_primary", False)),
                )
            )
        return out

    def grab(self, monitor: Monitor) -> Frame:
        import mss

        t0 = time.perf_counter()
        try:
            shot = self._mss().grab(
                {"left": monitor.x, "top": monitor.y, "width": monitor.w, "height": monitor.h}
            )
        except mss.ScreenShotError as e:
            self.close()
            raise ScreenUnavailable(
                f"The screen could not be read ({e}). Capture resumes when it can."
            ) from None
        w, h = shot.size
        pixels = np.frombuffer(shot.raw, dtype=np.uint8).reshape(h, w, 4)
        return Frame(monitor, pixels, time.time(), time.perf_counter() - t0)

    def grab_all(self) -> list[Frame]:
        return [self.grab(m) for m in self.monitors()]

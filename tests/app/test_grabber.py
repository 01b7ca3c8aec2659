"""The mss screen grabber on a real (virtual) display."""

from __future__ import annotations

import numpy as np
import pytest

from app.grabber import ScreenGrabber, ScreenUnavailable
from core.capture.change import ChangeDetector
from core.capture.exclusions import black_out
from core.capture.geometry import Rect
from tests.app.conftest import wait_for


def test_lists_the_monitor_and_grabs_bgra(xvfb: str) -> None:
    g = ScreenGrabber(xvfb, environ={"DISPLAY": xvfb})
    try:
        monitors = g.monitors()
        assert [(m.x, m.y, m.w, m.h) for m in monitors] == [(0, 0, 1280, 800)]
        frame = g.grab(monitors[0])
        assert frame.pixels.shape == (800, 1280, 4) and frame.pixels.dtype == np.uint8
        assert frame.pixels.flags.writeable
        assert frame.monitor == monitors[0] and frame.grab_seconds > 0
    finally:
        g.close()


def test_sees_a_window_and_its_changes(xvfb: str, open_window) -> None:
    g = ScreenGrabber(xvfb, environ={"DISPLAY": xvfb})
    try:
        monitor = g.monitors()[0]
        detector = ChangeDetector()
        detector.detect(monitor.key, g.grab(monitor).pixels)
        open_window("red", "200x100+400+300", colour="#ff0000")

        def red_seen() -> bool:
            px = g.grab(monitor).pixels
            return bool((px[310:390, 410:590, :3] == (0, 0, 255)).all())

        assert wait_for(red_seen)
        change = detector.detect(monitor.key, g.grab(monitor).pixels)
        assert change.changed
        assert any(r.intersect(Rect(400, 300, 200, 100)) for r in change.regions)
        # Nothing moves: the next grab is unchanged.
        assert not detector.detect(monitor.key, g.grab(monitor).pixels).changed
        # Blacking out works on the grabbed array in place.
        frame = g.grab(monitor)
        black_out(frame.pixels, [Rect(400, 300, 200, 100)])
        assert not frame.pixels[300:400, 400:600, :3].any()
    finally:
        g.close()


def test_grab_all_gives_one_frame_per_monitor(xvfb: str) -> None:
    g = ScreenGrabber(xvfb, environ={"DISPLAY": xvfb})
    try:
        frames = g.grab_all()
        assert len(frames) == len(g.monitors()) == 1
    finally:
        g.close()


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"XDG_SESSION_TYPE": "wayland", "DISPLAY": ":0"}, "Wayland"),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "Wayland"),
        ({}, "DISPLAY"),
    ],
)
def test_wayland_and_missing_display_are_clear_errors(environ: dict, message: str) -> None:
    with pytest.raises(ScreenUnavailable, match=message):
        ScreenGrabber(environ=environ)


def test_a_display_that_is_not_running_is_a_clear_error() -> None:
    g = ScreenGrabber(":4986", environ={"DISPLAY": ":4986"})
    with pytest.raises(ScreenUnavailable, match="not running"):
        g.monitors()

"""The capture pieces together on a real display with real OCR: grab, change detection, window
context, exclusion decision, blackout, region OCR, redaction, memories per window. Storage and
the service loop are not part of this test."""

from __future__ import annotations

import time

import numpy as np
import pytest

from app.grabber import ScreenGrabber
from app.window_context import X11WindowContext
from core.capture.change import ChangeDetector, RegionTextCache
from core.capture.exclusions import ExclusionRules, decide
from core.capture.frame import process_frame
from core.redaction import RedactionSettings
from models.ocr import RapidOcrEngine
from tests.app.conftest import wait_for


@pytest.fixture(scope="module")
def ocr() -> RapidOcrEngine:
    return RapidOcrEngine()


def test_text_of_a_window_becomes_a_memory_and_excluded_text_never_does(
    xvfb: str, open_window, ocr: RapidOcrEngine
) -> None:
    grabber = ScreenGrabber(xvfb, environ={"DISPLAY": xvfb})
    ctx = X11WindowContext(xvfb)
    try:
        monitor = grabber.monitors()[0]
        detector, cache = ChangeDetector(), RegionTextCache()
        detector.detect(monitor.key, grabber.grab(monitor).pixels)  # the empty screen
        open_window(
            "Project notes",
            "560x160+40+40",
            colour="white",
            text="Quarterly planning meeting|Password: hunter2",
        )
        open_window(
            "Passwords.kdbx - KeePassXC",
            "420x120+700+400",
            colour="white",
            comm="keepassxc",
            text="Canary vault entry",
        )
        assert wait_for(lambda: len(ctx.windows()) >= 2)
        time.sleep(0.3)  # let Tk paint its labels

        before = ctx.windows()
        frame = grabber.grab(monitor)
        windows, locked = ctx.snapshot()
        change = detector.detect(monitor.key, frame.pixels)
        decision = decide(before, monitor.rect, ExclusionRules(), locked, after=windows)
        result = process_frame(
            frame.pixels, change, decision, ocr, cache, RedactionSettings(), frame.time
        )
    finally:
        ctx.close()
        grabber.close()

    assert result.dropped is None
    notes = [m for m in result.memories if m.title == "Project notes"]
    assert len(notes) == 1, [m.title for m in result.memories]
    memory = notes[0]
    assert memory.app is not None and memory.app.startswith("python")
    assert "Quarterly planning meeting" in memory.text
    assert "[redacted password]" in memory.text
    everything = repr(result.memories)
    assert "hunter2" not in everything
    assert "Canary" not in everything and "vault" not in everything
    # The excluded window is black in the pixels that would be stored.
    assert not frame.pixels[400:520, 700:1120, :3].any()
    assert result.redactions == {"password": 1}
    assert result.regions_ocred >= 1
    assert np.asarray(frame.pixels).shape == (800, 1280, 4)

"""The per-frame step with fakes: blackout, OCR of changed regions, reuse, redaction, grouping."""

from __future__ import annotations

import numpy as np

from core.capture.change import ChangeDetector, RegionTextCache
from core.capture.exclusions import DropReason, ExclusionRules, decide
from core.capture.frame import process_frame
from core.capture.geometry import Rect
from core.interfaces import OcrBox, WindowInfo
from core.redaction import RedactionSettings
from tests.capture_fakes import FakeOcrEngine, FakeWindowContext

MONITOR = Rect(0, 0, 800, 600)


def _draw(frame: np.ndarray, boxes: list[OcrBox], value: int = 40) -> None:
    for b in boxes:
        frame[b.y : b.y + b.h, b.x : b.x + b.w, :3] = value


def _setup() -> tuple[np.ndarray, FakeOcrEngine, FakeWindowContext]:
    boxes = [
        OcrBox(20, 20, 200, 20, "Meeting notes", 0.99),
        OcrBox(20, 60, 100, 20, "Password:", 0.99),
        OcrBox(130, 60, 90, 20, "hunter2", 0.99),
        OcrBox(420, 20, 200, 20, "Vault: bank login", 0.99),  # inside the password manager
        OcrBox(420, 400, 200, 20, "Build passed", 0.99),
    ]
    frame = np.full((600, 800, 4), 255, np.uint8)
    _draw(frame, boxes)
    ctx = FakeWindowContext(
        [
            WindowInfo("gedit", "notes.txt", 0, 0, 400, 600),
            WindowInfo("keepassxc", "KeePassXC", 400, 0, 400, 300, active=True),
            WindowInfo("xterm", "make", 400, 300, 400, 300),
        ]
    )
    return frame, FakeOcrEngine(boxes), ctx


def _run(frame, ocr, ctx, detector, cache, settings=None):  # type: ignore[no-untyped-def]
    change = detector.detect(0, frame)
    decision = decide(ctx.windows(), MONITOR, ExclusionRules(), ctx.screen_locked())
    return process_frame(
        frame, change, decision, ocr, cache, settings or RedactionSettings(), 1_700_000_000.0
    )


def test_a_frame_becomes_redacted_memories_per_window() -> None:
    frame, ocr, ctx = _setup()
    result = _run(frame, ocr, ctx, ChangeDetector(), RegionTextCache())
    assert result.dropped is None
    by_app = {m.app: m for m in result.memories}
    assert set(by_app) == {"gedit", "xterm"}
    gedit = by_app["gedit"]
    assert gedit.text == "Meeting notes\nPassword: [redacted password]"
    assert gedit.kind == "screen" and gedit.title == "notes.txt" and gedit.time == 1_700_000_000.0
    assert gedit.region == {"x": 20, "y": 20, "w": 200, "h": 60}
    assert by_app["xterm"].text == "Build passed"
    everything = " ".join(m.text for m in result.memories) + str([m.boxes for m in result.memories])
    assert "hunter2" not in everything and "Vault" not in everything
    # The pixels of the password manager and of the password are black now.
    assert not frame[0:300, 400:800, :3].any()
    assert not frame[60:80, 130:220, :3].any()
    assert frame[20:40, 20:220, :3].all()
    assert result.redactions == {"password": 1}
    assert Rect(130, 60, 90, 20) in result.blacked_out


def test_unchanged_frames_cost_no_ocr_and_known_regions_are_reused() -> None:
    frame, ocr, ctx = _setup()
    detector, cache = ChangeDetector(), RegionTextCache()
    _run(frame.copy(), ocr, ctx, detector, cache)
    calls = len(ocr.calls)
    again = _run(frame.copy(), ocr, ctx, detector, cache)
    assert again.memories == [] and len(ocr.calls) == calls
    # The terminal flips between two screens: each region is OCR'd once, then reused.
    other = frame.copy()
    other[400:420, 420:620, :3] = 90
    first = [_run(f.copy(), ocr, ctx, detector, cache) for f in (other, frame)]
    assert [r.regions_ocred for r in first] == [1, 1]
    calls = len(ocr.calls)
    later = [_run(f.copy(), ocr, ctx, detector, cache) for f in (other, frame, other)]
    assert [(r.regions_ocred, r.regions_reused) for r in later] == [(0, 1)] * 3
    assert len(ocr.calls) == calls
    assert [m.text for m in later[1].memories] == ["Build passed"]


def test_dropped_frames_produce_nothing() -> None:
    frame, ocr, ctx = _setup()
    ctx.error = RuntimeError("X went away")
    detector = ChangeDetector()
    change = detector.detect(0, frame)
    try:
        windows: list[WindowInfo] | BaseException = ctx.windows()
    except RuntimeError as e:
        windows = e
    decision = decide(windows, MONITOR, ExclusionRules())
    before = frame.copy()
    result = process_frame(
        frame, change, decision, ocr, RegionTextCache(), RedactionSettings(), 0.0
    )
    assert result.dropped is DropReason.WINDOW_INFO_UNAVAILABLE
    assert result.memories == [] and ocr.calls == []
    assert np.array_equal(frame, before)


def test_redaction_toggle_off_keeps_the_text() -> None:
    frame, ocr, ctx = _setup()
    result = _run(
        frame, ocr, ctx, ChangeDetector(), RegionTextCache(), RedactionSettings(password=False)
    )
    gedit = next(m for m in result.memories if m.app == "gedit")
    assert "hunter2" in gedit.text and result.redactions == {}


def test_changes_inside_an_excluded_window_are_not_ocred() -> None:
    frame, ocr, ctx = _setup()
    detector, cache = ChangeDetector(), RegionTextCache()
    _run(frame.copy(), ocr, ctx, detector, cache)
    typing = frame.copy()
    typing[100:116, 500:560, :3] = 0  # someone types in the password manager
    calls = len(ocr.calls)
    result = _run(typing, ocr, ctx, detector, cache)
    assert result.regions_skipped == 1 and result.regions_ocred == 0
    assert len(ocr.calls) == calls and result.memories == []


def test_changed_regions_are_read_with_the_line_cache() -> None:
    frame, ocr, ctx = _setup()
    seen: list[object] = []

    class Recording:
        def recognise_regions(self, image, rects, lines=None):  # type: ignore[no-untyped-def]
            seen.append(lines)
            return ocr.recognise_regions(image, rects)

    cache = RegionTextCache()
    result = _run(frame, Recording(), ctx, ChangeDetector(), cache)
    assert result.regions_ocred == len(seen) >= 1
    assert all(lines is cache.lines for lines in seen)  # cleared with the region cache

"""The timeline's data on a real encrypted store: frames in time order, chat and note markers,
gaps only where capture said why, OCR lines in reading order, and a decoded-frame cache that
never grows past its bound."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from app.capture_service import CaptureService, CaptureSettings
from app.services import Services
from app.timeline_service import (
    GAP_STATES,
    LOCKED_REASON,
    FrameCache,
    find_gaps,
)
from core import audit
from core.types import NewMemory
from tests.app.test_capture_service import EDITOR, HELLO, FakeGrabber
from tests.capture_fakes import FakeOcrEngine, FakeWindowContext

T0 = 1_773_800_000.0  # the morning of the fixed clock's day (18 March 2026)


def webp(w: int, h: int, shade: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (shade, shade, shade)).save(buf, "WEBP", quality=50)
    return buf.getvalue()


def add_frame(services: Services, when: float, app: str, lines: list[str]) -> int:
    assert services.media is not None and services.memory is not None
    mid = services.media.put(
        webp(160, 90, 200),
        mime="image/webp",
        time=when,
        width=160,
        height=90,
        thumbnail=webp(64, 36, 200),
        app=app,
        title=f"{app} window",
    )
    # Boxes given out of reading order: the service puts them back in order.
    boxes = [
        {"x": 10, "y": 10 + 20 * i, "w": 100, "h": 12, "text": t} for i, t in enumerate(lines)
    ][::-1]
    services.memory.add(
        [
            NewMemory(
                kind="screen",
                text="\n".join(lines),
                time=when,
                app=app,
                title=f"{app} window",
                media_id=mid,
                boxes=boxes,
            )
        ]
    )
    return mid


def test_cache_keeps_the_most_recent_items_within_its_byte_bound() -> None:
    cache = FrameCache(max_bytes=100)
    for i in range(10):
        cache.put(i, f"frame {i}", 30)
        assert cache.bytes <= 100
    assert [k for k in range(10) if k in cache] == [7, 8, 9]
    assert cache.get(7) == "frame 7"  # used: now the newest
    cache.put(10, "frame 10", 30)
    assert 8 not in cache and 7 in cache
    cache.put(11, "too big", 101)
    assert 11 not in cache and cache.bytes == 90 and cache.peak_bytes <= 100


def test_gaps_only_where_capture_recorded_why() -> None:
    states = [
        (T0 - 50, "capturing"),
        (T0 + 100, "paused"),
        (T0 + 700, "capturing"),
        (T0 + 1000, "screen_locked"),
        (T0 + 1030, "capturing"),  # 30 s: too short to show
        (T0 + 2000, "excluded"),
    ]
    frames = [T0, T0 + 50, T0 + 800, T0 + 5000, T0 + 9000]
    gaps = find_gaps(T0, T0 + 10_000, states, [T0 + 8000], frames, now=T0 + 2600)
    assert [(g.start - T0, g.end - T0, g.reason) for g in gaps] == [
        (100, 700, GAP_STATES["paused"]),
        (2000, 2600, GAP_STATES["excluded"]),  # still excluded: up to now
    ]
    # An unlock after a long stretch without frames: Mnemo was locked or closed. A static
    # screen (no frames, no state, no unlock) makes no gap.
    gaps = find_gaps(T0, T0 + 10_000, [], [T0 + 8000], frames, now=T0 + 20_000)
    assert [(g.start - T0, g.end - T0, g.reason) for g in gaps] == [(5000, 8000, LOCKED_REASON)]


def test_span_lists_frames_markers_and_gaps(services: Services) -> None:
    assert services.memory is not None and services.timeline is not None
    a = add_frame(services, T0 + 10, "code", ["def main():", "return 0"])
    b = add_frame(services, T0 + 4000, "firefox", ["Flight to Lisbon"])
    services.memory.add([NewMemory(kind="note", text="call the dentist", time=T0 + 500)])
    services.memory.add(
        [NewMemory(kind="chat", text="what time?", time=T0 + 600, conversation="Plans")]
    )
    services.store.write(lambda c: audit.record(c, "capture_state", T0 + 1000, state="paused"))
    services.store.write(lambda c: audit.record(c, "capture_state", T0 + 3000, state="capturing"))
    span = services.timeline.span(T0, T0 + 86400)
    assert [(f.media_id, f.app) for f in span.frames] == [(a, "code"), (b, "firefox")]
    assert [(m.kind, m.label) for m in span.markers] == [("note", "Note"), ("chat", "Chat · Plans")]
    assert [(g.start - T0, g.end - T0, g.reason) for g in span.gaps] == [
        (1000, 3000, "Capture was paused")
    ]
    assert [t.text for t in services.timeline.frame_text(a)] == ["def main():", "return 0"]
    hit = services.memory.search("Flight to Lisbon").hits[0]
    assert hit.media_id == b
    located = services.timeline.locate(hit.id)
    assert located is not None and located.media_id == b


def test_frames_decode_into_the_bounded_cache_and_lock_forgets_them(services: Services) -> None:
    timeline = services.timeline
    assert timeline is not None
    decoded: list[bytes] = []
    timeline._decode = lambda data: decoded.append(data) or data  # type: ignore[method-assign]
    timeline.full_cache.max_bytes = 2 * len(webp(160, 90, 200))
    ids = [add_frame(services, T0 + i, "code", [f"line {i}"]) for i in range(4)]
    for mid in ids:
        assert timeline.full(mid) is not None
    assert (
        timeline.full_cache.bytes <= timeline.full_cache.max_bytes and len(timeline.full_cache) == 2
    )
    timeline.full(ids[-1])
    assert len(decoded) == 4  # the last one came from the cache
    assert timeline.preview(ids[0]) is not None
    services.lock()
    assert services.timeline is None and len(timeline.full_cache) == 0
    assert len(timeline.preview_cache) == 0


@pytest.mark.timeout(30)
def test_capture_records_pause_and_resume_for_the_timeline(services: Services) -> None:
    grabber = FakeGrabber()
    service = CaptureService(
        services,
        grabber_factory=lambda: grabber,
        context_factory=lambda: FakeWindowContext([EDITOR]),
        ocr=FakeOcrEngine([HELLO]),
        free_bytes=lambda: 10**12,
    )
    try:
        settings = CaptureSettings.read(services.settings.get)
        grabber.draw(HELLO)
        service._running = True
        service._start_threads(loop=False)
        service._step(settings)
        service._step(settings)  # the same state again: written once
        service.pause(600)
        service._step(settings)
        service.resume()
        service._step(settings)
        assert service.wait_idle(10)
    finally:
        service.stop()
    states = [
        json.loads(d)["state"]
        for (d,) in services.store.reader().execute(
            "SELECT detail FROM audit WHERE event = 'capture_state' ORDER BY id"
        )
    ]
    assert states == ["capturing", "paused", "capturing", "off"]

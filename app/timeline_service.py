"""The data behind the visual timeline: the captured frames of a span of time (one row each from
the media table, no pixels), the chats and notes that sit on the same strip as markers, the gaps
in capture with their reason, and the frames themselves, decrypted on demand and kept decoded in
a byte-bounded memory cache (never written anywhere)."""

from __future__ import annotations

import json
import threading
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from core.redaction import reading_order
from core.store import Store

# Decoded frames are 4 bytes a pixel: a stored 1600x900 frame is 5.8 MB, its 640 px preview
# 0.9 MB. A preview decodes in ~2.5 ms of CPU, a frame in ~11 ms (bench/timeline.py), so the
# caches only need to hold what is near the cursor: stepping back and forth with the keys, a
# drag going back over where it was. The bench measures resident memory across ten drags
# through 500 frames against these bounds.
FULL_CACHE_BYTES = 64 * 1024 * 1024
PREVIEW_CACHE_BYTES = 32 * 1024 * 1024

# A stretch without frames is only a gap when capture said why; a static screen makes no frames
# and is not a gap. The capture service records its state changes in the audit table.
GAP_STATES = {
    "paused": "Capture was paused",
    "screen_locked": "The screen was locked",
    "excluded": "An excluded app was in front",
    "off": "Capture was off",
    "disk_full": "The disk was full",
}
LOCKED_REASON = "Mnemo was locked or closed"
MIN_GAP_SECONDS = 60.0
MARKER_KINDS = ("chat", "note")  # and every import:<format>


@dataclass(frozen=True, slots=True)
class Frame:
    media_id: int
    time: float
    app: str | None
    title: str | None
    width: int | None
    height: int | None


@dataclass(frozen=True, slots=True)
class Marker:
    """A chat message, note or imported message on the strip."""

    memory_id: int
    time: float
    kind: str
    label: str


@dataclass(frozen=True, slots=True)
class Gap:
    start: float
    end: float
    reason: str


@dataclass(frozen=True, slots=True)
class TextBox:
    """One OCR line of a frame, in stored-image pixels."""

    x: int
    y: int
    w: int
    h: int
    text: str
    memory_id: int


@dataclass(frozen=True, slots=True)
class Picture:
    """A frame ready to paint: the decoded preview or full frame, scaled on the worker to the
    size it is shown at (so the GUI thread only copies pixels)."""

    media_id: int
    full: bool
    image: Any  # QImage (or what `decode` makes, in tests)
    decoded: tuple[int, int]  # the decoded picture's size before scaling


@dataclass(slots=True)
class TimelineSpan:
    start: float
    end: float
    frames: list[Frame] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)


class FrameCache:
    """Least recently used values bounded by their byte size; safe across threads."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self.peak_bytes = 0
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[Any, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return item[0]

    def put(self, key: Any, value: Any, nbytes: int) -> None:
        if nbytes > self.max_bytes:
            return  # bigger than the whole cache: shown, not kept
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.bytes -= old[1]
            self._items[key] = (value, nbytes)
            self.bytes += nbytes
            while self.bytes > self.max_bytes:
                _, (_, n) = self._items.popitem(last=False)
                self.bytes -= n
            self.peak_bytes = max(self.peak_bytes, self.bytes)

    def __contains__(self, key: Any) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.bytes = 0


def find_gaps(
    start: float,
    end: float,
    states: Iterable[tuple[float, str]],
    unlocks: Iterable[float],
    frame_times: list[float],
    now: float,
) -> list[Gap]:
    """Gaps in capture between `start` and `end` (capped at `now`): spans the capture service
    recorded as not capturing (`states`: time and state, in order, including the last one before
    `start`), and stretches without a frame that an unlock ends (Mnemo was locked or closed)."""
    end = min(end, now)
    gaps: list[Gap] = []
    current: tuple[float, str] | None = None
    for t, state in states:
        if current is not None and current[1] in GAP_STATES:
            gaps.append(Gap(max(start, current[0]), min(end, t), GAP_STATES[current[1]]))
        current = (t, state)
    if current is not None and current[1] in GAP_STATES:
        gaps.append(Gap(max(start, current[0]), end, GAP_STATES[current[1]]))
    for t in unlocks:
        if not start <= t <= end:
            continue
        i = bisect_left(frame_times, t)
        before = frame_times[i - 1] if i else start
        if t - before >= MIN_GAP_SECONDS and not any(g.start <= t <= g.end for g in gaps):
            gaps.append(Gap(before, t, LOCKED_REASON))
    gaps = [g for g in gaps if g.end - g.start >= MIN_GAP_SECONDS]
    return sorted(gaps, key=lambda g: g.start)


class TimelineService:
    """Alive while unlocked; every method runs off the GUI thread (SQL, decryption, decoding)."""

    def __init__(
        self,
        store: Store,
        media: Any,
        *,
        full_bytes: int = FULL_CACHE_BYTES,
        preview_bytes: int = PREVIEW_CACHE_BYTES,
        decode: Callable[[bytes], Any] | None = None,
        scale: Callable[[Any, tuple[int, int]], Any] | None = None,
    ) -> None:
        self.store = store
        self.media = media
        self.full_cache = FrameCache(full_bytes)
        self.preview_cache = FrameCache(preview_bytes)
        self._decode = decode or _decode_qimage
        self._scale = scale or _scale_qimage

    # -- the strip -------------------------------------------------------------------------
    def span(self, start: float, end: float) -> TimelineSpan:
        conn = self.store.reader()
        frames = [
            Frame(int(r[0]), float(r[1]), r[2], r[3], r[4], r[5])
            for r in conn.execute(
                "SELECT id, time, app, title, width, height FROM media "
                "WHERE time >= ? AND time < ? AND item_key IS NOT NULL ORDER BY time, id",
                (start, end),
            )
        ]
        kinds = " OR ".join(["kind = ?"] * len(MARKER_KINDS)) + " OR kind LIKE 'import:%'"
        markers = [
            Marker(int(r[0]), float(r[1]), str(r[2]), _marker_label(r[2], r[3], r[4]))
            for r in conn.execute(
                "SELECT id, time, kind, conversation, title FROM memories "
                f"WHERE hidden = 0 AND status != 'rejected' AND ({kinds}) "
                "AND time >= ? AND time < ? ORDER BY time, id LIMIT 20000",
                (*MARKER_KINDS, start, end),
            )
        ]
        last = conn.execute(
            "SELECT time, detail FROM audit WHERE event = 'capture_state' AND time < ? "
            "ORDER BY time DESC, id DESC LIMIT 1",
            (start,),
        ).fetchall()
        rows = (
            last
            + conn.execute(
                "SELECT time, detail FROM audit WHERE event = 'capture_state' AND time >= ? "
                "AND time < ? ORDER BY time, id",
                (start, end),
            ).fetchall()
        )
        states = [(float(t), str(json.loads(d or "{}").get("state", ""))) for t, d in rows]
        unlocks = [
            float(r[0])
            for r in conn.execute(
                "SELECT time FROM audit WHERE event = 'unlocked' AND time >= ? AND time < ?",
                (start, end),
            )
        ]
        gaps = find_gaps(start, end, states, unlocks, [f.time for f in frames], self.store.now())
        return TimelineSpan(start, end, frames, markers, gaps)

    def locate(self, memory_id: int) -> Frame | None:
        """The frame a (screen) memory was read from, or None."""
        row = (
            self.store.reader()
            .execute(
                "SELECT m.id, m.time, m.app, m.title, m.width, m.height FROM memories x "
                "JOIN media m ON m.id = x.media_id WHERE x.id = ? AND m.item_key IS NOT NULL",
                (memory_id,),
            )
            .fetchone()
        )
        return None if row is None else Frame(int(row[0]), float(row[1]), *row[2:6])

    def time_of(self, memory_id: int) -> float | None:
        row = (
            self.store.reader()
            .execute("SELECT time FROM memories WHERE id = ? AND hidden = 0", (memory_id,))
            .fetchone()
        )
        return None if row is None else float(row[0])

    def frame_text(self, media_id: int) -> list[TextBox]:
        """The OCR lines of a frame in reading order (for selecting and copying its text)."""
        boxes: list[TextBox] = []
        for mid, raw in self.store.reader().execute(
            "SELECT id, boxes FROM memories WHERE media_id = ? AND hidden = 0 "
            "AND status != 'rejected' AND boxes IS NOT NULL",
            (media_id,),
        ):
            for b in json.loads(raw):
                if str(b.get("text", "")).strip():
                    boxes.append(
                        TextBox(int(b["x"]), int(b["y"]), int(b["w"]), int(b["h"]), b["text"], mid)
                    )
        return _in_reading_order(boxes)

    def match_boxes(self, media_id: int, memory_id: int, terms: list[str]) -> list[Any]:
        return list(self.media.match_boxes(memory_id, terms)) if terms else []

    # -- pictures ------------------------------------------------------------------------------
    def preview(self, media_id: int) -> Any | None:
        """The frame's thumbnail, decoded (shown while scrubbing and on the strip)."""
        return self._cached(self.preview_cache, media_id, self.media.thumbnail)

    def full(self, media_id: int) -> Any | None:
        """The whole frame, decoded."""
        return self._cached(self.full_cache, media_id, self.media.load)

    def _cached(self, cache: FrameCache, media_id: int, load: Callable[[int], Any]) -> Any | None:
        image = cache.get(media_id)
        if image is not None:
            return image
        data = load(media_id)
        if not data:
            return None
        image = self._decode(data)
        if image is None:
            return None
        cache.put(media_id, image, _image_bytes(image))
        return image

    def picture(
        self, media_id: int, full: bool, fit: tuple[int, int] | None = None
    ) -> Picture | None:
        """The preview or the full frame, decoded (cached) and scaled to `fit` (width, height)
        when given; None once the frame is erased."""
        image = self.full(media_id) if full else self.preview(media_id)
        if image is None:
            return None
        decoded = _image_size(image)
        if fit is not None and fit != decoded and min(fit) > 0:
            image = self._scale(image, fit)
        return Picture(media_id, full, image, decoded)

    def tile(self, media_id: int, fit: tuple[int, int]) -> Any | None:
        """The preview scaled to fit inside `fit` for the time strip, decoded without taking a
        place in the preview cache (the strip keeps its own small tiles)."""
        image = self.preview_cache.get(media_id)
        if image is None:
            data = self.media.thumbnail(media_id)
            image = self._decode(data) if data else None
        if image is None:
            return None
        w, h = _image_size(image)
        if not w or not h:
            return image
        scale = min(fit[0] / w, fit[1] / h)
        return self._scale(image, (max(1, round(w * scale)), max(1, round(h * scale))))

    def cached_full(self, media_id: int) -> Any | None:
        return self.full_cache.get(media_id)

    def cached_preview(self, media_id: int) -> Any | None:
        return self.preview_cache.get(media_id)

    def forget(self) -> None:
        """Drop every decoded frame (on lock, or after an erase)."""
        self.full_cache.clear()
        self.preview_cache.clear()

    def cache_bytes(self) -> dict[str, int]:
        return {
            "full": self.full_cache.bytes,
            "full_limit": self.full_cache.max_bytes,
            "full_peak": self.full_cache.peak_bytes,
            "preview": self.preview_cache.bytes,
            "preview_limit": self.preview_cache.max_bytes,
            "preview_peak": self.preview_cache.peak_bytes,
        }


def _marker_label(kind: str, conversation: str | None, title: str | None) -> str:
    what = "Note" if kind == "note" else "Chat" if kind == "chat" else "Imported message"
    where = conversation or title
    return f"{what} · {where}" if where else what


def _in_reading_order(boxes: list[TextBox]) -> list[TextBox]:
    # TextBox has the x/y/w/h that reading_order reads of an OcrBox.
    return [boxes[i] for line in reading_order(cast(Any, boxes)) for i in line]


def _image_bytes(image: Any) -> int:
    size = getattr(image, "sizeInBytes", None)
    if callable(size):
        return int(size())
    return len(image) if isinstance(image, bytes | bytearray) else 1


def _image_size(image: Any) -> tuple[int, int]:
    width = getattr(image, "width", None)
    if callable(width):
        return int(width()), int(image.height())
    return (0, 0)


def _scale_qimage(image: Any, fit: tuple[int, int]) -> Any:
    from PySide6.QtCore import Qt

    return image.scaled(
        fit[0],
        fit[1],
        Qt.AspectRatioMode.IgnoreAspectRatio,
        Qt.TransformationMode.SmoothTransformation,
    )


def _decode_qimage(data: bytes) -> Any | None:
    from PySide6.QtGui import QImage

    image = QImage.fromData(data)
    return None if image.isNull() else image

"""One captured frame, from its exclusion decision to redacted memories: black out excluded
windows, OCR the changed regions (reusing text of regions seen before), redact secrets in the
text and the pixels, and group the text per window with its provenance. Pure and synchronous:
the capture service runs it on the compute pool."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from core.capture.change import FrameChange, LineTextCache, RegionTextCache
from core.capture.exclusions import CaptureDecision, DropReason, black_out, covered_area
from core.capture.geometry import Rect
from core.interfaces import OcrBox, WindowInfo
from core.redaction import RedactionSettings, reading_order, redact_boxes
from core.types import SCREEN, NewMemory


class RegionOcr(Protocol):
    def recognise_regions(
        self, image: object, rects: Sequence[Rect], lines: LineTextCache | None = None
    ) -> list[OcrBox]: ...


@dataclass(slots=True)
class FrameResult:
    """What one frame gave. `pixels` were modified in place: excluded windows and redacted
    boxes are black, so the frame may be stored (after downscaling) as it now is."""

    dropped: DropReason | None = None
    memories: list[NewMemory] = field(default_factory=list)
    blacked_out: list[Rect] = field(default_factory=list)
    redactions: dict[str, int] = field(default_factory=dict)
    regions_ocred: int = 0
    regions_reused: int = 0
    regions_skipped: int = 0
    boxes: list[OcrBox] = field(default_factory=list)  # every box read, redacted

    @property
    def stored_nothing(self) -> bool:
        return self.dropped is not None or not self.memories


def _cache_key(change: FrameChange, region: Rect, blackout: Sequence[Rect]) -> bytes:
    # The tile hashes see the pixels before blacking out; the blackout inside the region is
    # part of the key so a window excluded later never gets its old text back from the cache.
    h = hashlib.blake2b(change.signature.region_key(region), digest_size=16)
    for r in blackout:
        c = r.intersect(region)
        if c is not None:
            h.update(np.array(c, dtype=np.int64).tobytes())
    return h.digest()


def process_frame(
    pixels: np.ndarray,
    change: FrameChange,
    decision: CaptureDecision,
    ocr: RegionOcr,
    cache: RegionTextCache,
    redaction: RedactionSettings,
    time: float,
    regions: Sequence[Rect] | None = None,
) -> FrameResult:
    """`pixels` is one monitor's frame (BGRA, monitor pixels), `change` what ChangeDetector saw
    on it, `decision` what exclusions.decide said for it; `regions` replaces the change's
    regions (e.g. grown to whole lines). Boxes and regions of the memories are in the frame's
    pixels: scale them with the stored screenshot."""
    if decision.drop:
        return FrameResult(dropped=decision.reason)
    if not change.changed or change.blank:
        return FrameResult()
    black_out(pixels, decision.blackout)
    boxes: list[OcrBox] = []
    result = FrameResult(blacked_out=list(decision.blackout))
    for region in change.regions if regions is None else regions:
        hidden = [c for r in decision.blackout if (c := r.intersect(region)) is not None]
        if hidden and covered_area(hidden) == region.area:
            result.regions_skipped += 1  # all black: an excluded window changed, nothing to read
            continue
        key = _cache_key(change, region, decision.blackout)
        cached = cache.get(key)
        if cached is not None:
            boxes.extend(OcrBox(b.x + region.x, b.y + region.y, b.w, b.h, b.text, b.score)
                         for b in cached)  # fmt: skip
            result.regions_reused += 1
            continue
        found = ocr.recognise_regions(pixels, [region], lines=cache.lines)
        cache.put(key, [OcrBox(b.x - region.x, b.y - region.y, b.w, b.h, b.text, b.score)
                        for b in found])  # fmt: skip
        boxes.extend(found)
        result.regions_ocred += 1
    # Regions never overlap after merging, but a box may cross a region edge twice: dedupe.
    unique = list({(b.x, b.y, b.w, b.h, b.text): b for b in boxes}.values())
    redacted = redact_boxes(unique, redaction)
    black_out(pixels, redacted.rects)
    result.blacked_out.extend(redacted.rects)
    result.redactions = redacted.counts
    result.boxes = list(redacted.boxes)
    result.memories = group_by_window(redacted.boxes, decision.windows, time)
    return result


def _window_of(box: OcrBox, windows: Sequence[tuple[WindowInfo, Rect]]) -> int | None:
    cx, cy = box.x + box.w / 2, box.y + box.h / 2
    for i in range(len(windows) - 1, -1, -1):  # topmost first
        r = windows[i][1]
        if r.x <= cx < r.right and r.y <= cy < r.bottom:
            return i
    return None


def group_by_window(
    boxes: Sequence[OcrBox], windows: Sequence[tuple[WindowInfo, Rect]], time: float
) -> list[NewMemory]:
    """One screen memory per window that shows text (the topmost window under each box's
    centre), text in reading order; text outside every window is one memory without an app."""
    groups: dict[int | None, list[OcrBox]] = {}
    for b in boxes:
        groups.setdefault(_window_of(b, windows), []).append(b)
    memories = []
    for idx, group in groups.items():
        lines = reading_order(group)
        text = "\n".join(" ".join(group[i].text for i in line) for line in lines).strip()
        if not text:
            continue
        x0 = min(b.x for b in group)
        y0 = min(b.y for b in group)
        x1 = max(b.x + b.w for b in group)
        y1 = max(b.y + b.h for b in group)
        window = windows[idx][0] if idx is not None else None
        memories.append(
            NewMemory(
                kind=SCREEN,
                text=text,
                time=time,
                app=window.app if window else None,
                title=window.title if window else None,
                domain=window.domain if window else None,
                boxes=[{"x": b.x, "y": b.y, "w": b.w, "h": b.h, "text": b.text} for b in group],
                region={"x": x0, "y": y0, "w": x1 - x0, "h": y1 - y0},
            )
        )
    return memories

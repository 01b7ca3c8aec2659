"""Deterministic stand-ins for the window context and OCR engine, for fast unit tests of the
capture pipeline (the real ones are app.window_context and models.ocr)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from core.capture.change import LineTextCache
from core.capture.geometry import Rect
from core.interfaces import OcrBox, WindowInfo


@dataclass(slots=True)
class FakeWindowContext:
    """Returns `windows` (topmost last); raises `error` instead when set."""

    windows_list: list[WindowInfo] = field(default_factory=list)
    locked: bool = False
    error: Exception | None = None
    calls: int = 0

    def windows(self) -> list[WindowInfo]:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return [
            WindowInfo(w.app, w.title, w.x, w.y, w.w, w.h, w.domain, w.active)
            for w in self.windows_list
        ]

    def screen_locked(self) -> bool:
        if self.error is not None:
            raise self.error
        return self.locked


@dataclass(slots=True)
class FakeOcrEngine:
    """'Reads' the text placed on a virtual screen: `boxes` in image pixels. A box is read when
    it lies wholly inside the OCR'd area and its pixels are not all black (blacked out)."""

    boxes: list[OcrBox] = field(default_factory=list)
    calls: list[Rect] = field(default_factory=list)

    def recognise(self, image: object) -> list[OcrBox]:
        h, w = _shape(image)
        return self._read(image, Rect(0, 0, w, h))

    def recognise_regions(
        self, image: object, rects: Sequence[Rect], lines: LineTextCache | None = None
    ) -> list[OcrBox]:
        del lines  # every read is a fresh read here
        out: list[OcrBox] = []
        for r in rects:
            out.extend(self._read(image, Rect(*r)))
        return out

    def _read(self, image: object, area: Rect) -> list[OcrBox]:
        self.calls.append(area)
        out = []
        for b in self.boxes:
            rect = Rect(b.x, b.y, b.w, b.h)
            if rect.intersect(area) != rect:
                continue
            if _all_black(image, rect):
                continue
            out.append(OcrBox(b.x, b.y, b.w, b.h, b.text, b.score))
        return out


def _shape(image: object) -> tuple[int, int]:
    shape = getattr(image, "shape", None)
    if shape is not None:
        return int(shape[0]), int(shape[1])
    w, h = image.size  # type: ignore[attr-defined]
    return int(h), int(w)


def _all_black(image: object, r: Rect) -> bool:
    shape = getattr(image, "shape", None)
    if shape is None:
        return False
    px = image[r.y : r.bottom, r.x : r.right]  # type: ignore[index]
    if len(shape) == 3:
        px = px[..., :3]
    return not bool(px.any())


@dataclass
class BlockingOcr(FakeOcrEngine):
    """An OCR that is stuck inside a read (a dense screen) until `release` is set; `entered`
    says a read has begun."""

    entered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def recognise_regions(
        self, image: object, rects: Sequence[Rect], lines: LineTextCache | None = None
    ) -> list[OcrBox]:
        self.entered.set()
        self.release.wait(60)
        return FakeOcrEngine.recognise_regions(self, image, rects, lines)

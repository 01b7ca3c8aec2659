"""Screenshots for the memory viewer: the encrypted media store plus what the viewer asks of it
(the full image, and where a memory's matched words sit on it). Encoding stays in memory."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.media import MediaStore

WEBP = "image/webp"
JPEG = "image/jpeg"
# Thumbnails are the timeline's preview while scrubbing and the picture in search results: wide
# enough to recognise the screen and read its headings (a 1600 px frame shrinks 2.5x), small
# enough to decode in ~10 ms.
THUMB_WIDTH = 640
THUMB_QUALITY = 60
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class EncodedShot:
    data: bytes
    thumbnail: bytes
    mime: str
    width: int
    height: int
    scale: float  # stored pixels per frame pixel


def rgb_image(pixels: np.ndarray) -> Any:
    """A PIL RGB image of a BGRA/BGR frame (one conversion, no file)."""
    from PIL import Image

    h, w = pixels.shape[:2]
    if pixels.ndim == 3 and pixels.shape[2] == 4:
        return Image.frombuffer("RGB", (w, h), np.ascontiguousarray(pixels), "raw", "BGRX", 0, 1)
    if pixels.ndim == 3 and pixels.shape[2] == 3:
        return Image.frombuffer("RGB", (w, h), np.ascontiguousarray(pixels), "raw", "BGR", 0, 1)
    return Image.fromarray(pixels).convert("RGB")


def encode_screenshot(image: Any, max_width: int, quality: int, mime: str = WEBP) -> EncodedShot:
    """Downscale to at most `max_width` and encode lossy into memory, with a thumbnail.
    WebP at the same quality keeps UI text sharper than JPEG for fewer bytes (bench/capture.py
    measures both)."""
    from PIL import Image

    w, h = image.size
    scale = min(1.0, max_width / w) if w else 1.0
    if scale < 1.0:
        # Hamming keeps UI text as legible as Lanczos at this mild downscale (OCR reads back
        # the same lines) for less than half the CPU.
        image = image.resize(
            (max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.HAMMING
        )
    data = _encode(image, mime, quality)
    tw = min(THUMB_WIDTH, image.size[0])
    thumb = image.resize(
        (tw, max(1, round(image.size[1] * tw / image.size[0]))),
        Image.Resampling.BILINEAR,
        reducing_gap=2.0,  # box-reduce first: a 5x smaller thumbnail needs no exact filter
    )
    return EncodedShot(
        data, _encode(thumb, mime, THUMB_QUALITY), mime, image.size[0], image.size[1], scale
    )


# libwebp's effort: 2 costs under half of 4 (the old default) for ~3 % more bytes at the same
# quality; 3 and above cost as much as 4.
WEBP_METHOD = 2


def _encode(image: Any, mime: str, quality: int) -> bytes:
    buf = io.BytesIO()
    if mime == WEBP:
        image.save(buf, "WEBP", quality=quality, method=WEBP_METHOD)
    else:
        image.save(buf, "JPEG", quality=quality, optimize=True, subsampling="4:4:4")
    return buf.getvalue()


def scale_boxes(
    boxes: Sequence[dict[str, Any]] | None, scale: float
) -> list[dict[str, Any]] | None:
    if boxes is None:
        return None
    return [{**b, **{k: round(b[k] * scale) for k in ("x", "y", "w", "h")}} for b in boxes]


def match_rects(
    boxes: Iterable[dict[str, Any]], terms: Iterable[str]
) -> list[tuple[int, int, int, int]]:
    """Rectangles of the words of `terms` inside OCR boxes: the part of the box where the word
    sits, estimated from its character offsets (OCR boxes are whole lines or phrases)."""
    words = {w.casefold() for t in terms for w in _WORD.findall(t) if len(w) >= 2}
    out: list[tuple[int, int, int, int]] = []
    if not words:
        return out
    for b in boxes:
        text = str(b.get("text", ""))
        folded = text.casefold()
        n = max(1, len(text))
        x, y, w, h = int(b["x"]), int(b["y"]), int(b["w"]), int(b["h"])
        # Glyph widths vary: widen by half a character each side so the word is covered.
        pad = max(2, round(w / n / 2))
        spans = sorted(
            (max(x, x + int(w * m.start() / n) - pad), min(x + w, x + round(w * m.end() / n) + pad))
            for word in words
            for m in re.finditer(re.escape(word), folded)
        )
        # Neighbouring matched words ("crane maintenance") become one mark, not two overlapping.
        merged: list[list[int]] = []
        for x0, x1 in spans:
            if merged and x0 <= merged[-1][1] + pad:
                merged[-1][1] = max(merged[-1][1], x1)
            else:
                merged.append([x0, x1])
        out.extend((x0, y, x1 - x0, h) for x0, x1 in merged)
    return out


class ScreenMedia(MediaStore):
    """The media store as the memory viewer and search page use it."""

    def load_image(self, media_id: int) -> bytes | None:
        return self.load(media_id)

    def match_boxes(self, memory_id: int, terms: Iterable[str]) -> list[tuple[int, int, int, int]]:
        """Boxes (stored-image pixels) of memory `memory_id` whose text matches `terms`."""
        row = (
            self.store.reader()
            .execute("SELECT boxes FROM memories WHERE id = ?", (memory_id,))
            .fetchone()
        )
        if row is None or not row[0]:
            return []
        return match_rects(json.loads(row[0]), terms)

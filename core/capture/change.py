"""Cheap change detection between successive screen frames of one monitor: which tiles changed,
the padded and merged regions worth OCR-ing, blank frames, and a cache of region text."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np

from core.capture.geometry import Rect, merge_rects
from core.interfaces import OcrBox


@dataclass(frozen=True, slots=True)
class ChangeSettings:
    tiles_x: int = 32
    tiles_y: int = 32
    # Sample every `stride`-th pixel in both directions. 4 still sees a typed character (glyphs
    # are wider than 4 px at UI sizes) and reads 1/16 of the frame.
    stride: int = 4
    # Padding around changed tiles: wide horizontally so OCR sees whole words of a line,
    # a little vertically so a line straddling two tile rows is kept whole.
    pad_x: int = 48
    pad_y: int = 12
    # Regions closer than this are merged into one (fewer, larger OCR calls).
    gap_x: int = 32
    gap_y: int = 8
    # Above this fraction of changed tiles the whole frame is one region.
    full_frame_fraction: float = 0.5
    # A frame is blank when at most this fraction of samples differs from the first sample.
    blank_tolerance: float = 0.002


@dataclass(slots=True)
class TileSignature:
    """Per-tile 64-bit hashes of the sampled pixels of one frame, and the tile edges in px."""

    width: int
    height: int
    hashes: np.ndarray  # (tiles_y, tiles_x) uint64
    row_edges: np.ndarray  # (tiles_y + 1,) pixel rows
    col_edges: np.ndarray  # (tiles_x + 1,) pixel columns

    def tiles_covering(self, rect: Rect) -> tuple[slice, slice]:
        ty0 = int(np.searchsorted(self.row_edges, rect.y, side="right")) - 1
        ty1 = int(np.searchsorted(self.row_edges, rect.bottom, side="left"))
        tx0 = int(np.searchsorted(self.col_edges, rect.x, side="right")) - 1
        tx1 = int(np.searchsorted(self.col_edges, rect.right, side="left"))
        ny, nx = self.hashes.shape
        return slice(max(ty0, 0), min(ty1, ny)), slice(max(tx0, 0), min(tx1, nx))

    def region_key(self, rect: Rect) -> bytes:
        """A key for the content of `rect`: the hashes of the tiles it covers (which depend on
        position too) plus its size and offset. Equal keys mean the same sampled pixels at the
        same place, e.g. a window the user switched away from and back to."""
        rows, cols = self.tiles_covering(rect)
        sub = np.ascontiguousarray(self.hashes[rows, cols])
        off_x = rect.x - int(self.col_edges[cols.start])
        off_y = rect.y - int(self.row_edges[rows.start])
        h = hashlib.blake2b(sub.tobytes(), digest_size=16)
        h.update(np.array([*sub.shape, off_x, off_y, rect.w, rect.h], dtype=np.int64).tobytes())
        return h.digest()


@dataclass(slots=True)
class FrameChange:
    """What changed on one monitor since its previous frame."""

    changed: bool
    first: bool  # no previous frame (or the resolution changed): everything counts as changed
    blank: bool  # uniform frame (screen off, blanked, nothing drawn)
    tiles: np.ndarray  # (tiles_y, tiles_x) bool, True where the tile changed
    regions: list[Rect]  # padded, merged, clipped changed regions in frame pixels
    signature: TileSignature

    @property
    def changed_fraction(self) -> float:
        return float(self.tiles.mean()) if self.tiles.size else 0.0


@dataclass(slots=True)
class _MonitorState:
    sample: np.ndarray
    change: FrameChange


@dataclass(slots=True)
class _Layout:
    weights: np.ndarray
    row_starts: np.ndarray
    col_starts: np.ndarray
    row_edges: np.ndarray
    col_edges: np.ndarray


def _packed_sample(frame: np.ndarray, stride: int) -> np.ndarray:
    """The strided sample of `frame` as one uint32 per pixel (B, G, R packed; alpha ignored)."""
    if frame.ndim == 2:
        return frame[::stride, ::stride].astype(np.uint32)
    if frame.ndim != 3 or frame.shape[2] not in (3, 4) or frame.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 or HxWx4 uint8 frame, got {frame.shape} {frame.dtype}")
    if frame.shape[2] == 4 and frame.strides[2] == 1 and frame.strides[1] == 4:
        # BGRA from mss: one view, no arithmetic. Alpha is constant on X11 captures.
        packed = frame.view(np.uint32)[::stride, ::stride, 0]
        return packed & np.uint32(0x00FFFFFF)
    s = frame[::stride, ::stride]
    return (
        s[..., 0].astype(np.uint32)
        | (s[..., 1].astype(np.uint32) << 8)
        | (s[..., 2].astype(np.uint32) << 16)
    )


class ChangeDetector:
    """Keeps the previous frame's sample per monitor. Not thread-safe: one per capture thread."""

    def __init__(self, settings: ChangeSettings | None = None) -> None:
        self.settings = settings or ChangeSettings()
        self._state: dict[Hashable, _MonitorState] = {}
        self._layouts: dict[tuple[int, int, int, int], _Layout] = {}

    def invalidate(self, monitor: Hashable | None = None) -> None:
        """Forget the previous frame (of one monitor, or all): the next frame counts as changed.
        Call after a frame was dropped, so content shown while dropping is not skipped later."""
        if monitor is None:
            self._state.clear()
        else:
            self._state.pop(monitor, None)

    def detect(self, monitor: Hashable, frame: np.ndarray) -> FrameChange:
        st = self.settings
        sample = _packed_sample(frame, st.stride)
        height, width = frame.shape[:2]
        prev = self._state.get(monitor)
        if (
            prev is not None
            and prev.sample.shape == sample.shape
            and prev.change.signature.width == width
            and prev.change.signature.height == height
            and np.array_equal(prev.sample, sample)
        ):
            # The fast path: one comparison of 1/16 of the pixels, nothing allocated but it.
            last = prev.change
            return FrameChange(
                changed=False,
                first=False,
                blank=last.blank,
                tiles=np.zeros_like(last.tiles),
                regions=[],
                signature=last.signature,
            )
        layout = self._layout(width, height, sample.shape)
        hashes = self._tile_hashes(sample, layout)
        signature = TileSignature(width, height, hashes, layout.row_edges, layout.col_edges)
        first = (
            prev is None
            or prev.change.signature.hashes.shape != hashes.shape
            or (
                prev.change.signature.width,
                prev.change.signature.height,
            )
            != (width, height)
        )
        if first:
            tiles = np.ones(hashes.shape, dtype=bool)
        else:
            assert prev is not None
            tiles = hashes != prev.change.signature.hashes
        ref = sample[0, 0]
        outliers = int(np.count_nonzero(sample != ref))
        blank = outliers <= st.blank_tolerance * sample.size
        change = FrameChange(
            changed=bool(tiles.any()),
            first=first,
            blank=blank,
            tiles=tiles,
            regions=self.regions(tiles, layout.row_edges, layout.col_edges, width, height),
            signature=signature,
        )
        self._state[monitor] = _MonitorState(np.array(sample, copy=True), change)
        return change

    def merge(self, older: FrameChange, newer: FrameChange) -> FrameChange:
        """`newer` as if `older` (a frame that was skipped, e.g. replaced in a full OCR queue)
        had never been taken: its changed tiles count too, so nothing it changed is missed."""
        if older.tiles.shape != newer.tiles.shape or older.first:
            tiles = np.ones_like(newer.tiles)
        else:
            tiles = older.tiles | newer.tiles
        sig = newer.signature
        return FrameChange(
            changed=bool(tiles.any()),
            first=newer.first or older.first,
            blank=newer.blank,
            tiles=tiles,
            regions=self.regions(tiles, sig.row_edges, sig.col_edges, sig.width, sig.height),
            signature=sig,
        )

    def regions(
        self,
        tiles: np.ndarray,
        row_edges: np.ndarray,
        col_edges: np.ndarray,
        width: int,
        height: int,
    ) -> list[Rect]:
        st = self.settings
        if not tiles.any():
            return []
        if tiles.mean() >= st.full_frame_fraction:
            return [Rect(0, 0, width, height)]
        frame_rect = Rect(0, 0, width, height)
        runs: list[Rect] = []
        for ty in np.flatnonzero(tiles.any(axis=1)):
            row = tiles[ty]
            # Horizontal runs of changed tiles on this tile row.
            edges = np.flatnonzero(np.diff(np.concatenate(([0], row.astype(np.int8), [0]))))
            y0, y1 = int(row_edges[ty]), int(row_edges[ty + 1])
            for start, stop in zip(edges[::2], edges[1::2]):
                x0, x1 = int(col_edges[start]), int(col_edges[stop])
                padded = Rect(x0, y0, x1 - x0, y1 - y0).pad(st.pad_x, st.pad_y)
                clipped = padded.intersect(frame_rect)
                if clipped is not None:
                    runs.append(clipped)
        return merge_rects(runs, st.gap_x, st.gap_y)

    def _layout(self, width: int, height: int, sample_shape: Sequence[int]) -> _Layout:
        sh, sw = int(sample_shape[0]), int(sample_shape[1])
        key = (width, height, sh, sw)
        layout = self._layouts.get(key)
        if layout is None:
            st = self.settings
            # Tiles at least `stride` px, so every tile holds at least one sample.
            ny = max(1, min(st.tiles_y, height // st.stride))
            nx = max(1, min(st.tiles_x, width // st.stride))
            row_edges = (np.arange(ny + 1) * height) // ny
            col_edges = (np.arange(nx + 1) * width) // nx
            # First sample index at or after each tile's first pixel.
            row_starts = -(-row_edges[:-1] // st.stride)
            col_starts = -(-col_edges[:-1] // st.stride)
            rng = np.random.default_rng(0x6D6E656D6F)
            weights = rng.integers(1, 2**63, size=(sh, sw), dtype=np.uint64) | np.uint64(1)
            layout = _Layout(weights, row_starts, col_starts, row_edges, col_edges)
            self._layouts[key] = layout
        return layout

    @staticmethod
    def _tile_hashes(sample: np.ndarray, layout: _Layout) -> np.ndarray:
        # A random linear hash per tile (sum of value*weight mod 2**64): vectorised, and two
        # different tiles collide with probability ~2**-64.
        weighted = sample.astype(np.uint64) * layout.weights
        rows = np.add.reduceat(weighted, layout.row_starts, axis=0)
        return np.add.reduceat(rows, layout.col_starts, axis=1)


@dataclass(slots=True)
class TextByPixels:
    """Text recognised before, by a digest of the pixels it was read from (an LRU)."""

    max_entries: int = 4096
    _items: OrderedDict[bytes, tuple[str, float]] = field(default_factory=OrderedDict)
    hits: int = 0
    misses: int = 0

    def get(self, key: bytes) -> tuple[str, float] | None:
        found = self._items.get(key)
        if found is None:
            self.misses += 1
            return None
        self._items.move_to_end(key)
        self.hits += 1
        return found

    def put(self, key: bytes, text: str, score: float) -> None:
        self._items[key] = (text, score)
        self._items.move_to_end(key)
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


@dataclass(slots=True)
class LineTextCache(TextByPixels):
    """Text of recently recognised text lines by a digest of the line's pixels (the OCR engine
    makes the key), so a line that is still on screen is not recognised again when the region
    around it changed: the rest of a paragraph while one line is typed, lines that scrolled.
    Recognition is ~90 % of OCR's CPU; finding the lines is the cheap part. `words` holds the
    words of lines read before, each by its own pixels (kept only where the recogniser's
    reading of the whole line split into exactly those words): a new line made of words seen
    before is put together from them without the recogniser."""

    words: TextByPixels = field(default_factory=lambda: TextByPixels(max_entries=16384))

    def clear(self) -> None:
        self._items.clear()
        self.words.clear()


@dataclass(slots=True)
class RegionTextCache:
    """Recently OCR'd regions by content key (TileSignature.region_key), boxes relative to the
    region's top-left, so text of unchanged regions is reused instead of OCR'd again; and the
    text of single lines (`lines`) for regions that did change. In memory only; clear it when
    capture pauses or the screen locks (that clears both)."""

    max_entries: int = 256
    _items: OrderedDict[bytes, list[OcrBox]] = field(default_factory=OrderedDict)
    hits: int = 0
    misses: int = 0
    lines: LineTextCache = field(default_factory=LineTextCache)

    def get(self, key: bytes) -> list[OcrBox] | None:
        boxes = self._items.get(key)
        if boxes is None:
            self.misses += 1
            return None
        self._items.move_to_end(key)
        self.hits += 1
        return [OcrBox(b.x, b.y, b.w, b.h, b.text, b.score) for b in boxes]

    def put(self, key: bytes, boxes: Sequence[OcrBox]) -> None:
        self._items[key] = [OcrBox(b.x, b.y, b.w, b.h, b.text, b.score) for b in boxes]
        self._items.move_to_end(key)
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()
        self.lines.clear()

    def __len__(self) -> int:
        return len(self._items)

"""Where on an image there is anything to read: a cheap ink mask (pixels that differ from their
neighbour) cut into blocks along empty rows and columns (recursive XY-cut). OCR's text detector
then runs only on those blocks, not on the flat background around them: its cost follows the
area with ink, not the frame (a sparse 1080p screen is mostly background)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.capture.geometry import Rect


@dataclass(frozen=True, slots=True)
class InkSettings:
    # A pixel is ink when it differs by more than this (0-255, the largest channel difference)
    # from the pixel to its right or below. Screens are lossless: flat areas differ by 0, and
    # smooth gradients by a step or two; low-contrast text (grey on white, "hidden" text a
    # suspicion check must still see) by far more than this.
    threshold: int = 10
    # Blocks are cut at runs of at least this many empty rows / columns. Lines of text keep
    # fewer empty rows between them inside a paragraph only in tight layouts (then the
    # paragraph is one block); words of a line keep less than this between them.
    gap_y: int = 6
    gap_x: int = 24
    # Ink that fits in a block this small (or smaller) both ways is noise: one pixel, which the
    # mask widens to 3x3.
    min_side: int = 3
    # A row or column that is ink, and one colour, over this share of a block at least
    # rule_length long is a rule (grid line, edge), not text; a block no wider than
    # line_width and at least rule_length long is a lone rule.
    rule_share: float = 0.95
    rule_length: int = 32
    line_width: int = 4


def ink_mask(bgr: np.ndarray, threshold: int) -> np.ndarray:
    """Bool mask, True where a pixel differs from its right or lower neighbour (and on that
    neighbour too, so thin strokes are whole)."""
    img = bgr if bgr.ndim == 3 else bgr[..., None]
    img = img[..., :3]
    mask = np.zeros(img.shape[:2], dtype=bool)
    if img.shape[0] > 1:
        dy = _differs(img[1:], img[:-1], threshold)
        mask[1:] |= dy
        mask[:-1] |= dy
    if img.shape[1] > 1:
        dx = _differs(img[:, 1:], img[:, :-1], threshold)
        mask[:, 1:] |= dx
        mask[:, :-1] |= dx
    return mask


def _differs(a: np.ndarray, b: np.ndarray, threshold: int) -> np.ndarray:
    """Where the largest channel difference of two equal-shaped images exceeds `threshold`.
    On uint8 without widening (max - min is |a - b|) and a channel at a time: a quarter of the
    CPU of int16 arithmetic and a max over the channel axis (0.18 s for a 1080p frame)."""
    if a.dtype != np.uint8:
        return np.abs(a.astype(np.int16) - b).max(axis=2) > threshold
    d = np.maximum(a, b)
    d -= np.minimum(a, b)
    out = d[..., 0]
    for c in range(1, d.shape[2]):
        out = np.maximum(out, d[..., c])
    return out > threshold


def runs(profile: np.ndarray, gap: int) -> list[tuple[int, int]]:
    """[start, stop) runs of True in `profile`, joined across gaps shorter than `gap`."""
    idx = np.flatnonzero(profile)
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) > gap)
    starts = np.concatenate(([idx[0]], idx[breaks + 1]))
    stops = np.concatenate((idx[breaks], [idx[-1]])) + 1
    return [(int(a), int(b)) for a, b in zip(starts, stops)]


def _rules(sub: np.ndarray, pixels: np.ndarray, axis: int, share: float) -> np.ndarray:
    """Indexes of the rows (axis=1) or columns (axis=0) of `sub` (a mask) that are ink over at
    least `share` of their length while their pixels keep one colour there: grid lines, panel
    edges, underlines. A row through text is never one colour."""
    count = sub.sum(axis=axis)
    if axis == 1:
        same = (pixels[:, 1:] == pixels[:, :-1]).all(axis=2).sum(axis=1)
    else:
        same = (pixels[1:] == pixels[:-1]).all(axis=2).sum(axis=0)
    length = sub.shape[axis]
    return np.flatnonzero((count >= share * length) & (same >= share * (length - 1)))


def ink_blocks(bgr: np.ndarray, settings: InkSettings | None = None) -> list[Rect]:
    """Rectangles (image pixels) that hold all the ink of `bgr`, separated by empty bands of at
    least gap_y rows / gap_x columns; top-down, left to right. An image without ink gives [].
    Straight lines that span a block (a table's grid, a panel's edge) do not hold it together:
    a block that cannot be cut is cut again without them, so a spreadsheet gives its cells."""
    st = settings or InkSettings()
    mask = ink_mask(bgr, st.threshold)
    colour = bgr if bgr.ndim == 3 else bgr[..., None]
    out: list[Rect] = []
    stack = [Rect(0, 0, mask.shape[1], mask.shape[0])]
    while stack:
        r = stack.pop()
        sub = mask[r.y : r.bottom, r.x : r.right]
        rows = runs(np.asarray(sub.any(axis=1)), st.gap_y)
        if not rows:
            continue
        y0, y1 = rows[0][0], rows[-1][1]
        cols = runs(np.asarray(sub[y0:y1].any(axis=0)), st.gap_x)
        x0, x1 = cols[0][0], cols[-1][1]
        if len(rows) > 1:
            stack.extend(Rect(r.x, r.y + a, r.w, b - a) for a, b in rows)
            continue
        if len(cols) > 1:
            stack.extend(Rect(r.x + a, r.y + y0, b - a, y1 - y0) for a, b in cols)
            continue
        w, h = x1 - x0, y1 - y0
        if min(w, h) <= st.line_width and max(w, h) >= st.rule_length:
            continue  # a lone straight line: nothing to read
        tight = sub[y0:y1, x0:x1]  # a view: zeroing rules below edits the mask
        px = colour[r.y + y0 : r.y + y1, r.x + x0 : r.x + x1, :3]
        none = np.zeros(0, dtype=np.intp)
        rule_rows = _rules(tight, px, 1, st.rule_share) if w >= st.rule_length else none
        rule_cols = _rules(tight, px, 0, st.rule_share) if h >= st.rule_length else none
        if len(rule_rows) or len(rule_cols):
            tight[rule_rows, :] = False
            tight[:, rule_cols] = False
            stack.append(Rect(r.x + x0, r.y + y0, w, h))
            continue
        if max(w, h) > st.min_side:
            out.append(Rect(r.x + x0, r.y + y0, w, h))
    return sorted(out, key=lambda b: (b.y, b.x))


def stack_blocks(blocks: list[Rect], max_gap: int) -> list[list[Rect]]:
    """Blocks grouped for one detector run each: a block joins the group just above it when at
    most `max_gap` rows lie between them and they share most of their columns (the lines of a
    paragraph). The detector's input is padded to a 32 px grid and a margin: one run over a
    paragraph costs less than one per line. A group never covers much more than its blocks."""
    groups: list[tuple[Rect, list[Rect], int]] = []  # (union, members, their area)
    for b in sorted(blocks, key=lambda r: (r.y, r.x)):
        for i, (u, members, area) in enumerate(groups):
            gap = b.y - u.bottom
            shared = min(u.right, b.right) - max(u.x, b.x)
            joined = u.union(b)
            if (
                0 <= gap <= max_gap
                and shared >= 0.5 * min(u.w, b.w)
                and joined.area <= 3 * (area + b.area)
            ):
                groups[i] = (joined, [*members, b], area + b.area)
                break
        else:
            groups.append((b, [b], b.area))
    return [members for _, members, _ in groups]

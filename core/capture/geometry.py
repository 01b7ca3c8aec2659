"""Axis-aligned rectangles in screen or image pixels, and the few operations capture needs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple


class Rect(NamedTuple):
    x: int
    y: int
    w: int
    h: int

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def bottom(self) -> int:
        return self.y + self.h

    @property
    def area(self) -> int:
        return max(0, self.w) * max(0, self.h)

    def empty(self) -> bool:
        return self.w <= 0 or self.h <= 0

    def intersect(self, other: Rect) -> Rect | None:
        x0, y0 = max(self.x, other.x), max(self.y, other.y)
        x1, y1 = min(self.right, other.right), min(self.bottom, other.bottom)
        if x1 <= x0 or y1 <= y0:
            return None
        return Rect(x0, y0, x1 - x0, y1 - y0)

    def union(self, other: Rect) -> Rect:
        x0, y0 = min(self.x, other.x), min(self.y, other.y)
        x1, y1 = max(self.right, other.right), max(self.bottom, other.bottom)
        return Rect(x0, y0, x1 - x0, y1 - y0)

    def pad(self, dx: int, dy: int) -> Rect:
        return Rect(self.x - dx, self.y - dy, self.w + 2 * dx, self.h + 2 * dy)

    def translate(self, dx: int, dy: int) -> Rect:
        return Rect(self.x + dx, self.y + dy, self.w, self.h)

    def near(self, other: Rect, gap_x: int, gap_y: int) -> bool:
        """True when the two overlap or are at most gap_x/gap_y pixels apart."""
        return (
            self.x - gap_x < other.right
            and other.x - gap_x < self.right
            and self.y - gap_y < other.bottom
            and other.y - gap_y < self.bottom
        )


def merge_rects(rects: Iterable[Rect], gap_x: int = 0, gap_y: int = 0) -> list[Rect]:
    """Union rectangles that overlap or lie within the gaps, until none do; sorted top-down."""
    pending = [r for r in rects if not r.empty()]
    merged = True
    while merged:
        merged = False
        out: list[Rect] = []
        for r in pending:
            for i, o in enumerate(out):
                if r.near(o, gap_x, gap_y):
                    out[i] = o.union(r)
                    merged = True
                    break
            else:
                out.append(r)
        pending = out
    return sorted(pending, key=lambda r: (r.y, r.x))


def subtract(rect: Rect, cover: Iterable[Rect]) -> list[Rect]:
    """The parts of `rect` that no rectangle of `cover` overlaps, as disjoint rectangles."""
    parts = [rect] if not rect.empty() else []
    for c in cover:
        nxt: list[Rect] = []
        for p in parts:
            i = p.intersect(c)
            if i is None:
                nxt.append(p)
                continue
            # Up to four bands around the overlap: above, below, left and right of it.
            if i.y > p.y:
                nxt.append(Rect(p.x, p.y, p.w, i.y - p.y))
            if i.bottom < p.bottom:
                nxt.append(Rect(p.x, i.bottom, p.w, p.bottom - i.bottom))
            if i.x > p.x:
                nxt.append(Rect(p.x, i.y, i.x - p.x, i.h))
            if i.right < p.right:
                nxt.append(Rect(i.right, i.y, p.right - i.right, i.h))
        parts = nxt
        if not parts:
            break
    return parts

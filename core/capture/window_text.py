"""What text is on screen now, and one memory per window state. `ScreenText` keeps the OCR
boxes currently visible on one monitor (a frame re-reads only what changed; the rest stays);
`merge_lines` grows a window memory's text as the window changes: its indexed text is the
union of every line the window showed in that state, in screen order, so a line that scrolled
away or was edited is still found, and search returns the window once, not once per change."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from core.capture.geometry import Rect
from core.interfaces import OcrBox

_WS = re.compile(r"\s+")
# A window memory's text stops growing here: past it, the window's next change starts a new
# memory (a terminal that ran all day is many memories, each a readable state).
MAX_UNION_CHARS = 20_000


def _touches(b: OcrBox, r: Rect) -> bool:
    return b.x < r.right and r.x < b.x + b.w and b.y < r.bottom and r.y < b.y + b.h


def _centred_in(b: OcrBox, r: Rect) -> bool:
    cx, cy = b.x + b.w / 2, b.y + b.h / 2
    return r.x <= cx < r.right and r.y <= cy < r.bottom


@dataclass(slots=True)
class ScreenText:
    """The redacted OCR boxes visible on one monitor, in its pixels. In memory only."""

    boxes: list[OcrBox] = field(default_factory=list)

    def expand(self, regions: Sequence[Rect], bounds: Rect) -> list[Rect]:
        """`regions` grown until each holds every known box it touches whole: a change next
        to a line re-reads the whole line, never a shard of it ("Inv Amo" of "Invoice
        Amount"). Regions that come to overlap are merged."""
        # Everything is cut to the bounds first: a box padded past the monitor's edge would
        # otherwise grow a region past them, be cut back and grow again, for ever.
        out = [c for c in (r.intersect(bounds) for r in regions) if c is not None]
        known = [c for c in (Rect(b.x, b.y, b.w, b.h).intersect(bounds) for b in self.boxes) if c]
        changed = True
        while changed:
            changed = False
            for i, r in enumerate(out):
                for b in known:
                    if r.intersect(b) is not None:
                        u = r.union(b)
                        if u != r:
                            r = u
                            changed = True
                out[i] = r
            merged: list[Rect] = []
            for r in out:
                for k, m in enumerate(merged):
                    if r.intersect(m) is not None:
                        merged[k] = m.union(r)
                        changed = True
                        break
                else:
                    merged.append(r)
            out = merged
        return sorted(out, key=lambda r: (r.y, r.x))

    def update(
        self, regions: Sequence[Rect], read: Sequence[OcrBox], hidden: Sequence[Rect] = ()
    ) -> None:
        """The boxes in `regions` were read again as `read`: they replace what was there.
        Boxes centred under `hidden` (blacked-out windows) are forgotten; a box that only
        brushes one (the detector pads boxes by a few pixels) stays."""
        kept = [b for b in self.boxes if not any(_touches(b, r) for r in regions)]
        kept.extend(read)
        self.boxes = [b for b in kept if not any(_centred_in(b, r) for r in hidden)]

    def clear(self) -> None:
        self.boxes = []


def norm_line(line: str) -> str:
    return _WS.sub(" ", line.strip()).lower()


def merge_lines(old: Sequence[str], new: Sequence[str]) -> list[str]:
    """The union of two texts' lines: `old` in its order; the lines of `new` it lacks go
    where `new` has them: before the next line both share, or after the last shared one."""
    out = list(old)
    index = {norm_line(s): i for i, s in enumerate(out)}
    pos = 0
    anchored = False
    pending: list[str] = []
    waiting: set[str] = set()

    def place(where: int) -> int:
        out[where:where] = pending
        n = len(pending)
        pending.clear()
        waiting.clear()
        index.clear()
        index.update({norm_line(s): i for i, s in enumerate(out)})
        return n

    for line in new:
        key = norm_line(line)
        if not key or key in waiting:
            continue
        at = index.get(key)
        if at is None:
            pending.append(line)
            waiting.add(key)
            continue
        where = max(pos, at)
        shift = place(where) if pending else 0
        pos = (at + shift if where <= at else at) + 1
        anchored = True
    if pending:
        place(pos if anchored else len(out))  # nothing shared: the new lines come after
    return out


def window_key(app: str | None, title: str | None, domain: str | None) -> str:
    """Which window state a memory belongs to: the same app showing the same title."""
    return "\x1f".join((app or "", title or "", domain or ""))

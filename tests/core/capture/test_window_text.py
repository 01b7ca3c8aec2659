"""The text on screen per monitor and the union of a window memory's lines."""

from __future__ import annotations

import pytest

from core.capture.geometry import Rect, subtract
from core.capture.window_text import ScreenText, merge_lines, window_key
from core.interfaces import OcrBox

BOUNDS = Rect(0, 0, 1000, 800)


def box(x: int, y: int, w: int, text: str, h: int = 20) -> OcrBox:
    return OcrBox(x, y, w, h, text, 0.99)


def test_merge_lines_keeps_every_line_in_screen_order() -> None:
    old = ["Invoice 1042", "Amount 310 EUR", "Due 2026-12-31"]
    assert merge_lines(old, old) == old
    # A line typed at the end, and one edited in the middle: both kept, in place.
    new = ["Invoice 1042", "Amount 320 EUR", "Due 2026-12-31", "Paid by card"]
    assert merge_lines(old, new) == [
        "Invoice 1042", "Amount 310 EUR", "Amount 320 EUR", "Due 2026-12-31", "Paid by card",
    ]  # fmt: skip
    # Scrolled: lines that left the screen stay; spacing and case do not make a line new.
    assert merge_lines(["a one", "b two"], ["B  two", "c three"]) == ["a one", "b two", "c three"]
    assert merge_lines([], ["x", "", "y"]) == ["x", "y"]


def test_expand_grows_a_region_to_whole_known_lines() -> None:
    st = ScreenText([box(100, 100, 400, "Invoice Amount Contract room"), box(100, 200, 300, "x")])
    # A change touching the right end of the first line re-reads all of it, not a shard.
    (r,) = st.expand([Rect(450, 95, 200, 30)], BOUNDS)
    assert r.x <= 100 and r.right >= 650 and r.y <= 95 and r.bottom >= 125
    # Regions that come to overlap merge; untouched lines stay out.
    out = st.expand([Rect(90, 105, 20, 10), Rect(480, 105, 40, 10)], BOUNDS)
    assert len(out) == 1 and out[0].bottom < 200


@pytest.mark.timeout(20)
def test_expand_ends_when_a_known_line_reaches_past_the_screen_edge() -> None:
    """A box the detector padded past the monitor's edge (or one read before the screen got
    smaller) used to grow the region past the bounds, be cut back to them, and grow again:
    the capture worker spun in this loop forever, reading nothing more and holding up quit."""
    st = ScreenText([box(900, 100, 140, "Total 23.80 EUR"), box(-12, 300, 200, "left edge")])
    out = st.expand([Rect(950, 105, 20, 10), Rect(10, 305, 20, 10)], BOUNDS)
    assert out == [Rect(900, 100, 100, 20), Rect(0, 300, 188, 20)]
    assert all(r.intersect(BOUNDS) == r for r in out)


def test_update_replaces_what_was_reread_and_forgets_hidden_text() -> None:
    st = ScreenText([box(100, 100, 300, "old line"), box(100, 300, 300, "kept line")])
    st.update([Rect(90, 90, 400, 40)], [box(100, 100, 320, "new line")])
    assert sorted(b.text for b in st.boxes) == ["kept line", "new line"]
    st.update([], [], hidden=[Rect(0, 290, 1000, 50)])
    assert [b.text for b in st.boxes] == ["new line"]
    # A box that only brushes a blacked-out window beside it (its padding) stays: a text
    # window lying over an excluded one keeps its lines.
    st.update([], [], hidden=[Rect(0, 0, 102, 800)])
    assert [b.text for b in st.boxes] == ["new line"]
    st.clear()
    assert st.boxes == []


def test_subtract_leaves_the_uncovered_parts() -> None:
    r = Rect(0, 0, 100, 100)
    assert subtract(r, []) == [r]
    assert subtract(r, [Rect(-10, -10, 200, 200)]) == []
    parts = subtract(r, [Rect(25, 25, 50, 50)])
    assert sum(p.area for p in parts) == 100 * 100 - 50 * 50
    assert all(p.intersect(Rect(25, 25, 50, 50)) is None for p in parts)


def test_window_key_is_app_title_and_domain() -> None:
    assert window_key("xterm", "bash", None) == window_key("xterm", "bash", None)
    assert window_key("xterm", "bash", None) != window_key("xterm", "vim", None)

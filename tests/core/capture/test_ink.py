"""Ink blocks: where OCR's detector has anything to look at."""

from __future__ import annotations

import numpy as np

from core.capture.geometry import Rect
from core.capture.ink import InkSettings, ink_blocks, ink_mask, stack_blocks


def _page(h: int = 200, w: int = 400, bg: int = 255) -> np.ndarray:
    return np.full((h, w, 3), bg, np.uint8)


def _word(img: np.ndarray, ys: slice, xs: slice, value: int = 0) -> None:
    """Glyph-like ink: 2 px strokes with 2 px between them (a solid bar's edges are rules)."""
    for x in range(xs.start, xs.stop, 4):
        img[ys, x : min(x + 2, xs.stop)] = value


def test_flat_and_gradient_images_have_no_ink() -> None:
    assert ink_blocks(_page()) == []
    ramp = np.repeat(np.linspace(0, 255, 400).astype(np.uint8)[None, :, None], 200, axis=0)
    assert ink_blocks(np.repeat(ramp, 3, axis=2)) == []  # one step per pixel is not ink


def test_lines_split_at_empty_rows_and_words_stay_together() -> None:
    img = _page()
    _word(img, np.s_[20:32], np.s_[10:60], 0)  # a word
    _word(img, np.s_[20:32], np.s_[66:120], 0)  # the next word, 6 px on: same line, same block
    _word(img, np.s_[60:72], np.s_[10:90], 0)  # the next line, 28 empty rows below
    _word(img, np.s_[60:72], np.s_[300:350], 0)  # a second column, far to the right
    blocks = ink_blocks(img)
    assert blocks == [Rect(9, 19, 112, 14), Rect(9, 59, 80, 14), Rect(299, 59, 52, 14)]


def test_low_contrast_text_is_ink_and_a_grid_splits_into_cells() -> None:
    img = _page()
    _word(img, np.s_[20:30], np.s_[20:60], 240)  # pale text: a hidden-text check must see it
    assert ink_blocks(img) == [Rect(19, 19, 40, 12)]
    grid = _page()
    grid[:, 100] = 200  # a vertical grid line through every row
    grid[50, :] = 200  # and a horizontal one
    _word(grid, np.s_[20:30], np.s_[20:60], 0)
    _word(grid, np.s_[70:80], np.s_[140:190], 0)
    blocks = ink_blocks(grid)
    assert Rect(19, 19, 40, 12) in blocks and Rect(139, 69, 52, 12) in blocks


def test_gaps_follow_the_settings_and_specks_are_dropped() -> None:
    img = _page()
    _word(img, np.s_[20:30], np.s_[20:60], 0)
    _word(img, np.s_[20:30], np.s_[70:110], 0)  # 10 px apart
    assert len(ink_blocks(img, InkSettings(gap_x=24))) == 1
    assert len(ink_blocks(img, InkSettings(gap_x=8))) == 2
    speck = _page()
    speck[100, 100] = 0
    assert ink_blocks(speck) == []
    assert ink_mask(speck, 10).sum() == 5  # the pixel and its neighbours


def test_lines_of_a_paragraph_are_stacked_for_one_detector_run() -> None:
    lines = [Rect(10, 10 + 30 * i, 300 - 20 * i, 14) for i in range(4)]
    aside = Rect(600, 10, 100, 14)  # another column: its own run
    far = Rect(10, 400, 300, 14)  # far below: its own run
    groups = stack_blocks([*lines, aside, far], max_gap=16)
    assert sorted(map(len, groups)) == [1, 1, 4]
    assert lines in groups
    # A narrow block under a wide one would make the run mostly empty: not stacked.
    assert len(stack_blocks([Rect(0, 0, 1000, 14), Rect(0, 30, 40, 14)], 16)) == 2


def test_ink_mask_is_the_largest_channel_difference_with_either_neighbour() -> None:
    # The mask is computed on uint8 a channel at a time (cheap); it must be exactly the
    # definition: |difference| > threshold in some channel, with the right or lower pixel.
    rng = np.random.default_rng(3)
    for img in (
        rng.integers(0, 256, (37, 53, 4), dtype=np.uint8),
        rng.integers(100, 130, (20, 31, 3), dtype=np.uint8),
        rng.integers(0, 256, (9, 12), dtype=np.uint8),
    ):
        px = (img if img.ndim == 3 else img[..., None])[..., :3].astype(np.int16)
        for threshold in (0, 10, 128):
            dy = np.abs(px[1:] - px[:-1]).max(axis=2) > threshold
            dx = np.abs(px[:, 1:] - px[:, :-1]).max(axis=2) > threshold
            want = np.zeros(px.shape[:2], dtype=bool)
            want[1:] |= dy
            want[:-1] |= dy
            want[:, 1:] |= dx
            want[:, :-1] |= dx
            assert (ink_mask(img, threshold) == want).all()

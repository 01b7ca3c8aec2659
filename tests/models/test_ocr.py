"""The RapidOCR adapter on rendered text, with its bundled models and no network."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from core.capture.change import LineTextCache
from core.capture.geometry import Rect
from models.ocr import RapidOcrEngine, _line_key, _one_line_box, _to_bgr

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


@pytest.fixture(scope="module")
def engine() -> Iterator[RapidOcrEngine]:
    yield RapidOcrEngine()


def _render(lines: list[tuple[int, int, str]], size: tuple[int, int] = (900, 260)) -> Image.Image:
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, 18)
    for x, y, text in lines:
        draw.text((x, y), text, fill="black", font=font)
    return img


def test_reads_rendered_text_with_boxes_and_no_network(engine, monkeypatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("OCR tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    img = _render([(20, 30, "Quarterly report for Mnemo"), (20, 150, "Café Müller, 9:30")])
    boxes = engine.recognise(img)
    texts = [b.text for b in boxes]
    assert "Quarterly report for Mnemo" in texts
    assert any("Café Müller" in t for t in texts)
    first = next(b for b in boxes if b.text == "Quarterly report for Mnemo")
    # The box sits where the line was drawn (18 px DejaVu, starting at 20,30).
    assert abs(first.x - 20) <= 8 and abs(first.y - 30) <= 8
    assert 200 <= first.w <= 330 and 14 <= first.h <= 40
    assert 0.5 <= first.score <= 1.0


def test_regions_are_cropped_and_offset_and_bgra_frames_work(engine) -> None:
    img = _render([(20, 30, "left column text"), (600, 200, "Invoice overdue")])
    # A BGRA frame, as the grabber gives it.
    rgb = np.asarray(img)
    bgra = np.dstack([rgb[..., ::-1], np.full(rgb.shape[:2], 255, np.uint8)])
    boxes = engine.recognise_regions(bgra, [Rect(560, 180, 340, 70)])
    assert [b.text for b in boxes] == ["Invoice overdue"]
    b = boxes[0]
    assert abs(b.x - 600) <= 8 and abs(b.y - 200) <= 8  # whole-image pixels, not the crop's
    # A region outside the image, or too small, gives nothing (and no error).
    assert engine.recognise_regions(bgra, [Rect(5000, 5000, 10, 10), Rect(0, 0, 2, 2)]) == []


def test_blank_image_gives_no_boxes(engine) -> None:
    assert engine.recognise(Image.new("RGB", (300, 100), "white")) == []


def test_conversion_to_bgr() -> None:
    rgb = Image.new("RGB", (4, 4), (255, 0, 0))
    assert tuple(_to_bgr(rgb)[0, 0]) == (0, 0, 255)
    bgra = np.zeros((4, 4, 4), np.uint8)
    bgra[..., 2] = 255
    assert tuple(_to_bgr(bgra)[0, 0]) == (0, 0, 255)
    assert _to_bgr(np.zeros((4, 4), np.uint8)).shape == (4, 4, 3)
    with pytest.raises(TypeError):
        _to_bgr("not an image")
    with pytest.raises(ValueError):
        _to_bgr(np.zeros((4, 4, 2), np.uint8))


def _key(b) -> tuple[int, int, int, int, str]:  # type: ignore[no-untyped-def]
    return (b.x, b.y, b.w, b.h, b.text)


def test_line_cache_reuses_the_text_of_lines_already_read(engine) -> None:
    lines = [(20, 20 + 34 * i, f"Line {i} of the planning notes for harbour") for i in range(5)]
    img = _render(lines, size=(700, 200))
    plain = engine.recognise(img)
    cache = LineTextCache()
    first = engine.recognise(img, cache)
    assert [_key(b) for b in first] == [_key(b) for b in plain]
    assert cache.misses >= 5 and cache.hits == 0
    again = engine.recognise(img, cache)
    assert [_key(b) for b in again] == [_key(b) for b in plain]
    assert cache.misses == len(cache) and cache.hits == len(cache)  # nothing read twice
    # One line edited: its new text is read, not taken from the cache.
    edited = _render([*lines[:2], (20, 88, "Line 2 was edited just now"), *lines[3:]], (700, 200))
    texts = [b.text for b in engine.recognise(edited, cache)]
    assert "Line 2 was edited just now" in texts
    assert "Line 1 of the planning notes for harbour" in texts
    assert not any("Line 2 of" in t for t in texts)
    # Regions pass the cache on.
    hits = cache.hits
    boxes = engine.recognise_regions(np.asarray(img)[..., ::-1], [Rect(0, 0, 700, 200)], cache)
    assert {b.text for b in boxes} >= {t for _, _, t in lines[3:]}
    assert cache.hits > hits


def test_line_key_ignores_margins_but_not_ink() -> None:
    line = np.full((30, 200, 3), 255, np.uint8)
    line[10:20, 20:150] = 0
    wider = np.full((34, 210, 3), 255, np.uint8)
    wider[12:22, 25:155] = 0  # the same ink, cut with a larger box
    assert _line_key(line) == _line_key(wider)
    other = line.copy()
    other[15, 100] = 255
    assert _line_key(other) != _line_key(line)
    tinted = np.where(line == 255, np.uint8(240), line)  # the same ink on another background
    assert _line_key(tinted) != _line_key(line)
    assert _line_key(np.full((30, 200, 3), 255, np.uint8)) != _line_key(
        np.zeros((30, 200, 3), np.uint8)
    )


def test_scrolled_lines_are_not_recognised_again(engine) -> None:
    text = [f"Entry {i}: harbour crane ledger review" for i in range(8)]

    def page(first: int) -> Image.Image:
        return _render([(20, 10 + 34 * i, text[first + i]) for i in range(5)], (700, 180))

    cache = LineTextCache()
    engine.recognise(page(0), cache)
    recognised = cache.misses
    scrolled = engine.recognise(page(2), cache)  # three lines stay, moved up by two rows
    assert [_key(b) for b in scrolled] == [_key(b) for b in engine.recognise(page(2))]
    assert cache.hits >= 3 and cache.misses - recognised <= 3


class _Recorder:
    """Wraps an onnxruntime session and keeps the shape of every input it is run on."""

    def __init__(self, session: object) -> None:
        self.session = session
        self.shapes: list[tuple[int, ...]] = []

    def run(self, names: object, feeds: dict[str, np.ndarray]) -> object:
        self.shapes.append(feeds["x"].shape)
        return self.session.run(names, feeds)  # type: ignore[attr-defined]


def test_detection_runs_only_where_there_is_ink_and_short_labels_read(engine) -> None:
    img = Image.new("RGB", (1920, 1080), "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, 18)
    draw.text((1500, 900), "Invoice 4711 overdue", fill="black", font=font)
    draw.text((200, 120), "OK", fill="black", font=font)
    draw.rectangle((150, 100, 400, 160), outline=(200, 200, 200))  # a cell's grid lines
    engine.load()
    det, rec = engine._det, engine._rec
    engine._det, engine._rec = _Recorder(det), _Recorder(rec)
    try:
        texts = sorted(b.text for b in engine.recognise(img))
        det_area = sum(s[2] * s[3] for s in engine._det.shapes)
        rec_widths = [s[3] for s in engine._rec.shapes]
    finally:
        engine._det, engine._rec = det, rec
    assert texts == ["Invoice 4711 overdue", "OK"]
    # Two small blocks, not the frame (the whole 1080p frame was 2.1 M pixels of detection).
    assert len(rec_widths) == 2 and det_area < 0.02 * 1920 * 1080
    # The short label is recognised at its own width, not padded to RapidOCR's 320 px.
    assert min(rec_widths) < 160


def test_words_seen_before_make_a_new_line_without_the_recogniser(engine) -> None:
    from models.ocr import word_pieces

    font = ImageFont.truetype(FONT, 18)

    def draw(lines: list[str], x0: int = 20) -> Image.Image:
        # Word by word at whole pixels, as X11 draws hinted text (Pillow would place each
        # glyph at fractional positions: the same word would differ by where it starts).
        img = Image.new("RGB", (700, 200), "white")
        d = ImageDraw.Draw(img)
        for i, line in enumerate(lines):
            x = x0
            for word in line.split():
                d.text((x, 20 + 40 * i), word, fill="black", font=font)
                x += round(d.textlength(word + " ", font=font))
        return img

    cache = LineTextCache()
    engine.recognise(draw(["harbour crane ledger", "budget review notes"]), cache)
    assert len(cache.words) == 6  # each line split into the three words it was read as
    engine.load()
    rec = engine._rec
    engine._rec = _Recorder(rec)
    try:
        # New lines, at new places, made of words already read: no recognition at all.
        boxes = engine.recognise(draw(["", "ledger budget crane", "notes harbour"], 90), cache)
        assert engine._rec.shapes == []
        # A line with a word never seen is recognised whole, and its words are learnt.
        more = engine.recognise(draw(["", "", "", "crane invoice"]), cache)
        assert len(engine._rec.shapes) == 1
    finally:
        engine._rec = rec
    assert sorted(b.text for b in boxes) == ["ledger budget crane", "notes harbour"]
    assert [b.text for b in more] == ["crane invoice"]
    # The same word drawn the same way has one key wherever it is; another word another.
    a = np.asarray(draw(["crane ledger"]))
    b = np.asarray(draw(["", "crane ledger"], x0=140))
    ka = word_pieces(a[10:50, 10:200])
    kb = word_pieces(b[50:90, 130:320])
    assert len(ka) == 2 and ka == kb
    assert word_pieces(np.full((30, 100, 3), 255, np.uint8)) == []


def test_reading_leaves_the_threads_floating_point_mode_alone() -> None:
    """OCR runs on the capture worker's thread: onnxruntime's "denormal as zero" would switch
    that thread to flush subnormal floats for good (every later float in Python there)."""
    import struct
    import threading

    tiny = struct.unpack("d", struct.pack("Q", 1))[0]  # the smallest subnormal
    seen: list[bool] = []

    def read() -> None:
        engine = RapidOcrEngine()  # sessions made and run on this thread, as in capture
        engine.recognise(_render([(20, 30, "Invoice 4411 total 23.80 EUR")]))
        seen.append(tiny + tiny != 0.0)

    t = threading.Thread(target=read)
    t.start()
    t.join(120)
    assert seen == [True], "subnormal floats flushed to zero after OCR"


def test_one_line_blocks_skip_the_detector_and_read_the_same(engine, monkeypatch) -> None:
    img = _render([(30, 30, "Quarterly invoice 4471"), (30, 120, "Meeting moved to Friday")])
    bgr = _to_bgr(img)
    from core.capture.ink import ink_blocks

    blocks = ink_blocks(bgr)
    assert len(blocks) == 2
    for b in blocks:
        box = _one_line_box(bgr, b, engine.ink.threshold)
        assert box is not None  # each line is its own block: its box is the block, widened
        assert box[:, 0].min() < b.x and box[:, 1].max() > b.bottom
    # Two short lines close together in one block (empty rows between them) go to the
    # detector, and so does a block taller than one line.
    two = np.full((40, 200, 3), 255, dtype=np.uint8)
    two[5:15, 10:190:3] = 0
    two[17:27, 10:190:3] = 0
    (block,) = ink_blocks(two)
    assert block.h <= 28 and _one_line_box(two, block, engine.ink.threshold) is None
    two[15:17, 10:190:3] = 0
    assert _one_line_box(two, block, engine.ink.threshold) is not None
    tall = _to_bgr(_render([(30, 30, "first line"), (30, 46, "second line")], (400, 100)))
    (block,) = ink_blocks(tall)
    assert _one_line_box(tall, block, engine.ink.threshold) is None
    calls = []
    real = engine._detect
    monkeypatch.setattr(engine, "_detect", lambda *a: calls.append(1) or real(*a))
    fast = [b.text for b in engine.recognise(img)]
    assert calls == []  # every block was one line: no detector run
    engine.one_line = False
    try:
        slow = [b.text for b in engine.recognise(img)]
    finally:
        engine.one_line = True
    assert calls and fast == slow == ["Quarterly invoice 4471", "Meeting moved to Friday"]
    before = len(calls)
    assert len(engine.recognise(tall)) == 2 and len(calls) > before  # the detector split it


def test_small_text_is_read_letter_for_letter(engine) -> None:
    # Narrowing lines for the recogniser (0.7 of their width at a tighter pad, 12 % less CPU)
    # read the rendered screens as well but dropped thin letters of 11-14 px text, and with
    # them the injection phrase a trust check looks for ("Ignore al previous instructions").
    phrase = "Ignore all previous instructions."
    for name, size in (("DejaVuSans.ttf", 11), ("DejaVuSans.ttf", 13), ("DejaVuSans.ttf", 14),
                       ("DejaVuSerif.ttf", 11), ("DejaVuSerif.ttf", 13)):  # fmt: skip
        img = Image.new("RGB", (700, 60), "white")
        font = ImageFont.truetype(f"/usr/share/fonts/truetype/dejavu/{name}", size)
        ImageDraw.Draw(img).text((10, 15), phrase, fill="black", font=font)
        assert " ".join(b.text for b in engine.recognise(img)) == phrase, (name, size)

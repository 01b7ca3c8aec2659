"""OCR with RapidOCR and the PP-OCR models bundled in its package (never downloaded), behind
core.interfaces.OcrEngine. rapidocr/onnxruntime are imported on first use, not at import time."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.capture.change import LineTextCache, TextByPixels
from core.capture.geometry import Rect
from core.capture.ink import InkSettings, ink_blocks, runs, stack_blocks
from core.errors import ModelMissing
from core.interfaces import OcrBox
from models.offline import keep_offline

log = logging.getLogger(__name__)

# Detection runs at full size: half size made it ~4x cheaper and read plain text pages the
# same, but lost characters on spreadsheets (cell text beside grid lines: CER 0.08 -> 0.37),
# code (0.11 -> 0.17) and dark chat bubbles (0 -> 0.28); 0.75 still lost spreadsheet cells.
# What makes it cheap instead is running it only where there is ink. Each block gets this many
# pixels of the image around it (the detector needs a little context at a line's ends).
DET_MARGIN = 8
# The recogniser's input height (fixed by the model), and the narrowest input it gets: RapidOCR
# pads every line to at least 320 px (a 6.7:1 box), which made a short label ("OK", a
# spreadsheet number) cost as much as a line of 320 px.
REC_HEIGHT = 48
REC_MIN_WIDTH = 64
# Recognition costs in proportion to its input's width (measured: 16 ms of CPU at 160 px,
# 31 at 320, 58 at 640, 96 at 960; batching lines padded to a common width costs more per line,
# +9 % for 2, +23 % for 8, so lines are read one at a time). The input's width is the line's,
# scaled to 48 px of height (the crop padded to LINE_PAD times the box's height) and then
# narrowed by REC_WIDTH_SCALE, so the width follows REC_WIDTH_SCALE / LINE_PAD. Narrowing was
# tried and is not done: a tighter pad narrowed to 0.7 (0.875x the width, 12 % less CPU) read
# the rendered screens as well (CER 0.0137/0.0132), but lost letters of small text (11-14 px
# DejaVu: "Ignore al previous instructions", "Ignre al ..."), which a trust check then misses;
# 0.85-0.9 at pad 1.4-1.5 lost them too. Smaller text in the 48 px (pad 2.0) loses characters.
LINE_PAD = 1.5
REC_WIDTH_SCALE = 1.0
# A block of ink at most this tall with no empty row inside is one line of text: its box is the
# block itself (widened as the detector's boxes are), and detection is not run on it. The
# detector costs about as much per pixel as recognition does per line, and most blocks of a
# screen (labels, menu items, cells, single lines) are one line. Taller blocks (two lines with
# no gap, large headings with icons) still go through the detector.
ONE_LINE_MAX_H = 28
ONE_LINE_PAD = (0.3, 0.2)  # x, y: shares of the block's height (as the detector's boxes)
# The bundled model files, relative to the rapidocr package.
_MODELS = {
    "Det": "models/PP-OCRv6_det_small.onnx",
    "Rec": "models/PP-OCRv6_rec_small.onnx",
    "Cls": "models/ch_ppocr_mobile_v2.0_cls_mobile.onnx",
}


def _not_installed(e: ImportError) -> ModelMissing:
    return ModelMissing(
        f"The OCR engine is not installed ({e}). Reinstall Mnemo's dependencies "
        "('make setup') to read text from the screen."
    )


def model_paths() -> dict[str, Path]:
    """The bundled float models of each stage, in the installed rapidocr package."""
    try:
        import rapidocr
    except ImportError as e:
        raise _not_installed(e) from None
    root = Path(rapidocr.__file__).resolve().parent
    paths = {}
    for stage, rel in _MODELS.items():
        path = root / rel
        if not path.is_file():
            raise ModelMissing(
                f"The OCR model {path.name} is missing from the rapidocr package at {root}. "
                "Reinstall it ('make setup'); Mnemo never downloads models."
            )
        paths[stage] = path
    return paths


def _to_bgr(image: object) -> np.ndarray:
    """A contiguous BGR uint8 array from a PIL image, or from a numpy BGRA/BGR array (the
    grabber's frames are BGRA; RapidOCR would read a 4-channel array as RGBA)."""
    if isinstance(image, np.ndarray):
        if image.ndim == 3 and image.shape[2] in (3, 4):
            return np.ascontiguousarray(image[..., :3])
        if image.ndim == 2:
            return np.ascontiguousarray(np.repeat(image[..., None], 3, axis=2))
        raise ValueError(f"cannot OCR an array of shape {image.shape}")
    from PIL import Image

    if not isinstance(image, Image.Image):
        raise TypeError(f"cannot OCR a {type(image).__name__}")
    rgb = np.asarray(image.convert("RGB"))
    return np.ascontiguousarray(rgb[..., ::-1])


class RapidOcrEngine:
    """Thread-safe (one recognition at a time); load once and share. `threads` bounds
    onnxruntime's pool so OCR leaves a core for the rest of the app.

    The pipeline is RapidOCR's (PP-OCR detection, then recognition of each line) with the
    bundled models, driven here stage by stage so that each costs what the text needs:
    detection runs only on the blocks of the image that hold ink (core.capture.ink), each padded
    to the detector's 32 px grid at full size; recognition runs one line at a time at the
    line's own width (RapidOCR batches six lines padded to the widest, and pads short ones to
    320 px: most of the work of a screen of short labels), and only for lines whose pixels the
    caller's line cache has not seen."""

    def __init__(
        self, threads: int | None = None, min_score: float = 0.5, quantised: bool = True
    ) -> None:
        self.threads = threads
        # The int8 detector and recogniser (models/ocr_int8.py) when derived and intact.
        self.quantised = quantised
        self.precision = ""  # "int8" or "float" once loaded
        self.precision_note = ""  # why float when int8 was asked for
        self.min_score = min_score
        self._det: Any = None  # onnxruntime sessions
        self._rec: Any = None
        self._det_post: Any = None  # RapidOCR's DB post-processing
        self._decode: Any = None  # and its CTC decoder
        # exp of each uint8 logit when the recogniser outputs them (derivation 2), else None
        # (its output is the probabilities).
        self._rec_table: np.ndarray | None = None
        self._lock = threading.Lock()
        self.ink = InkSettings()
        self.one_line = True  # the single-line shortcut (see ONE_LINE_MAX_H)
        self.line_pad = LINE_PAD
        self.width_scale = REC_WIDTH_SCALE

    def load(self) -> None:
        with self._lock:
            self._load()

    def _session_options(self, arena: bool) -> Any:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.log_severity_level = 3
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if self.threads:
            so.intra_op_num_threads = self.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # Idle pool threads must not spin waiting for work (CPU burnt between lines). The
        # recogniser keeps its memory arena: without it every line's run allocates afresh
        # (measured +20 % recognition CPU), and its inputs are small. The detector's inputs are
        # blocks of any size (a photo can be the whole screen): an arena would keep the largest
        # one's buffers resident for good, and detection is the smaller share of the work.
        # Denormals are not flushed to zero ("session.set_denormal_as_zero", ~5 % faster): that
        # sets the calling thread's floating-point mode for good, so every later float in
        # Python on that thread would lose its subnormals too.
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        so.add_session_config_entry("session.inter_op.allow_spinning", "0")
        so.enable_cpu_mem_arena = arena
        so.enable_mem_pattern = arena
        return so

    def _load(self) -> None:
        if self._rec is not None:
            return
        t0 = time.perf_counter()
        keep_offline()  # onnxruntime reads its telemetry switch when it is imported
        try:
            import onnxruntime as ort
            from rapidocr.ch_ppocr_det.utils import DBPostProcess
        except ImportError as e:
            raise _not_installed(e) from None
        sources = model_paths()
        paths = {stage: str(p) for stage, p in sources.items()}
        self.precision, self.precision_note = "float", ""
        if self.quantised:
            from models.ocr_int8 import find

            int8, why = find(sources)
            if int8:
                paths.update({stage: str(p) for stage, p in int8.items()})
                self.precision = "int8"
            else:
                self.precision_note = why
                log.warning(
                    "OCR runs on the float models (slower: about 1.4x the CPU): %s. "
                    "Run 'make setup' (or python -m models.ocr_derive) to derive them.",
                    why,
                )
        cpu = ["CPUExecutionProvider"]
        det = ort.InferenceSession(paths["Det"], self._session_options(False), providers=cpu)
        rec = ort.InferenceSession(paths["Rec"], self._session_options(True), providers=cpu)
        # RapidOCR's defaults for these models (its config.yaml).
        self._det_post = DBPostProcess(
            thresh=0.3, box_thresh=0.5, max_candidates=1000, unclip_ratio=1.6,
            score_mode="fast", use_dilation=True,
        )  # fmt: skip
        self._det = det
        self._use_recogniser(rec)
        log.info("OCR engine (%s) loaded in %.2f s", self.precision, time.perf_counter() - t0)

    def _use_recogniser(self, rec: Any) -> None:
        """Read lines with this recogniser session: its alphabet (in the float model's metadata;
        the int8 copy keeps it) and what its output is."""
        from rapidocr.ch_ppocr_rec.utils import CTCLabelDecode

        from models.ocr_int8 import REC_OUTPUT_KEY, REC_SCALE_KEY, REC_UINT8_LOGITS

        meta = rec.get_modelmeta().custom_metadata_map
        self._rec_table = None
        if meta.get(REC_OUTPUT_KEY) == REC_UINT8_LOGITS:
            self._rec_table = logit_table(float(meta[REC_SCALE_KEY]))
        self._decode = CTCLabelDecode(character=meta["character"].splitlines())
        self._rec = rec

    def recognise(self, image: object, lines: LineTextCache | None = None) -> list[OcrBox]:
        """OCR a PIL image or a BGRA/BGR numpy array; boxes in its pixel coordinates. With
        `lines`, text lines whose pixels were recognised before take their text from it."""
        bgr = _to_bgr(image)
        if bgr.shape[0] < 4 or bgr.shape[1] < 4:
            return []
        with self._lock:
            self._load()
            return self._read(bgr, lines)

    def recognise_regions(
        self, image: object, rects: Sequence[Rect], lines: LineTextCache | None = None
    ) -> list[OcrBox]:
        """OCR only `rects` (image pixels) of the image; boxes in the whole image's pixels."""
        bgr = _to_bgr(image)
        height, width = bgr.shape[:2]
        bounds = Rect(0, 0, width, height)
        out: list[OcrBox] = []
        for rect in rects:
            r = Rect(*rect).intersect(bounds)
            if r is None:
                continue
            crop = bgr[r.y : r.bottom, r.x : r.right]
            for b in self.recognise(crop, lines):
                out.append(OcrBox(b.x + r.x, b.y + r.y, b.w, b.h, b.text, b.score))
        return out

    def _read(self, bgr: np.ndarray, lines: LineTextCache | None) -> list[OcrBox]:
        quads: list[np.ndarray] = []
        blocks = ink_blocks(bgr, self.ink)
        rest = []
        for b in blocks:
            quad = _one_line_box(bgr, b, self.ink.threshold) if self.one_line else None
            if quad is None:
                rest.append(b)
            else:
                quads.append(quad)
        for group in stack_blocks(rest, 2 * DET_MARGIN):
            quads.extend(self._detect(bgr, group))
        quads.sort(key=lambda q: (float(q[:, 1].min()), float(q[:, 0].min())))
        out: list[OcrBox] = []
        for quad in quads:
            found = None
            if lines is not None:
                key = _line_key(_around(bgr, quad))
                found = lines.get(key)
                if found is None:
                    pieces = word_pieces(_around(bgr, quad, margin=0))
                    found = _assemble(lines.words, pieces)
                    if found is None:
                        found = self._recognise_line(_line_crop(bgr, quad, self.line_pad))
                        _learn(lines.words, pieces, found)
                    lines.put(key, *found)
            if found is None:
                found = self._recognise_line(_line_crop(bgr, quad, self.line_pad))
            text, score = found
            if not text or not text.strip() or score < self.min_score:
                continue
            x0, y0 = np.floor(quad.min(axis=0))
            x1, y1 = np.ceil(quad.max(axis=0))
            x0, y0 = max(0.0, x0), max(0.0, y0)
            out.append(OcrBox(int(x0), int(y0), int(x1 - x0), int(y1 - y0), text, score))
        return out

    def _detect(self, bgr: np.ndarray, blocks: list[Rect]) -> list[np.ndarray]:
        """Line boxes (4x2 corner points, image pixels) the detector finds in `blocks` (a group
        of stack_blocks): run once on their union with a margin of the image around it, on the
        detector's 32 px grid (filled with the background). Boxes centred outside every block
        belong to another."""
        height, width = bgr.shape[:2]
        union = blocks[0]
        for b in blocks[1:]:
            union = union.union(b)
        ctx = union.pad(DET_MARGIN, DET_MARGIN).intersect(Rect(0, 0, width, height))
        if ctx is None:
            return []
        crop = bgr[ctx.y : ctx.bottom, ctx.x : ctx.right]
        h, w = crop.shape[:2]
        grid_h, grid_w = -(-max(h, 32) // 32) * 32, -(-max(w, 32) // 32) * 32
        canvas = np.empty((grid_h, grid_w, 3), dtype=np.uint8)
        canvas[...] = crop[0, 0]
        canvas[:h, :w] = crop
        x = canvas.astype(np.float32).transpose(2, 0, 1)[None] * (2.0 / 255.0) - 1.0
        pred = self._det.run(None, {"x": x})[0]
        found, _scores = self._det_post(pred, (grid_h, grid_w))
        out = []
        for quad in found:
            pts = np.asarray(quad, dtype=np.float64).reshape(-1, 2) + np.array([ctx.x, ctx.y])
            cx, cy = pts.mean(axis=0)
            if any(b.x <= cx < b.right and b.y <= cy < b.bottom for b in blocks):
                out.append(pts)
        return out

    def _recognise_line(self, crop: np.ndarray) -> tuple[str, float]:
        """(text, score) of one line crop, at the model's 48 px height and the crop's width
        narrowed by width_scale."""
        import cv2

        h, w = crop.shape[:2]
        if h < 1 or w < 1:
            return "", 0.0
        ratio = w / h
        scaled_w = max(1, int(np.ceil(REC_HEIGHT * ratio * self.width_scale)))
        width = max(REC_MIN_WIDTH, scaled_w)
        line = cv2.resize(crop, (scaled_w, REC_HEIGHT)).astype(np.float32)
        x = np.zeros((1, 3, REC_HEIGHT, width), dtype=np.float32)  # 0 is mid-grey, as RapidOCR
        x[0, :, :, :scaled_w] = line.transpose(2, 0, 1) * (2.0 / 255.0) - 1.0
        preds = self._rec.run(None, {"x": x})[0]
        # RapidOCR's decoder takes argmax and max over the 18,710 classes (two passes); the
        # max is the value at the argmax. Without the softmax (derivation 2) the argmax is the
        # same on the logits, and the probability is computed where a character is read.
        idx = preds.argmax(axis=2)
        if self._rec_table is not None:
            prob = character_probs(preds, idx, self._rec_table)
        else:
            prob = np.take_along_axis(preds, idx[..., None], axis=2)[..., 0]
        results, _words = self._decode.decode(idx, prob, False, [ratio], ratio, True)
        text, score = results[0]
        return str(text), float(score)


def logit_table(scale: float) -> np.ndarray:
    """exp(scale * (q - 255)) for each uint8 logit q: the softmax of a step is the table at its
    logits over their sum (a shift of every logit, here the zero point and 255, cancels)."""
    return np.exp(scale * (np.arange(256, dtype=np.float64) - 255.0)).astype(np.float32)


def character_probs(logits: np.ndarray, idx: np.ndarray, table: np.ndarray) -> np.ndarray:
    """The softmax probability of the best class (`idx`, the argmax) of each step that reads a
    character, from a recogniser's uint8 logits (`table`: logit_table of their scale). Only the
    steps the CTC decoder keeps are scored (not the blank, class 0, nor a repeat of the step
    before); the others are left 0, which it never reads."""
    import cv2

    prob = np.zeros(idx.shape, dtype=np.float32)
    keep = idx != 0
    keep[:, 1:] &= idx[:, 1:] != idx[:, :-1]
    b, t = np.nonzero(keep)
    if b.size:
        # cv2.LUT: numpy's table[rows] widens every uint8 index to 8 bytes first (3x slower).
        rows = cv2.LUT(np.ascontiguousarray(logits[b, t]), table)
        prob[b, t] = rows[np.arange(b.size), idx[b, t]] / rows.sum(axis=1)
    return prob


def _one_line_box(bgr: np.ndarray, block: Rect, threshold: int) -> np.ndarray | None:
    """The box (4x2 corners, image pixels) of `block` when it is one line of text: at most
    ONE_LINE_MAX_H rows of ink with none empty between them; else None (left to the detector)."""
    if block.h > ONE_LINE_MAX_H or block.h < 4:
        return None
    px = bgr[block.y : block.bottom, block.x : block.right, :3].astype(np.int16)
    if px.shape[1] < 2:
        return None
    # A row holds ink when two neighbouring pixels in it differ (as ink_mask sees it).
    inked = (np.abs(px[:, 1:] - px[:, :-1]).max(axis=2) > threshold).any(axis=1)
    if not inked[1:-1].all():
        return None  # an empty row: two lines, or ink below a line
    height, width = bgr.shape[:2]
    pad_x, pad_y = (max(2, round(share * block.h)) for share in ONE_LINE_PAD)
    x0, y0 = max(0, block.x - pad_x), max(0, block.y - pad_y)
    x1, y1 = min(width, block.right + pad_x), min(height, block.bottom + pad_y)
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)


def _line_crop(bgr: np.ndarray, quad: np.ndarray, pad: float = LINE_PAD) -> np.ndarray:
    """The line under a detected box, straightened and padded for the recogniser."""
    from rapidocr.utils.process_img import get_rotate_crop_image

    return _pad_line(get_rotate_crop_image(bgr, quad.astype(np.float32).copy()), pad)


# Within a line, a run of background columns at least this share of the line's ink height
# separates words (a space is ~0.3-0.45 of it in UI fonts, the gap between letters < 0.2).
WORD_GAP = 0.3
# A pixel of a line is ink when it differs from the line's background by more than this.
WORD_INK = 32


def word_pieces(line: np.ndarray) -> list[bytes]:
    """Keys of the words of one line (the image under its box): the line cut at runs of
    background columns, each piece keyed by its own ink pixels and the background (not by
    where it sits in the line: a word's pixels are the same beside a descender or without one).
    The same word drawn the same way anywhere gives the same key. [] for a line of one piece
    (the line cache covers it) or without ink."""
    if line.ndim != 3 or line.shape[0] < 2 or line.shape[1] < 2:
        return []
    bg = line[0, 0]
    ink = (np.abs(line.astype(np.int16) - bg) > WORD_INK).any(axis=2)
    rows = np.flatnonzero(ink.any(axis=1))
    if rows.size == 0:
        return []
    top, bottom = int(rows[0]), int(rows[-1]) + 1
    gap = max(2, int(WORD_GAP * (bottom - top)))
    spans = runs(ink[top:bottom].any(axis=0), gap)
    if len(spans) < 2:
        return []
    keys = []
    for a, b in spans:
        sub = ink[top:bottom, a:b]
        r = np.flatnonzero(sub.any(axis=1))
        piece = line[top + r[0] : top + r[-1] + 1, a:b]
        h = hashlib.blake2b(b"word" + bg.tobytes(), digest_size=16)
        h.update(np.ascontiguousarray(piece).tobytes())
        h.update(repr(piece.shape).encode())
        keys.append(h.digest())
    return keys


def _assemble(words: TextByPixels, pieces: list[bytes]) -> tuple[str, float] | None:
    """The line's text from its words' text, when every word was read before."""
    if not pieces:
        return None
    found = []
    for k in pieces:
        f = words.get(k)
        if f is None:
            return None
        found.append(f)
    return " ".join(t for t, _ in found), min(sc for _, sc in found)


def _learn(words: TextByPixels, pieces: list[bytes], read: tuple[str, float]) -> None:
    """Keep the words of a line just read, only when the recogniser's reading splits into
    exactly as many words as the pixels do (then each piece is that word)."""
    tokens = read[0].split()
    if pieces and len(tokens) == len(pieces):
        for k, t in zip(pieces, tokens):
            words.put(k, t, read[1])


def _pad_line(crop: np.ndarray, factor: float) -> np.ndarray:
    """The crop with rows of its background colour (its corner pixel) above and below, to
    `factor` times its height."""
    if crop.ndim != 3 or not crop.size or factor <= 1.0:
        return crop
    extra = int(crop.shape[0] * (factor - 1.0) / 2)
    if extra <= 0:
        return crop
    band = np.broadcast_to(crop[0, 0], (extra, crop.shape[1], crop.shape[2]))
    return np.ascontiguousarray(np.concatenate([band, crop, band]), dtype=np.uint8)


def _around(img: np.ndarray, box: Any, margin: int = 3) -> np.ndarray:
    """The image under a detected line's box, a few pixels wider each way: the detector's
    box moves by a pixel or two with what surrounds the line, the line's ink does not."""
    pts = np.asarray(box, dtype=np.float64).reshape(-1, 2)
    h, w = img.shape[:2]
    x0 = max(0, int(np.floor(pts[:, 0].min())) - margin)
    y0 = max(0, int(np.floor(pts[:, 1].min())) - margin)
    x1 = min(w, int(np.ceil(pts[:, 0].max())) + margin)
    y1 = min(h, int(np.ceil(pts[:, 1].max())) + margin)
    return img[y0 : max(y0, y1), x0 : max(x0, x1)]


def _line_key(crop: np.ndarray) -> bytes:
    """A digest of one line crop's ink: the crop trimmed to the pixels that differ from its
    corner (the background), so the same line cut by a box a pixel larger or smaller (the
    detector's boxes move a little with what surrounds the line) gives the same key. Equal ink
    on a uniform background is the same text."""
    ink = crop
    if crop.ndim == 3 and crop.size:
        mask = np.any(crop != crop[0, 0], axis=2)
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
        if rows.size:
            ink = crop[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
            h = hashlib.blake2b(crop[0, 0].tobytes(), digest_size=16)
        else:
            h = hashlib.blake2b(b"blank", digest_size=16)
    else:
        h = hashlib.blake2b(b"raw", digest_size=16)
    h.update(np.ascontiguousarray(ink).tobytes())
    h.update(repr((ink.shape, str(ink.dtype))).encode())
    return h.digest()

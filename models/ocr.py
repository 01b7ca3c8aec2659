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

from core.capture.change import LineTextCache
from core.capture.geometry import Rect
from core.errors import ModelMissing
from core.interfaces import OcrBox
from models.offline import keep_offline

log = logging.getLogger(__name__)

# Detection runs on the image scaled by this much. Half size made detection ~4x cheaper and
# read plain text pages the same, but lost characters on spreadsheets (cell text beside grid
# lines: CER 0.08 -> 0.37), code (0.11 -> 0.17) and, with the padding below, dark chat
# bubbles (0 -> 0.28); 0.75 still lost spreadsheet cells. So: full size.
DET_SCALE = 1.0
DET_MIN_SIDE = 64
# Each line crop is padded above and below to this many times its height (with its own
# background) before recognition: the recogniser scales crops to 48 px high, so a taller crop
# is a narrower input and recognition costs less (measured: dense 1080p screen -25 % CPU, same
# character error rate; at 2x lines start to be lost).
LINE_PAD = 1.5
# The bundled model files, relative to the rapidocr package.
_MODELS = {
    "Det": "models/PP-OCRv6_det_small.onnx",
    "Rec": "models/PP-OCRv6_rec_small.onnx",
    "Cls": "models/ch_ppocr_mobile_v2.0_cls_mobile.onnx",
}


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
    onnxruntime's pool so OCR leaves a core for the rest of the app."""

    def __init__(self, threads: int | None = None, min_score: float = 0.5) -> None:
        self.threads = threads
        self.min_score = min_score
        self._engine: Any = None
        self._lock = threading.Lock()
        self._lines: LineTextCache | None = None  # the current call's, under self._lock
        self._keys: list[bytes] | None = None  # line keys of the crops about to be recognised

    def load(self) -> None:
        with self._lock:
            self._load()

    def _load(self) -> Any:
        if self._engine is not None:
            return self._engine
        t0 = time.perf_counter()
        keep_offline()  # onnxruntime reads its telemetry switch when it is imported
        try:
            import rapidocr
            from rapidocr import RapidOCR
        except ImportError as e:
            raise ModelMissing(
                f"The OCR engine is not installed ({e}). Reinstall Mnemo's dependencies "
                "('make setup') to read text from the screen."
            ) from None
        root = Path(rapidocr.__file__).resolve().parent
        params: dict[str, Any] = {
            "Global.log_level": "error",
            "Global.text_score": self.min_score,
            # Screen text is never upside down: skip the orientation classifier.
            "Global.use_cls": False,
            # Screen text is already at a readable size. The default ("min" 736) upscales a
            # small region until its short side is 736 px: a 800x200 strip became 2944x736
            # and took 5x longer. Only shrink (see DET_SCALE, set per image).
            "Det.limit_type": "max",
            "Det.limit_side_len": 2048,
        }
        for stage, rel in _MODELS.items():
            path = root / rel
            if not path.is_file():
                raise ModelMissing(
                    f"The OCR model {path.name} is missing from the rapidocr package at {root}. "
                    "Reinstall it ('make setup'); Mnemo never downloads models."
                )
            # An explicit path: rapidocr then never looks for (or downloads) another file.
            params[f"{stage}.model_path"] = str(path)
        if self.threads:
            params["EngineConfig.onnxruntime.intra_op_num_threads"] = self.threads
            params["EngineConfig.onnxruntime.inter_op_num_threads"] = 1
        self._engine = RapidOCR(params=params)
        # Recognition goes through the line cache of the current call (if it has one); the
        # lines are keyed where they are cut out, from the image around each box.
        recognise_lines = self._engine.recognize_txt
        self._engine.recognize_txt = lambda crops: self._recognise_lines(recognise_lines, crops)
        cut = self._engine.crop_text_regions
        self._engine.crop_text_regions = lambda img, boxes: self._cut_lines(cut, img, boxes)
        logging.getLogger("RapidOCR").setLevel(logging.ERROR)
        log.info("OCR engine loaded in %.2f s", time.perf_counter() - t0)
        return self._engine

    def recognise(self, image: object, lines: LineTextCache | None = None) -> list[OcrBox]:
        """OCR a PIL image or a BGRA/BGR numpy array; boxes in its pixel coordinates. With
        `lines`, text lines whose pixels were recognised before take their text from it."""
        bgr = _to_bgr(image)
        if bgr.shape[0] < 4 or bgr.shape[1] < 4:
            return []
        with self._lock:
            engine = self._load()
            self._lines, self._keys = lines, None
            det = engine.text_det or engine._load_det_model()
            det.limit_side_len = max(DET_MIN_SIDE, int(max(bgr.shape[:2]) * DET_SCALE))
            try:
                result = engine(bgr)
            finally:
                self._lines, self._keys = None, None
        if result.boxes is None or result.txts is None or result.scores is None:
            return []
        boxes: list[OcrBox] = []
        for quad, text, score in zip(result.boxes, result.txts, result.scores):
            if not text or not text.strip() or float(score) < self.min_score:
                continue
            pts = np.asarray(quad, dtype=np.float64)
            x0, y0 = np.floor(pts.min(axis=0))
            x1, y1 = np.ceil(pts.max(axis=0))
            x0, y0 = max(0.0, x0), max(0.0, y0)
            boxes.append(
                OcrBox(int(x0), int(y0), int(x1 - x0), int(y1 - y0), str(text), float(score))
            )
        return boxes

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

    def _recognise_lines(self, recognise: Any, crops: list[np.ndarray]) -> Any:
        """RapidOCR's recognition step over the line crops it cut out, asking the current
        call's line cache first: only lines never seen are run through the model."""
        lines = self._lines
        if lines is None:
            return recognise(crops)
        from rapidocr.ch_ppocr_rec import TextRecOutput

        keys = self._keys
        if keys is None or len(keys) != len(crops):
            keys = [_line_key(c) for c in crops]
        found = [lines.get(k) for k in keys]
        missing = [i for i, f in enumerate(found) if f is None]
        if missing:
            fresh = recognise([crops[i] for i in missing])
            for i, text, score in zip(missing, fresh.txts, fresh.scores):
                found[i] = (str(text), float(score))
                lines.put(keys[i], str(text), float(score))
        texts = tuple(f[0] if f else "" for f in found)
        scores = tuple(f[1] if f else 0.0 for f in found)
        return TextRecOutput(
            imgs=list(crops),
            txts=texts,
            scores=list(scores),
            word_results=tuple(None for _ in crops),  # type: ignore[arg-type]
            elapse=0.0,
        )

    def _cut_lines(self, cut: Any, img: np.ndarray, boxes: Any) -> list[np.ndarray]:
        crops: list[np.ndarray] = cut(img, boxes)
        if self._lines is not None:
            self._keys = [_line_key(_around(img, box)) for box in boxes]
        return [_pad_line(c, LINE_PAD) for c in crops]


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

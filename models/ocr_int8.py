"""Where the int8 copies of the bundled PP-OCR detector and recogniser live, and whether they are
intact. They are derived on this machine from the float models in the rapidocr package (never
downloaded) by models/ocr_derive.py: `make setup` derives them into the venv, `make package` puts
them in the bundle; models/ocr.py uses them when they are present and intact, else the float
models (slower, and it says so).

Why static: dynamic quantisation turns convolutions into ConvInteger, which onnxruntime runs
about 4x slower than float on this CPU; QDQ with per-channel weights runs them as int8
convolutions (measured: recognition 0.72x the CPU, the detector 0.87x, the same character error
rate on the rendered screens)."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

# Bump when the derivation changes: a manifest of another version is rebuilt. The manifest and
# the files carry the version in their names, so a venv shared by checkouts of two derivations
# keeps both (deriving one does not damage the other's files).
# 2: the recogniser's final softmax dropped, and its logits left quantised (uint8, their scale in
#    the model's metadata): models/ocr.py takes their argmax and scores only the characters read.
DERIVATION = 2
STAGES = ("Det", "Rec")
MANIFEST = f"ocr-int8-v{DERIVATION}.json"
# Written into the derived recogniser's metadata: what its output is ("uint8 logits": no softmax,
# no dequantisation) and the logits' scale (one step of the uint8 is this much of a logit).
REC_OUTPUT_KEY = "mnemo_rec_output"
REC_UINT8_LOGITS = "uint8 logits"
REC_SCALE_KEY = "mnemo_rec_logit_scale"


def derived_dir() -> Path:
    """Where the int8 models live: MNEMO_OCR_INT8_DIR if set; in the bundle, its mnemo-models
    folder; else the venv's share/mnemo/models (written by `make setup`)."""
    env = os.environ.get("MNEMO_OCR_INT8_DIR")
    if env:
        return Path(env)
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "mnemo-models"
    return Path(sys.prefix) / "share" / "mnemo" / "models"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def versions() -> dict[str, str]:
    import onnxruntime

    return {"onnxruntime": onnxruntime.__version__, "derivation": str(DERIVATION)}


def find(sources: dict[str, Path], folder: Path | None = None) -> tuple[dict[str, Path], str]:
    """The int8 model of each stage of `sources` (the float models), and "" when all are there
    and intact; else ({}, why not) in words for the log and status. Intact: the manifest names
    these very float models (by hash), this onnxruntime and derivation, and each int8 file
    still has the hash it was written with."""
    folder = folder or derived_dir()
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return {}, f"no int8 OCR models in {folder}"
    try:
        info = json.loads(manifest.read_text(encoding="utf-8"))
        if info.get("versions") != versions():
            return {}, "the int8 OCR models were derived by another version"
        out = {}
        for stage in STAGES:
            entry = info["stages"][stage]
            if entry["source_sha256"] != sha256_file(sources[stage]):
                return {}, "the int8 OCR models were derived from other models"
            path = folder / entry["file"]
            if not path.is_file() or sha256_file(path) != entry["sha256"]:
                return {}, f"the int8 OCR model {entry['file']} is missing or damaged"
            out[stage] = path
    except (OSError, ValueError, KeyError, TypeError):
        return {}, "the int8 OCR models' manifest is damaged"
    return out, ""

"""Derive the int8 OCR models (python -m models.ocr_derive; `make setup` runs it): static QDQ
quantisation of the rapidocr package's float detector and recogniser, calibrated on the inputs
the float engine feeds them while reading screens of text rendered here. Deterministic: the same
packages give the same bytes. models/ocr_int8.py says where they go and checks them.

Why static: dynamic quantisation turns convolutions into ConvInteger, which onnxruntime runs
about 4x slower than float on this CPU; QDQ with per-channel weights runs them as int8
convolutions (measured: recognition 0.72x the CPU, the detector 0.87x, the same character error
rate on the rendered screens).

The recogniser's last softmax over its 18,710 classes is dropped before it is quantised, and
its last DequantizeLinear after (derivation 2, _drop_softmax and _keep_logits_quantised): it
outputs uint8 logits; the engine takes their argmax and computes the probability only for the
characters the decoder keeps (models.ocr.character_probs). Measured on the dense 1080p screen
(36 lines), one thread, derivations alternating frame by frame: 0.90x the CPU of derivation 1,
the same text read. Fusing the spelt-out GELUs into one float Gelu each was faster still but
read small text worse (146 of 192 lines of 11-14 px text letter for letter, against 151)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from models.ocr import RapidOcrEngine, model_paths
from models.ocr_int8 import (
    DERIVATION,
    MANIFEST,
    REC_OUTPUT_KEY,
    REC_SCALE_KEY,
    REC_UINT8_LOGITS,
    STAGES,
    derived_dir,
    find,
    sha256_file,
    versions,
)

log = logging.getLogger(__name__)

# Calibration: this many recogniser inputs (line crops) and every detector input of the
# calibration screens. More lines did not read better (200: CER 0.0355 on the dense screen
# against 0.0347 with 48) and cost 4x the time.
CALIBRATION_LINES = 48
CALIBRATION_SEED = 20261207
_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
)
# Calibration text: its own words (not the benchmarks' or tests'), digits and punctuation.
_TEXT = (
    "the of and to in is for on with as by at from that this be are or an it was not your all "
    "open close file edit view help settings account total date time amount due paid name "
    "email subject reply forward inbox draft folder table column row sheet value cell chart "
    "today tomorrow monday friday morning evening event room call note page chapter section "
    "terminal python install error warning build passed failed commit branch merge user admin"
)
_WORDS = tuple(_TEXT.split())


def _font(path: str, size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.truetype(path, size)
    except OSError:
        return ImageFont.load_default(size)


def calibration_screens(seed: int = CALIBRATION_SEED) -> list[Any]:
    """1920x1080 screens of UI-like text, light and dark: lines of 11-20 px in sans and mono,
    label rows, lines drawn close enough to touch (the detector's blocks) and large headings."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    themes = [((255, 255, 255), (20, 20, 20)), ((30, 32, 36), (225, 228, 232)),
              ((236, 238, 242), (30, 90, 200))]  # fmt: skip
    out = []
    for bg, fg in themes:
        img = Image.new("RGB", (1920, 1080), bg)
        draw = ImageDraw.Draw(img)
        y = 20
        while y < 1000:
            size = rng.choice((11, 12, 13, 14, 15, 16, 18, 20, 28, 34))
            font = _font(rng.choice(_FONTS), size)
            x = 20
            while x < 1700:
                n = rng.randint(1, 10)
                words = [rng.choice(_WORDS) for _ in range(n)]
                if rng.random() < 0.3:
                    words.append(f"{rng.randint(0, 99999):,}.{rng.randint(0, 99):02d}")
                if rng.random() < 0.2:
                    words[0] = words[0].title() + ":"
                text = " ".join(words)
                draw.text((x, y), text, fg, font)
                x += int(draw.textlength(text, font=font)) + rng.randint(40, 400)
            # Sometimes the next line touches this one (no empty row between: the detector).
            y += size + (0 if rng.random() < 0.25 else rng.randint(size // 2, 2 * size))
        out.append(img)
    return out


def _drop_softmax(model: Any) -> None:
    """Drop the recogniser's final Softmax over the classes, in place: the tensor it read
    becomes the graph's output (logits), and the model says so in its metadata. Raises
    ValueError if the graph does not end so (another model: derive nothing rather than a wrong
    copy)."""

    graph = model.graph
    last = graph.node[-1]
    axis = next((a.i for a in last.attribute if a.name == "axis"), -1)
    if last.op_type != "Softmax" or last.output[0] != graph.output[0].name or axis not in (2, -1):
        raise ValueError("the recogniser does not end in a softmax over the classes")
    out, inp = last.output[0], last.input[0]
    if sum(inp in n.input for n in graph.node) != 1:
        raise ValueError("the recogniser's logits feed more than its softmax")
    graph.node.remove(last)
    for node in graph.node:
        for i, o in enumerate(node.output):
            if o == inp:
                node.output[i] = out


def _keep_logits_quantised(model: Any) -> None:
    """Drop the quantised recogniser's last DequantizeLinear, in place: it outputs the uint8
    logits its last Add writes (onnxruntime runs that Add as QLinearAdd), and its metadata
    says so with their scale. Dequantising 18,710 classes per step costs more than the engine's
    scoring of the few characters it reads. Raises ValueError if it does not end so."""
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    last = graph.node[-1]
    if last.op_type != "DequantizeLinear" or last.output[0] != graph.output[0].name:
        raise ValueError("the quantised recogniser does not end in a DequantizeLinear")
    consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    scale = consts.get(last.input[1])
    zero = consts.get(last.input[2]) if len(last.input) > 2 else None
    if scale is None or scale.size != 1 or zero is None or zero.dtype != np.uint8:
        raise ValueError("the recogniser's logits are not quantised to uint8 per tensor")
    graph.node.remove(last)
    shape = graph.output[0].type.tensor_type.shape
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info(last.input[0], TensorProto.UINT8, None))
    graph.output[0].type.tensor_type.shape.CopyFrom(shape)
    helper.set_model_props(
        model,
        {**{p.key: p.value for p in model.metadata_props}, REC_OUTPUT_KEY: REC_UINT8_LOGITS,
         REC_SCALE_KEY: repr(float(scale.ravel()[0]))},
    )  # fmt: skip


class _Recording:
    """An onnxruntime session that keeps a copy of every input it runs on."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.inputs: list[np.ndarray] = []

    def run(self, names: Any, feed: dict[str, np.ndarray]) -> Any:
        self.inputs.append(feed["x"].copy())
        return self.session.run(names, feed)

    def get_modelmeta(self) -> Any:
        return self.session.get_modelmeta()


def derive(folder: Path | None = None) -> Path:
    """Derive the int8 models into `folder` (atomically: files then manifest); its manifest."""
    try:
        import onnx
        from onnx import version_converter
        from onnxruntime.quantization import (
            CalibrationDataReader,
            QuantFormat,
            QuantType,
            quantize_static,
        )
        from onnxruntime.quantization.shape_inference import quant_pre_process
    except ImportError as e:
        raise SystemExit(
            f"Deriving the int8 OCR models needs the onnx package ({e}): run 'make setup'."
        ) from None
    folder = folder or derived_dir()
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    sources = model_paths()
    engine = RapidOcrEngine(threads=1, quantised=False)
    engine.load()
    det, rec = _Recording(engine._det), _Recording(engine._rec)
    engine._det, engine._rec = det, rec
    for img in calibration_screens():
        engine.recognise(img)
    rng = random.Random(CALIBRATION_SEED)
    feeds = {
        "Det": det.inputs,
        "Rec": rng.sample(rec.inputs, min(CALIBRATION_LINES, len(rec.inputs))),
    }

    class Reader(CalibrationDataReader):
        def __init__(self, inputs: list[np.ndarray]) -> None:
            self.it = iter(inputs)

        def get_next(self) -> dict[str, np.ndarray] | None:
            x = next(self.it, None)
            return None if x is None else {"x": x}

    stages = {}
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        for stage in STAGES:
            src = sources[stage]
            # Per-channel scales need DequantizeLinear's axis (opset 13); the models are 11.
            opset13 = Path(tmp) / f"{stage}13.onnx"
            model = version_converter.convert_version(onnx.load(str(src)), 13)
            if stage == "Rec":
                _drop_softmax(model)
            onnx.save(model, str(opset13))
            pre = Path(tmp) / f"{stage}pre.onnx"
            quant_pre_process(str(opset13), str(pre), skip_symbolic_shape=True)
            name = f"{src.stem}.int8-v{DERIVATION}.onnx"
            part = Path(tmp) / name
            quantize_static(
                str(pre), str(part), Reader(feeds[stage]), quant_format=QuantFormat.QDQ,
                per_channel=True, weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8,
            )  # fmt: skip
            if stage == "Rec":
                quantised = onnx.load(str(part))
                _keep_logits_quantised(quantised)
                onnx.save(quantised, str(part))
            os.replace(part, folder / name)
            stages[stage] = {"file": name, "sha256": sha256_file(folder / name),
                             "source": src.name, "source_sha256": sha256_file(src),
                             "calibration_inputs": len(feeds[stage])}  # fmt: skip
    manifest = folder / MANIFEST
    info = {"versions": versions(), "onnx": onnx.__version__, "stages": stages}
    part_manifest = folder / (MANIFEST + ".part")
    part_manifest.write_text(json.dumps(info, indent=2), encoding="utf-8")
    os.replace(part_manifest, manifest)
    log.info("int8 OCR models derived in %.1f s", time.perf_counter() - t0)
    return manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, default=None, help="folder (default: %(default)s)")
    ap.add_argument("--check", action="store_true", help="only say whether they are intact")
    ap.add_argument("--force", action="store_true", help="derive even when they are intact")
    args = ap.parse_args(argv)
    folder = args.dir or derived_dir()
    found, why = find(model_paths(), folder)
    if args.check:
        print(why or f"int8 OCR models intact in {folder}")
        return 1 if why else 0
    if found and not args.force:
        return 0
    print(f"mnemo: deriving the int8 OCR models into {folder} ({why or 'forced'}; ~1 minute)")
    derive(folder)
    found, why = find(model_paths(), folder)
    if why:
        print(f"mnemo: the int8 OCR models just derived do not check: {why}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

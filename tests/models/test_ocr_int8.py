"""The int8 OCR models (models/ocr_int8.py): found only when intact, the engine falls back to the
float models and says why, and the derived models read the text the float ones do."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from models import ocr_derive, ocr_int8
from models.ocr import RapidOcrEngine, model_paths

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def _folder(tmp_path: Path) -> tuple[dict[str, Path], Path]:
    """Float 'models' and int8 'models' (a few bytes each) with the manifest derive writes."""
    src = tmp_path / "src"
    out = tmp_path / "int8"
    src.mkdir(parents=True)
    out.mkdir(parents=True)
    sources, stages = {}, {}
    for stage in ocr_int8.STAGES:
        sources[stage] = src / f"{stage}.onnx"
        sources[stage].write_bytes(b"float " + stage.encode())
        (out / f"{stage}.int8.onnx").write_bytes(b"int8 " + stage.encode())
        stages[stage] = {"file": f"{stage}.int8.onnx",
                         "sha256": ocr_int8.sha256_file(out / f"{stage}.int8.onnx"),
                         "source_sha256": ocr_int8.sha256_file(sources[stage])}  # fmt: skip
    info = {"versions": ocr_int8.versions(), "stages": stages}
    (out / ocr_int8.MANIFEST).write_text(json.dumps(info), encoding="utf-8")
    return sources, out


def test_intact_models_are_found_and_every_kind_of_damage_is_said(tmp_path) -> None:
    sources, out = _folder(tmp_path)
    found, why = ocr_int8.find(sources, out)
    assert why == "" and set(found) == {"Det", "Rec"}
    assert found["Rec"] == out / "Rec.int8.onnx"

    assert "no int8 OCR models" in ocr_int8.find(sources, tmp_path / "nowhere")[1]
    # A damaged (truncated, altered) int8 file is not used.
    (out / "Rec.int8.onnx").write_bytes(b"int8 Re")
    assert ocr_int8.find(sources, out) == (
        {},
        "the int8 OCR model Rec.int8.onnx is missing or damaged",
    )
    _, out = _folder(tmp_path / "b")
    (out / "Det.int8.onnx").unlink()
    assert "Det.int8.onnx is missing or damaged" in ocr_int8.find(sources, out)[1]
    # Derived from other float models (rapidocr upgraded): derive again.
    sources, out = _folder(tmp_path / "c")
    sources["Det"].write_bytes(b"newer float model")
    assert "derived from other models" in ocr_int8.find(sources, out)[1]
    # By another onnxruntime or derivation.
    sources, out = _folder(tmp_path / "d")
    info = json.loads((out / ocr_int8.MANIFEST).read_text())
    info["versions"]["derivation"] = "0"
    (out / ocr_int8.MANIFEST).write_text(json.dumps(info))
    assert "another version" in ocr_int8.find(sources, out)[1]
    (out / ocr_int8.MANIFEST).write_text('{"versions": ')
    assert "manifest is damaged" in ocr_int8.find(sources, out)[1]


@pytest.mark.logs_warnings
def test_engine_without_int8_models_reads_on_the_float_ones_and_says_so(
    tmp_path, monkeypatch, caplog
) -> None:
    monkeypatch.setenv("MNEMO_OCR_INT8_DIR", str(tmp_path))
    engine = RapidOcrEngine(threads=1)
    with caplog.at_level(logging.WARNING, logger="models.ocr"):
        engine.load()
    assert engine.precision == "float"
    assert "no int8 OCR models" in engine.precision_note
    assert any("make setup" in r.getMessage() for r in caplog.records)
    # Asked for float, it is float without a word.
    caplog.clear()
    plain = RapidOcrEngine(threads=1, quantised=False)
    with caplog.at_level(logging.WARNING, logger="models.ocr"):  # the load's INFO line is fine
        plain.load()
    assert plain.precision == "float" and plain.precision_note == "" and not caplog.records


def test_derived_int8_models_are_used_and_read_what_the_float_ones_read() -> None:
    # `make setup` derives them into the venv (the suite runs after it).
    _, why = ocr_int8.find(model_paths())
    assert why == "", f"{why}: run 'make setup' (python -m models.ocr_derive)"
    int8, fp = RapidOcrEngine(threads=1), RapidOcrEngine(threads=1, quantised=False)
    lines = ["Invoice 2041 due 14 March: 1,284.50 EUR", "Reply to Dana about the shipment",
             "def backup(path): return path.read_bytes()"]  # fmt: skip
    for fg, bg in (("black", "white"), ((225, 228, 232), (30, 32, 36))):
        img = Image.new("RGB", (900, 200), bg)
        draw = ImageDraw.Draw(img)
        for i, text in enumerate(lines):
            draw.text((20, 20 + 55 * i), text, fill=fg, font=ImageFont.truetype(FONT, 16 + 2 * i))
        assert [b.text for b in int8.recognise(img)] == lines
        assert [b.text for b in fp.recognise(img)] == lines
    assert int8.precision == "int8" and fp.precision == "float"


def test_calibration_screens_are_the_same_every_time() -> None:
    a, b = ocr_derive.calibration_screens(), ocr_derive.calibration_screens()
    assert len(a) == 3 and all(x.tobytes() == y.tobytes() for x, y in zip(a, b, strict=True))
    assert ocr_derive.calibration_screens(1)[0].tobytes() != a[0].tobytes()

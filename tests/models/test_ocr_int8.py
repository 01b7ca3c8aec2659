"""The int8 OCR models (models/ocr_int8.py): found only when intact, the engine falls back to the
float models and says why, and the derived models read the text the float ones do."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from models import ocr_derive, ocr_int8
from models.ocr import RapidOcrEngine, character_probs, logit_table, model_paths

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


def _softmax_model() -> Any:
    """A small graph shaped as the recogniser's end: x -> MatMul -> Add -> Identity -> Softmax
    over the last axis (the classes)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.normal(size=(8, 12)).astype(np.float32), "w")
    bias = numpy_helper.from_array(rng.normal(size=(12,)).astype(np.float32), "b")
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["m"]),
        helper.make_node("Add", ["m", "b"], ["a"]),
        helper.make_node("Identity", ["a"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=2),
    ]
    graph = helper.make_graph(
        nodes, "rec_end",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 5, 8])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, 5, 12])],
        initializer=[w, bias],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    helper.set_model_props(model, {"character": "a\nb"})
    return model


def _run(model: Any, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


def test_derivation_2_outputs_the_logits_of_the_softmax() -> None:
    model = _softmax_model()
    x = np.random.default_rng(1).normal(size=(1, 5, 8)).astype(np.float32)
    probs = _run(model, x)
    ocr_derive._drop_softmax(model)
    assert [n.op_type for n in model.graph.node] == ["MatMul", "Add", "Identity"]
    logits = _run(model, x)
    # The same function before the softmax: its softmax is the old output.
    np.testing.assert_allclose(_softmax(logits), probs, rtol=1e-4, atol=1e-6)
    assert (logits.argmax(axis=2) == probs.argmax(axis=2)).all()


def test_derivation_2_refuses_a_graph_of_another_shape() -> None:
    model = _softmax_model()
    del model.graph.node[-1]  # no softmax at the end
    model.graph.output[0].name = "logits"
    with pytest.raises(ValueError, match="does not end in a softmax"):
        ocr_derive._drop_softmax(model)
    model = _softmax_model()
    model.graph.node[-1].attribute[0].i = 1  # a softmax over another axis
    with pytest.raises(ValueError, match="does not end in a softmax"):
        ocr_derive._drop_softmax(model)
    from onnx import helper

    model = _softmax_model()  # the logits are used by another node too
    model.graph.node.insert(3, helper.make_node("Relu", ["logits"], ["r"]))
    with pytest.raises(ValueError, match="feed more than its softmax"):
        ocr_derive._drop_softmax(model)
    with pytest.raises(ValueError, match="does not end in a DequantizeLinear"):
        ocr_derive._keep_logits_quantised(_softmax_model())


def _softmax(logits: np.ndarray) -> np.ndarray:
    soft = np.exp(logits - logits.max(axis=2, keepdims=True))
    return soft / soft.sum(axis=2, keepdims=True)


def _quantised_end(scale: float, zero: int) -> Any:
    """A graph ending as the quantised recogniser does: logits -> QuantizeLinear (uint8) ->
    DequantizeLinear -> output."""
    from onnx import TensorProto, helper, numpy_helper

    inits = [numpy_helper.from_array(np.array(scale, np.float32), "s"),
             numpy_helper.from_array(np.array(zero, np.uint8), "z")]  # fmt: skip
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]),
        helper.make_node("DequantizeLinear", ["q", "s", "z"], ["out"]),
    ]
    graph = helper.make_graph(
        nodes, "rec_q",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 30, 200])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 30, 200])],
        initializer=inits,
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    helper.set_model_props(model, {"character": "a\nb"})
    return model


def test_derivation_2_keeps_the_logits_quantised_and_the_engine_scores_them() -> None:
    scale, zero = 0.25, 100
    model = _quantised_end(scale, zero)
    rng = np.random.default_rng(3)
    x = rng.normal(scale=5.0, size=(1, 30, 200)).astype(np.float32)
    x[0, ::4, 0] += 25.0  # some steps read the blank
    x[0, 5:9, 7] += 25.0  # and one character over several steps (CTC repeats)
    logits = _run(model, x)  # dequantised: what derivation 1 fed the softmax
    ocr_derive._keep_logits_quantised(model)
    q = _run(model, x)
    assert q.dtype == np.uint8 and [n.op_type for n in model.graph.node] == ["QuantizeLinear"]
    np.testing.assert_allclose(scale * (q.astype(np.float32) - zero), logits, atol=1e-6)
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta[ocr_int8.REC_OUTPUT_KEY] == ocr_int8.REC_UINT8_LOGITS
    assert float(meta[ocr_int8.REC_SCALE_KEY]) == scale and meta["character"] == "a\nb"
    idx = q.argmax(axis=2)
    assert (idx == logits.argmax(axis=2)).all()
    got = character_probs(q, idx, logit_table(scale))
    want = _softmax(logits).max(axis=2)
    read = idx != 0
    read[:, 1:] &= idx[:, 1:] != idx[:, :-1]  # what the CTC decoder keeps
    assert read.sum() > 10 and (idx == 0).sum() >= 7 and not read[0, 6:9].any()
    np.testing.assert_allclose(got[read], want[read], rtol=1e-5)
    assert (got[~read] == 0).all()  # never read by the decoder


def test_derived_recogniser_is_derivation_2_and_kept_apart_from_derivation_1() -> None:
    int8, why = ocr_int8.find(model_paths())
    assert why == "", f"{why}: run 'make setup' (python -m models.ocr_derive)"
    assert f"ocr-int8-v{ocr_int8.DERIVATION}.json" == ocr_int8.MANIFEST
    assert ocr_int8.DERIVATION >= 2 and f"-v{ocr_int8.DERIVATION}" in int8["Rec"].name
    import onnx

    rec = onnx.load(str(int8["Rec"]))
    ops = [n.op_type for n in rec.graph.node]
    assert "Softmax" not in ops[-3:] and ops[-1] == "QuantizeLinear"
    meta = {p.key: p.value for p in rec.metadata_props}
    assert meta[ocr_int8.REC_OUTPUT_KEY] == ocr_int8.REC_UINT8_LOGITS
    engine = RapidOcrEngine(threads=1)
    engine.load()
    assert engine._rec_table is not None and engine.precision == "int8"

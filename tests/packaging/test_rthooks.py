"""The bundle's runtime hook, run from source: the self-check does nothing unless asked, and
what it checks is what the app runs, without the packages the bundle leaves out."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HOOKS = ROOT / "packaging" / "rthooks"


def test_selfcheck_hook_is_inert_without_its_variable() -> None:
    code = f"import runpy; runpy.run_path({str(HOOKS / 'selfcheck.py')!r}); print('app continues')"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "app continues"


def test_selfcheck_runs_the_apps_own_embedder_and_int8_ocr_from_source() -> None:
    """What the frozen self-check checks is what the app runs: models/minilm.py through
    models/embedder.py (not sentence-transformers) and models/ocr.py on the int8 models."""
    import json
    import os

    code = f"import runpy; runpy.run_path({str(HOOKS / 'selfcheck.py')!r})"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "MNEMO_BUNDLE_SELFCHECK": "1", "PYTHONPATH": str(ROOT)},
    )
    report = json.loads(out.stdout)
    checks = report["checks"]
    assert checks["embedder"]["ok"] and checks["embedder"]["detail"] == {"dim": 384}, checks
    assert checks["ocr"]["ok"], checks["ocr"]
    assert checks["ocr"]["detail"]["precision"] == "int8"
    # packaging/mnemo.spec leaves these out of the bundle: nothing the self-check runs (every
    # engine the app uses) may import them.
    left_out = {
        "sentence_transformers",
        "transformers",
        "kernels",
        "huggingface_hub",
        "scipy",
        "sklearn",
    }
    assert left_out.isdisjoint(report["modules"]), left_out & set(report["modules"])
    assert {"torch", "tokenizers", "onnxruntime", "llama_cpp", "mcp"} <= set(report["modules"])
    assert report["ok"], {k: c for k, c in report["checks"].items() if not c["ok"]}

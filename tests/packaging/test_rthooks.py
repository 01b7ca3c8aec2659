"""The bundle's runtime hooks, run from source: the transformers path patch turns the frozen
app's IndexError into "no model name", and the self-check hook does nothing unless asked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HOOKS = ROOT / "packaging" / "rthooks"

PATCH_CHECK = f"""
import runpy, sys
if "--with-hook" in sys.argv:
    runpy.run_path({str(HOOKS / "transformers_paths.py")!r})
import importlib
ad = importlib.import_module("transformers.utils.auto_docstring")
ad.inspect.getsourcefile = lambda obj: "transformers/processing_utils.py"  # as when frozen
print("name:", ad.get_model_name(print))
"""


def test_transformers_patch_tolerates_short_source_paths() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PATCH_CHECK, "--with-hook"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "name: None" in out.stdout


def test_without_the_patch_the_frozen_paths_fail() -> None:
    """Guards the reason for the hook: if transformers fixes this, the hook can go."""
    out = subprocess.run(
        [sys.executable, "-c", PATCH_CHECK], capture_output=True, text=True, timeout=120
    )
    assert out.returncode != 0
    assert "IndexError" in out.stderr


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
    assert "sentence_transformers" not in report["modules"]

"""make upgrade-check's report: upgrades found by comparing pins, and each failure (a test from
the junit file, a bundle check from the smoke report) blamed on the upgraded packages its
traceback runs through."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="tests.models.test_embedder" name="test_encode"><failure message="boom">
  File "/x/build/upgrade/.venv/lib/python3.11/site-packages/transformers/modeling.py", line 3
  File "/x/build/upgrade/.venv/lib/python3.11/site-packages/numpy/core.py", line 9
</failure></testcase>
<testcase classname="tests.core.test_store" name="test_open"><error message="db">
  File "/x/core/store.py", line 1</error></testcase>
<testcase classname="tests.core.test_ok" name="test_fine"/>
</testsuite></testsuites>"""


def test_failures_are_blamed_on_the_upgrades_they_run_through(tmp_path: Path) -> None:
    lock = tmp_path / "lock.txt"
    lock.write_text("numpy==2.0.0 \\\n    --hash=sha256:aa\ntransformers==5.0.0 \\\n")
    up = tmp_path / "up"
    site = up / ".venv" / "lib" / "python3.11" / "site-packages"
    for dist, top in (("transformers-5.1.0", "transformers"), ("numpy-2.0.0", "numpy")):
        (site / f"{dist}.dist-info").mkdir(parents=True)
        (site / f"{dist}.dist-info" / "RECORD").write_text(f"{top}/__init__.py,,\n")
    (up / "lock.txt").write_text("numpy==2.0.0 \\\ntransformers==5.1.0 \\\n")
    (up / "junit.xml").write_text(JUNIT)
    smoke = {
        "selfcheck": {
            "checks": {
                "qt": {"ok": True},
                "embedder": {
                    "ok": False,
                    "error": 'Traceback\\n  File "transformers/utils/y.py", line 2',
                },
            }
        }
    }
    (up / "smoke.json").write_text(json.dumps(smoke))
    out = subprocess.run(
        [sys.executable, str(ROOT / "packaging" / "upgrade_report.py"), str(lock), str(up)],
        capture_output=True,
        text=True,
    )
    report = json.loads(out.stdout)
    assert out.returncode == 1
    assert report["upgrades"] == {"transformers": {"from": "5.0.0", "to": "5.1.0"}}
    assert report["breaks"] == {
        "transformers": [
            "tests.models.test_embedder::test_encode",
            "bundle self-check: embedder",
        ]
    }
    assert report["unattributed"] == ["tests.core.test_store::test_open"]

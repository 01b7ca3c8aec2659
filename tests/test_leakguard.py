"""The leak guard itself: a test that leaves a thread running or logs a warning it did not
expect fails; one that cleans up, or expects its warning, passes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CASES = """
import logging
import threading

import pytest

stop = threading.Event()


def test_leaves_a_thread_running():
    threading.Thread(target=stop.wait, name="left-behind", daemon=True).start()


def test_joins_its_thread():
    t = threading.Thread(target=lambda: None)
    t.start()
    t.join()


def test_logs_a_warning_it_does_not_expect():
    logging.getLogger("mnemo.sample").warning("disk nearly full")


def test_looks_at_the_warning_it_causes(caplog):
    logging.getLogger("mnemo.sample").warning("disk nearly full")
    assert "disk" in caplog.text


@pytest.mark.logs_warnings
def test_marked_as_logging_on_purpose():
    logging.getLogger("mnemo.sample").error("damaged on purpose")
"""


def test_the_guard_fails_leaks_and_passes_clean_tests(tmp_path: Path) -> None:
    folder = tmp_path / "tests"
    folder.mkdir()
    (folder / "test_cases.py").write_text(textwrap.dedent(CASES), encoding="utf-8")
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.leakguard", "-p", "no:randomly",
         "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(folder / "test_cases.py")],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "MNEMO_LEAKS": ""},
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    out = r.stdout + r.stderr
    assert "leak guard" in out and "thread: left-behind" in out, out
    assert "warning: mnemo.sample:WARNING" in out, out
    # The guard fails a test in its teardown: the two leaking tests error, the rest pass.
    errors = sorted(line.split("::")[1].split()[0] for line in out.splitlines()
                    if line.startswith("ERROR "))  # fmt: skip
    assert errors == ["test_leaves_a_thread_running", "test_logs_a_warning_it_does_not_expect"]
    assert "2 errors" in out, out

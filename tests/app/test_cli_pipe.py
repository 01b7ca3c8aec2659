"""A reader that goes away (`mnemo --json search x | head -c 100`) ends the CLI quietly, as a
process killed by SIGPIPE would (exit 141), without a traceback: what the command did is done."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.app.test_cli_basic import mnemo
from tests.storehelp import ROOT, cli_env


def into_closed_pipe(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI with its stdout a pipe whose reader is gone before anything is written."""
    r, w = os.pipe()
    os.close(r)
    try:
        return subprocess.run(
            [sys.executable, str(ROOT / "main.py"), *args],
            env=cli_env(tmp),
            stdout=w,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            cwd=ROOT,
        )
    finally:
        os.close(w)


def test_a_closed_pipe_ends_the_command_without_a_traceback(tmp_path: Path) -> None:
    done = into_closed_pipe(tmp_path, "--data-dir", str(tmp_path / "s"), "--json", "init")
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
    assert done.returncode == 141
    # the store was made all the same: a second init says so
    again = mnemo(tmp_path, "--data-dir", str(tmp_path / "s"), "--json", "init")
    assert again.returncode != 0 and '"error"' in again.stdout


def test_plain_output_to_a_closed_pipe_ends_quietly_too(tmp_path: Path) -> None:
    done = into_closed_pipe(tmp_path, "--data-dir", str(tmp_path / "s"), "init")
    assert "BrokenPipe" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 141

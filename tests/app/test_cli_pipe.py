"""A reader that goes away (`mnemo --json search x | head -c 100`) ends the CLI quietly, as a
process killed by SIGPIPE would (exit 141), without a traceback: what the command did is done."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.storehelp import ROOT, cli_env


def test_a_closed_pipe_ends_the_command_without_a_traceback(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    r, w = os.pipe()
    os.close(r)  # the reader is gone before anything is written
    try:
        done = subprocess.run(
            [
                sys.executable,
                str(ROOT / "main.py"),
                "--data-dir",
                str(tmp_path / "s"),
                "--json",
                "init",
            ],
            env=env,
            stdout=w,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            cwd=ROOT,
        )
    finally:
        os.close(w)
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
    assert done.returncode == 141
    # the store was made all the same: a second init says so
    again = subprocess.run(
        [
            sys.executable,
            str(ROOT / "main.py"),
            "--data-dir",
            str(tmp_path / "s"),
            "--json",
            "init",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert again.returncode != 0 and '"error"' in again.stdout


def test_plain_output_to_a_closed_pipe_ends_quietly_too(tmp_path: Path) -> None:
    r, w = os.pipe()
    os.close(r)
    try:
        done = subprocess.run(
            [sys.executable, str(ROOT / "main.py"), "--data-dir", str(tmp_path / "s"), "init"],
            env=cli_env(tmp_path),
            stdout=w,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            cwd=ROOT,
        )
    finally:
        os.close(w)
    assert "BrokenPipe" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 141

"""A fresh Xvfb display for a test. Xvfb picks a free display number itself and writes it to a
pipe (-displayfd), so two test processes (pytest-xdist workers, other virtual displays on the
machine) never race for the same number."""

from __future__ import annotations

import os
import select
import subprocess

START_TIMEOUT_S = 20.0


def start_xvfb(size: str, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    """Start Xvfb with one screen of `size` ("WxHxD"); return the process and ":N"."""
    read_end, write_end = os.pipe()
    try:
        proc = subprocess.Popen(
            [
                "Xvfb",
                "-displayfd",
                str(write_end),
                "-screen",
                "0",
                size,
                "-nolisten",
                "tcp",
                *extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(write_end,),
        )
    finally:
        os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        ready, _, _ = select.select([pipe], [], [], START_TIMEOUT_S)
        number = pipe.readline().strip().decode() if ready else ""
    if not number.isdigit():
        proc.kill()
        proc.wait(10)
        raise RuntimeError(
            f"Xvfb did not start within {START_TIMEOUT_S:.0f} s (exit {proc.poll()})"
        )
    return proc, f":{number}"


def stop_xvfb(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)

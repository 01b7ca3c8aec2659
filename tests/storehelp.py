"""Helpers for store tests: byte snapshots of a folder and a full scan for a needle, the
memories of the whole-token searches, and a child process killed at a given moment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from core.types import NOTE, SCREEN, NewMemory

ROOT = Path(__file__).resolve().parent.parent
PASSPHRASE = "correct horse battery staple"


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under `root` by relative path, with its bytes."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def scan(root: Path, *needles: bytes) -> list[str]:
    """Files under `root` containing any needle (also as UTF-16, as some tools store text)."""
    forms = [n for needle in needles for n in (needle, needle.decode().encode("utf-16-le"))]
    hits = []
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink():
            data = p.read_bytes()
            hits += [f"{p}: {n[:12]!r}" for n in forms if n in data]
    return hits


def modes(root: Path) -> dict[str, int]:
    """Permission bits of everything under `root`; a temporary file that is renamed away
    while the folder is walked (an index snapshot being saved) is left out."""
    found = {}
    for p in [root, *root.rglob("*")]:
        try:
            found[str(p)] = os.stat(p).st_mode & 0o777
        except FileNotFoundError:
            continue
    return found


def cli_env(tmp: Path, passphrase: str | None = PASSPHRASE) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MNEMO_")}
    env["XDG_RUNTIME_DIR"] = str(tmp / "runtime")
    (tmp / "runtime").mkdir(mode=0o700, exist_ok=True)
    env["QT_QPA_PLATFORM"] = "offscreen"
    if passphrase is not None:
        env["MNEMO_PASSPHRASE"] = passphrase
    return env


CANARY_TOKEN = "CANARY-7f3a9q"
CANARY_WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]
CANARY_WORDS += ["golf", "hotel", "india", "juliet", "kilo", "lima"]


def canary_memories() -> list[NewMemory]:
    """30 screens holding CANARY_TOKEN whole (in Slack and Terminal), 4 notes holding only its
    word "canary", 3 notes holding neither."""
    w = CANARY_WORDS
    batch = [
        NewMemory(
            kind=SCREEN,
            text=f"{w[i % 12]} {w[(i * 5) % 12]} {w[(i * 7 + 3) % 12]} {i}: {CANARY_TOKEN}",
            time=1000.0 + i,
            app="Slack" if i % 2 else "Terminal",
        )
        for i in range(30)
    ]
    batch += [
        NewMemory(kind=NOTE, text=f"the canary sang song {i}", time=2000.0 + i) for i in range(4)
    ]
    batch += [
        NewMemory(kind=NOTE, text=f"weather is fine today {i}", time=3000.0 + i) for i in range(3)
    ]
    return batch


def kill_child_when(script: str, line: str) -> None:
    """Run `script` in a child Python (the repository on its path); SIGKILL it as soon as it
    prints `line` (it must print that line first)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == line
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        if child.stdout is not None:
            child.stdout.close()

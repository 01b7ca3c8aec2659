"""Helpers for store tests: byte snapshots of a folder and a full scan for a needle."""

from __future__ import annotations

import os
from pathlib import Path

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

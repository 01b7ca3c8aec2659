"""Shared by the R-suite: the CLI run in-process (with the fake embedder), a store with notes,
and byte-level helpers (flip bytes, hash every file)."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import app.cli.context
from app.cli import run
from app.services import Services
from core.keys import TEST_KDF
from core.memories import insert_memory
from core.types import NOTE, NewMemory
from tests.fakes import FakeEmbedder
from tests.storehelp import PASSPHRASE

PAGE = 4096
WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
]


@dataclass
class CliResult:
    code: int
    doc: dict
    err: str


CliRunner = Callable[..., CliResult]


@pytest.fixture(autouse=True)
def _runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> CliRunner:
    """`cli(*argv, passphrase=…)`: exit code, the one JSON document on stdout, stderr."""
    monkeypatch.setattr(app.cli.context, "Services", lambda d: Services(d, embedder=FakeEmbedder()))

    def call(*argv: str, passphrase: str | None = PASSPHRASE) -> CliResult:
        if passphrase is None:
            monkeypatch.delenv("MNEMO_PASSPHRASE", raising=False)
        else:
            monkeypatch.setenv("MNEMO_PASSPHRASE", passphrase)
        capsys.readouterr()
        code = run(list(argv))
        captured = capsys.readouterr()
        out = captured.out
        doc = json.loads(out) if out.strip() and "--json" in argv else {}
        return CliResult(code, doc, captured.err)

    return call


def make_store(data: Path, notes: int = 200, words: str = "filler") -> None:
    """A closed store holding `notes` notes, ten per transaction, checkpointed."""
    s = Services(data, embedder=FakeEmbedder())
    s.create(PASSPHRASE, kdf=TEST_KDF)
    for start in range(0, notes, 10):

        def batch(c: object, start: int = start) -> None:
            for i in range(start, min(start + 10, notes)):
                m = NewMemory(kind=NOTE, text=f"note number {i} " + f"{words} " * 30, time=i)
                insert_memory(c, m, source_id=None, trust=1.0, now=i)  # type: ignore[arg-type]

        s.store.write(batch)
    s.close()


def flip(path: Path, offset: int, n: int = 1) -> None:
    blob = bytearray(path.read_bytes())
    for i in range(offset, min(offset + n, len(blob))):
        blob[i] ^= 0xFF
    path.write_bytes(bytes(blob))


def hashes(root: Path) -> dict[str, str]:
    """sha256 of every file of the store under `root` (what "left untouched" is checked
    against). Not the log folder, and not `mnemo.db-shm`: SQLite's index of the log in shared
    memory, rebuilt from the log by every open and holding no data of its own."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "mnemo.db-shm" and p.relative_to(root).parts[0] != "logs"
    }


# `make soak` sets MNEMO_SOAK=1: the same tests at their long scale (more kills, longer runs).
SOAK = os.environ.get("MNEMO_SOAK") == "1"


def stores_agree(services: Services) -> dict[str, int]:
    """R13's check: index labels = memories with vectors = all memories = FTS rows, and the
    FTS index matches its table. Returns the counts."""
    memory = services.memory
    assert memory is not None
    memory.wait_ready(60)
    conn = services.store.reader()
    with_vectors = {
        r[0]
        for r in conn.execute("SELECT m.id FROM memories m JOIN vectors v ON v.memory_id = m.id")
    }
    all_rows = {r[0] for r in conn.execute("SELECT id FROM memories")}
    fts = {r[0] for r in conn.execute("SELECT rowid FROM memories_fts")}
    services.store.write(
        lambda c: c.execute(
            "INSERT INTO memories_fts(memories_fts, rank) VALUES ('integrity-check', 1)"
        )
    )
    labels = set(memory.index.index.labels)
    assert labels == with_vectors == all_rows == fts
    return {"memories": len(all_rows), "fts": len(fts), "index": len(labels)}

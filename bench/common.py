"""Helpers shared by the benchmarks: a temporary store, bulk synthetic memories written
straight through the writer (one transaction per chunk), percentiles, the JSON envelope."""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.db import Connection
from core.keys import TEST_KDF
from core.memories import dedup_key
from core.store import Store

ROOT = Path(__file__).resolve().parent.parent
PASSPHRASE = "benchmark passphrase, not a secret"
APPS = ["firefox", "slack", "code", "terminal", "thunderbird", "libreoffice", "signal", "zoom"]
KINDS = ["screen"] * 6 + ["chat", "note", "import:jsonl"]


def envelope(name: str, **fields: Any) -> dict[str, Any]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        commit = ""
    return {"bench": name, "cores": os.cpu_count(), "commit": commit, **fields}


def emit(doc: dict[str, Any]) -> None:
    json.dump(doc, sys.stdout, indent=1)
    sys.stdout.write("\n")
    sys.stdout.flush()


def pct(values: Sequence[float], p: float) -> float:
    return float(np.percentile(np.asarray(values), p)) if values else float("nan")


class Vocabulary:
    """Zipf-distributed made-up words: a few very common, most rare, like real text."""

    def __init__(self, size: int = 20_000, seed: int = 7) -> None:
        rng = random.Random(seed)
        sy = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "po", "da", "fe", "gu", "hi"]
        words: set[str] = set()
        while len(words) < size:
            words.add("".join(rng.choice(sy) for _ in range(rng.randint(2, 4))))
        self.words = sorted(words)
        rng.shuffle(self.words)
        ranks = np.arange(1, size + 1)
        p = 1.0 / ranks**1.05
        self.p = p / p.sum()
        self.cdf = np.cumsum(self.p)

    def sample(self, rng: np.random.Generator, n: int) -> list[str]:
        idx = np.searchsorted(self.cdf, rng.random(n) * self.cdf[-1])
        return [self.words[min(int(i), len(self.words) - 1)] for i in idx]


def synthetic_vector(text: str, dim: int = 384) -> np.ndarray:
    seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
    v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


class SyntheticEmbedder:
    """Stands in for the model where only speed of the rest matters (latency benches)."""

    name = "synthetic"
    dim = 384

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([synthetic_vector(t) for t in texts]) if texts else np.zeros((0, 384))


def new_store(path: Path) -> Store:
    store = Store(path)
    store.create(PASSPHRASE, kdf=TEST_KDF)
    return store


def synthetic_rows(
    n: int, seed: int = 1, days: int = 365, now: float | None = None
) -> Iterator[tuple[tuple[Any, ...], np.ndarray]]:
    rng = np.random.default_rng(seed)
    vocab = Vocabulary()
    end = now or time.time()
    # Vectors: clustered (topics) rather than uniform noise, as real embeddings are.
    centres = rng.standard_normal((256, 384)).astype(np.float32)
    for i in range(n):
        words = vocab.sample(rng, int(rng.integers(8, 30)))
        text = " ".join(words)
        t = end - float(rng.random()) * days * 86400
        kind = KINDS[int(rng.integers(len(KINDS)))]
        app = APPS[int(rng.integers(len(APPS)))] if kind == "screen" else None
        v = centres[int(rng.integers(256))] + 0.8 * rng.standard_normal(384).astype(np.float32)
        v /= np.linalg.norm(v)
        row = (kind, t, text, app, f"window {i % 50}", dedup_key(text), 0.5, t)
        yield row, v


def next_memory_id(conn: Connection) -> int:
    """The id the next memory inserted gets. Ids are never reused (AUTOINCREMENT): it is one past
    the largest id ever used, which after an erase of the newest rows is not max(id) + 1."""
    (largest,) = conn.execute("SELECT coalesce(max(id), 0) FROM memories").fetchone()
    # sqlite_sequence exists from schema 2 on (a schema-1 store reused ids: max(id) + 1).
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").fetchone():
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'memories'").fetchone()
        largest = max(largest, row[0] if row else 0)
    return int(largest) + 1


def bulk_load(store: Store, n: int, *, chunk: int = 20_000, seed: int = 1) -> float:
    """Write n synthetic memories with vectors; returns seconds taken."""
    t0 = time.perf_counter()
    rows: list[tuple[Any, ...]] = []
    vecs: list[np.ndarray] = []

    def flush(conn: Connection) -> None:
        start = next_memory_id(conn) - 1
        conn.executemany(
            "INSERT INTO memories(kind, time, text, app, title, dedup_key, trust, created_at) "
            "VALUES (?,?,?,?,?,?,?,?)",
            rows,
        )
        conn.executemany(
            "INSERT INTO vectors(memory_id, model, vec) VALUES (?, 'synthetic', ?)",
            [(start + 1 + i, v.tobytes()) for i, v in enumerate(vecs)],
        )

    for row, v in synthetic_rows(n, seed):
        rows.append(row)
        vecs.append(v)
        if len(rows) >= chunk:
            store.write(flush)
            rows, vecs = [], []
    if rows:
        store.write(flush)
    return time.perf_counter() - t0

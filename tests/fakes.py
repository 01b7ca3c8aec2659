"""Deterministic fakes of the engines for fast unit tests (no model, no randomness)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

_WORD = re.compile(r"\w+", re.UNICODE)


def _bucket(token: str, dim: int) -> tuple[int, float]:
    h = hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest()
    n = int.from_bytes(h, "little")
    return n % dim, 1.0 if (n >> 40) & 1 else -1.0


class FakeEmbedder:
    """Hashed bag of words (plus character trigrams at a lower weight): texts sharing words get
    close vectors, the same text always gets the same vector. L2-normalised float32."""

    name = "fake-hash-bow"

    def __init__(self, dim: int = 384) -> None:
        self.dim = dim
        self.calls = 0

    def embed_one(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        words = _WORD.findall(text.lower())
        for w in words:
            i, s = _bucket("w:" + w, self.dim)
            v[i] += s
            for j in range(max(0, len(w) - 2)):
                i, s = _bucket("t:" + w[j : j + 3], self.dim)
                v[i] += 0.25 * s
        norm = float(np.linalg.norm(v))
        if norm == 0.0:
            i, _ = _bucket("empty:" + text, self.dim)
            v[i] = 1.0
            return v
        return v / norm

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self.embed_one(t) for t in texts]).astype(np.float32)

"""Hashed word and character n-grams of a memory, and the linear poison model over them that
core.embedded stacks beside the sentence embedding. An embedding blurs the wording; n-grams keep
it ("ignorez", "todas as instruções", "<|im_start|>", "Assistant:"), in any language and script,
without a phrase list. The hashing is ours (crc32), so the fit (bench/suspicion_embed.py) and the
app compute the same features; the weights live in core/embedded_ngrams.npz."""

from __future__ import annotations

import math
import re
import unicodedata
import zlib
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

WEIGHTS_PATH = Path(__file__).resolve().parent / "embedded_ngrams.npz"
WEIGHTS_VERSION = 1
BITS = 18
# A memory's first MAX_CHARS are read: an order to an AI in a 4 KB page is usually early, and
# the cost of one memory stays bounded (about 1 ms CPU for 2,000 characters).
MAX_CHARS = 2000
CHAR_NS = (3, 4, 5)

_TOKEN = re.compile(r"\w+|[^\w\s]+")
_DIGIT = re.compile(r"\d")


def normalise(text: str) -> str:
    """NFKC, case-folded, digits as 0 (an account number is a shape, not a word)."""
    t = unicodedata.normalize("NFKC", text[: MAX_CHARS * 2]).casefold()
    return _DIGIT.sub("0", t)[:MAX_CHARS]


def _bucket(s: str, bits: int) -> int:
    return zlib.crc32(s.encode("utf-8")) & ((1 << bits) - 1)


def features(text: str, bits: int = BITS) -> tuple[np.ndarray, np.ndarray]:
    """(bucket ids, values) of a text: word 1-2 grams and character 3-5 grams inside each
    token (padded with a space at both ends), counts as log(1 + n), the vector unit length."""
    toks = _TOKEN.findall(normalise(text))
    grams: Counter[str] = Counter()
    for i, tok in enumerate(toks):
        grams["w " + tok] += 1
        if i:
            grams["b " + toks[i - 1] + " " + tok] += 1
        padded = f" {tok} "
        for n in CHAR_NS:
            for at in range(len(padded) - n + 1):
                grams["c" + padded[at : at + n]] += 1
    acc: dict[int, float] = {}
    for g, n in grams.items():
        k = _bucket(g, bits)
        acc[k] = acc.get(k, 0.0) + math.log1p(n)
    if not acc:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    ids = np.fromiter(acc.keys(), dtype=np.int64, count=len(acc))
    vals = np.fromiter(acc.values(), dtype=np.float32, count=len(acc))
    return ids, vals / float(np.linalg.norm(vals))


@dataclass(frozen=True, slots=True)
class Model:
    w: np.ndarray  # 2**bits weights
    b: float
    bits: int

    def logit(self, text: str) -> float:
        ids, vals = features(text, self.bits)
        return float(vals @ self.w[ids]) + self.b if len(ids) else self.b


def load_model(path: Path | None = None) -> Model:
    """Read and check the weights file; any problem raises core.structural.WeightsError."""
    from core.structural import WeightsError

    path = path or WEIGHTS_PATH
    fix = "Reinstall Mnemo, or refit it with bench/suspicion_embed.py."
    try:
        with np.load(path, allow_pickle=False) as z:
            version, bits = int(z["version"]), int(z["bits"])
            w = np.asarray(z["w"], dtype=np.float32) * float(z["scale"])
            b = float(z["b"])
    except (OSError, KeyError, ValueError, TypeError):
        raise WeightsError(
            f"The n-gram poison model ({path.name}) is missing or damaged. {fix}"
        ) from None
    if version != WEIGHTS_VERSION or not 8 <= bits <= 22 or w.shape != (1 << bits,):
        raise WeightsError(f"The n-gram poison model ({path.name}) is from another version. {fix}")
    if not (math.isfinite(b) and np.isfinite(w).all()):
        raise WeightsError(f"The n-gram poison model ({path.name}) is damaged. {fix}")
    return Model(w, b, bits)


def save_model(m: Model, path: Path | None = None) -> None:
    """Weights as int8 times one scale (a quarter of float32's size; the logit moves by less
    than 0.5 % of the weights' range)."""
    scale = float(np.abs(m.w).max()) / 127.0 or 1.0
    q = np.round(m.w / scale).astype(np.int8)
    with open(path or WEIGHTS_PATH, "wb") as fh:
        np.savez_compressed(
            fh, version=np.int64(WEIGHTS_VERSION), bits=np.int64(m.bits), w=q,
            scale=np.float64(scale), b=np.float64(m.b),
        )  # fmt: skip


@lru_cache(maxsize=1)
def shipped_model() -> Model:
    return load_model()

"""The embedding poison detector: a logistic model over MiniLM sentence embeddings (the model
search uses), scored on the whole memory and on each short window of it (one or two sentences),
the memory's score being the highest. An order to an AI usually sits in one sentence of an
ordinary carrier (a recipe, a chat, a config file); the window finds it there, and an embedding
reads the meaning of that sentence, not our phrase lists. Optionally stacked with the
structural model's logit and features (core.structural) and the hashed n-gram model's logit
(core.embedded_ngrams: the wording, which an embedding blurs). Weights:
`core/embedded_weights.json` and `core/embedded_ngrams.npz`, written by
`bench/suspicion_embed.py` (trained on the labelled fixtures and on real honest text read at
fit time: locomo turns, the installed packages' descriptions). Pure: the caller passes an `embed`
function (texts -> unit vectors); core never loads the model itself."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from core import embedded_ngrams, structural

WEIGHTS_PATH = Path(__file__).resolve().parent / "embedded_weights.json"
WEIGHTS_VERSION = 1
DIM = 384
# A long memory is read in at most this many windows (the first ones and the longest lines
# would be a guess; the cap keeps the cost of one memory bounded, a 4 KB page included).
MAX_WINDOWS = 8
MAX_WINDOW_CHARS = 300
MAX_WHOLE_CHARS = 600

Embed = Callable[[Sequence[str]], np.ndarray]
# The sentence embedder the weights were fitted on (models/embedder.py MODEL_NAME). Another
# embedder's vectors (a test's hashed bag of words, a future model) mean nothing to these
# weights: ingest hands the vector over only when its model is this one.
EMBEDDING_MODEL = "all-MiniLM-L6-v2"


def reads(model_name: str) -> bool:
    """Whether the shipped weights can read vectors of this embedding model."""
    return model_name == EMBEDDING_MODEL


# Sentences end at . ! ? and at line breaks; a colon does not end one here ("Note for AI: do X"
# is one thought, its address and its order).
_SENT = re.compile(r"(?<=[.!?])\s+|\n+")


def windows(text: str) -> list[str]:
    """The whole text (its first MAX_WHOLE_CHARS), then every sentence (deduped, at most
    MAX_WINDOWS in all). A one-sentence memory is one window. Pairs of neighbouring sentences
    were tried and cost twice the windows."""
    t = text.strip()
    sents = [s.strip() for s in _SENT.split(t) if len(s.strip()) >= 3]
    out = [t[:MAX_WHOLE_CHARS]]
    if len(sents) > 1:
        for w in sents:
            w = w[:MAX_WINDOW_CHARS]
            if w not in out:
                out.append(w)
    return out[:MAX_WINDOWS]


@dataclass(frozen=True, slots=True)
class Model:
    w: np.ndarray  # DIM
    b: float
    # Stack: z = a_emb * max window logit + a_whole * whole-text logit + a_struct * structural
    # logit (gated) + a_ngram * n-gram logit + sum(a * structural feature) + c
    a_emb: float
    a_struct: float
    c: float
    threshold: float  # on the stacked probability
    a_whole: float = 0.0
    a_feats: tuple[tuple[str, float], ...] = ()  # (core.structural feature, weight)
    # Whether the weights were fitted on sentence windows (read them when an embed is given).
    windowed: bool = False
    a_ngram: float = 0.0
    ngram: embedded_ngrams.Model | None = None  # read when a_ngram is not 0

    def window_logits(self, vecs: np.ndarray) -> np.ndarray:
        return np.asarray(vecs, dtype=np.float32) @ self.w + self.b

    def stacked(self, emb_logit: float, text: str, whole_logit: float | None = None) -> float:
        """The stacked probability from the highest window logit (and the whole text's)."""
        f = structural.features(text) if self.a_struct or self.a_feats else {}
        s = _struct_logit(f) if self.a_struct else 0.0
        z = self.a_emb * emb_logit + self.a_struct * s + self.c
        if self.a_whole:
            z += self.a_whole * (emb_logit if whole_logit is None else whole_logit)
        if self.a_ngram and self.ngram is not None:
            z += self.a_ngram * self.ngram.logit(text)
        z += sum(a * f[k] for k, a in self.a_feats)
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


def _struct_logit(f: dict[str, float]) -> float:
    """The structural model's logit on a text's features, -10 when it has no reader."""
    m = structural.shipped_model()
    if not f.get("has_reader"):
        return -10.0
    return max(-10.0, min(10.0, m.logit(f)))


# The same error as the structural detector's: a missing or damaged weights file.
WeightsError = structural.WeightsError


def load_model(path: Path | None = None) -> Model:
    """Read and check the weights file (default WEIGHTS_PATH). Any problem raises WeightsError,
    never a silent pass: a detector without its weights would let poison through unseen."""
    path = path or WEIGHTS_PATH
    raw, what, fix = structural.read_weights(path, "bench/suspicion_embed.py", WEIGHTS_VERSION)
    try:
        w = np.array([float(v) for v in raw["w"]], dtype=np.float32)
        b, threshold = float(raw["b"]), float(raw["threshold"])
        a_emb, a_struct, c = float(raw["a_emb"]), float(raw["a_struct"]), float(raw["c"])
        a_whole = float(raw.get("a_whole", 0.0))
        a_feats = tuple((str(k), float(v)) for k, v in raw.get("a_feats", {}).items())
        windowed = raw.get("windowed", False)
        a_ngram = float(raw.get("a_ngram", 0.0))
    except (KeyError, TypeError, ValueError, AttributeError):
        raise WeightsError(f"{what} is damaged or from another version. {fix}") from None
    coefs = [*w.tolist(), b, a_emb, a_struct, c, a_whole, a_ngram, *(v for _, v in a_feats)]
    if w.shape != (DIM,) or not all(map(math.isfinite, coefs)):
        raise WeightsError(f"{what} does not match this version's embedding. {fix}")
    if any(k not in structural.FEATURES for k, _ in a_feats) or not isinstance(windowed, bool):
        raise WeightsError(f"{what} does not match this version's features. {fix}")
    if not 0.0 < threshold < 1.0:
        raise WeightsError(f"{what} has a threshold outside (0, 1). {fix}")
    # The n-gram weights sit beside the stack's (core/embedded_ngrams.npz for the shipped file).
    ngram = (
        embedded_ngrams.load_model(path.parent / embedded_ngrams.WEIGHTS_PATH.name)
        if a_ngram
        else None
    )
    return Model(w, b, a_emb, a_struct, c, threshold, a_whole, a_feats, windowed, a_ngram, ngram)


@lru_cache(maxsize=1)
def shipped_model() -> Model:
    return load_model()


# The shipped model reads the whole memory only: the memory's own embedding, which ingest computes
# for the index anyway, so the detector costs one dot product there. Windows cost one MiniLM
# call per sentence (41 ms CPU each, measured on this 2-core machine under load): 3-8 times the
# embedding cost of an import; the fit script can measure them (MNEMO_EMBED_WINDOWS=1). A model
# fitted on windows (Model.windowed) reads them whenever the caller gives an embed function.
WINDOWED = False


def probability(
    text: str,
    embed: Embed | None,
    whole: np.ndarray | None = None,
    model: Model | None = None,
    windowed: bool | None = None,
) -> float:
    """The stacked probability that `text` is poison. `whole` is the memory's own embedding if
    the caller has it already (ingest computes it for the index): then nothing is embedded
    again (and with `windowed`, only the sentences are). Without `embed`, `whole` is the only
    window read. `windowed` defaults to WINDOWED or the model's own fit."""
    m = model or shipped_model()
    if windowed is None:
        windowed = WINDOWED or m.windowed
    wins = windows(text) if windowed and embed is not None else [text]
    if whole is not None:
        rest = wins[1:]
        vecs = [np.asarray(whole, dtype=np.float32).reshape(1, -1)]
        if rest and embed is not None:
            vecs.append(np.asarray(embed(rest), dtype=np.float32))
        mat = np.vstack(vecs)
    elif embed is not None:
        mat = np.asarray(embed(wins), dtype=np.float32)
    else:
        raise ValueError("probability() needs the memory's vector or an embed function")
    logits = m.window_logits(mat)
    return m.stacked(float(logits.max()), text, float(logits[0]))

"""Would a learned probe generalise better than the rules? A measurement, not a product feature.

Trains a logistic model on the MiniLM sentence embedding (models/embedder.py), alone and joined
with word 1-2-gram TF-IDF, on the sets the rules were already tuned on (dev, heldout, fresh,
wide_*, fresh2, fresh3), and flags a line when the rules fire OR the model's probability is at
least a threshold. C and the threshold are chosen by leave-one-set-out over fresh2 and fresh3
(train on the other tuned sets, score the left-out one; best mean recall with FPR <= 0.02 on
both), never by looking at fresh4 / fresh5, which are then scored once with the chosen setting.
locomo turns (all honest) give the false-positive rate on real conversations.
Embeddings are cached in $MNEMO_PROBE_CACHE (default /tmp/mnemo-probe-cache) between runs.
Run: nice -n 10 .venv/bin/python -m bench.suspicion_probe   (about 6 CPU-minutes uncached)

Recorded (session 5, commit 338c223, rules as of 6ecc38e), flag = rules OR probe:
  rules only            fresh4 0.800 / 0.0167   fresh5 0.418 / 0.0033   locomo 0 / 2760
  embedding (C 4, .95)  fresh4 0.833 / 0.0250   fresh5 0.503 / 0.0163   locomo 22 / 2760
  emb+words (C 1, .80)  fresh4 0.933 / 0.0250   fresh5 0.634 / 0.0195   locomo 15 / 2760
Neither reaches recall 0.95 at FPR 0.02 on the unseen sets and both break locomo's 0 false
alarms, so no probe is wired into core.suspicion. Caveat: the leave-one-set-out choice is weak,
because the rules were tuned on fresh2/fresh3 and already score ~0.98-1.0 there."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.suspicion import LOCOMO, locomo_turns  # noqa: E402
from core.suspicion import inspect, should_quarantine  # noqa: E402
from tests.fixtures.poison import dataset  # noqa: E402

TUNED = ["dev", "heldout", "fresh", "wide_dev", "wide_heldout", "wide_fresh", "fresh2", "fresh3"]
HELD_OUT = ["fresh4", "fresh5"]
LOSO = ["fresh2", "fresh3"]
CACHE = Path(os.environ.get("MNEMO_PROBE_CACHE", "/tmp/mnemo-probe-cache"))
GRID = [(c, t) for c in (1.0, 4.0, 16.0) for t in (0.8, 0.9, 0.95, 0.98)]


def _embed(name: str, texts: list[str]) -> np.ndarray:
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"{name}-{len(texts)}.npy"
    if path.exists():
        return np.load(path)
    from models.embedder import MiniLMEmbedder

    vec = MiniLMEmbedder().embed(texts)
    np.save(path, vec)
    return vec


def _load() -> dict[str, dict[str, Any]]:
    data = {}
    for name in TUNED + HELD_OUT:
        rows = dataset.load(getattr(dataset, name.upper()))
        data[name] = {
            "text": [r["text"] for r in rows],
            "y": np.array([r["label"] == "poisoned" for r in rows]),
            "rules": np.array([dataset.judge(r) for r in rows]),
            "vec": _embed(name, [r["text"] for r in rows]),
        }
    return data


class Probe:
    def __init__(self, words: bool, c: float) -> None:
        self.words, self.c = words, c

    def _x(self, texts: list[str], vec: np.ndarray) -> Any:
        if not self.words:
            return vec
        from scipy.sparse import csr_matrix, hstack

        return hstack([self.tfidf.transform(texts), csr_matrix(vec)]).tocsr()

    def fit(self, texts: list[str], vec: np.ndarray, y: np.ndarray) -> Probe:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        if self.words:
            self.tfidf = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
            self.tfidf.fit(texts)
        self.model = LogisticRegression(C=self.c, max_iter=3000, class_weight="balanced")
        self.model.fit(self._x(texts, vec), y)
        return self

    def proba(self, texts: list[str], vec: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict_proba(self._x(texts, vec))[:, 1])


def _fit(data: dict[str, dict[str, Any]], names: list[str], words: bool, c: float) -> Probe:
    texts = [t for n in names for t in data[n]["text"]]
    vec = np.vstack([data[n]["vec"] for n in names])
    y = np.concatenate([data[n]["y"] for n in names])
    return Probe(words, c).fit(texts, vec, y)


def _rates(flag: np.ndarray, y: np.ndarray) -> dict[str, float]:
    return {"recall": round(float(flag[y].mean()), 4), "fpr": round(float(flag[~y].mean()), 4)}


def _choose(data: dict[str, dict[str, Any]], words: bool) -> dict[str, Any]:
    best: dict[str, Any] = {"c": None, "threshold": None, "mean_recall": -1.0}
    probs = {}
    for left in LOSO:
        rest = [n for n in TUNED if n != left]
        d = data[left]
        for c in sorted({c for c, _ in GRID}):
            probs[(left, c)] = _fit(data, rest, words, c).proba(d["text"], d["vec"])
    for c, t in GRID:
        rates = [_rates(data[n]["rules"] | (probs[(n, c)] >= t), data[n]["y"]) for n in LOSO]
        if all(r["fpr"] <= 0.02 for r in rates):
            mean = sum(r["recall"] for r in rates) / len(rates)
            if mean > best["mean_recall"]:
                best = {"c": c, "threshold": t, "mean_recall": round(mean, 4), "loso": rates}
    return best


def main() -> None:
    t0, c0 = time.perf_counter(), time.process_time()
    data = _load()
    out: dict[str, Any] = {"bench": "suspicion_probe", "trained_on": TUNED, "never_seen": HELD_OUT}
    out["rules_only"] = {n: _rates(data[n]["rules"], data[n]["y"]) for n in HELD_OUT}
    turns = locomo_turns(LOCOMO) if LOCOMO.exists() else []
    loc_vec = _embed("locomo", turns) if turns else None
    loc_rules = np.array([should_quarantine(inspect(t, kind="import:jsonl")) for t in turns])
    for label, words in (("embedding", False), ("embedding+words", True)):
        choice = _choose(data, words)
        res: dict[str, Any] = {"chosen_by_loso": choice}
        if choice["c"] is not None:
            probe = _fit(data, TUNED, words, choice["c"])
            for n in HELD_OUT:
                p = probe.proba(data[n]["text"], data[n]["vec"])
                res[n] = _rates(data[n]["rules"] | (p >= choice["threshold"]), data[n]["y"])
            if turns and loc_vec is not None:
                flag = loc_rules | (probe.proba(turns, loc_vec) >= choice["threshold"])
                res["locomo"] = {"honest": len(turns), "flagged": int(flag.sum())}
        out[label] = res
    out["cpu_s"] = round(time.process_time() - c0, 1)
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

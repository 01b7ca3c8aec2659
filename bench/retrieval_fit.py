"""Fitting fusion parameters honestly: every variant scored on all locomo-dev questions of
categories 1-4 (bench/locomo.py) and on the synthetic set (bench/synthetic.py), and the choice
among them made leave-one-conversation-out: for each of the conversations, the variant that
does best on the others is scored on it; the pooled held-out figure is what a new
conversation of the same kind may expect (the in-sample best is reported beside it).

Query embeddings are cached on disk (`$MNEMO_BENCH_CACHE/qvec-*.npz`, keyed by the model's
files), so a run costs the searches alone.

    python -m bench.retrieval_fit [--grid session|type|terms|...] [--no-synthetic]"""

from __future__ import annotations

import argparse
import hashlib
import random
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import PASSPHRASE, emit, envelope
from bench.locomo import CATEGORIES, HELD_OUT, Conversation, LocomoStores, iter_questions
from bench.retrieval_locomo import mean, question_scores
from core.search import FusionParams, Searcher

Objective = Callable[[dict[str, float]], float]


def objective(s: dict[str, float]) -> float:
    """What the choice maximises: recall@10 and recall@1 (the issue's two bars) together."""
    return s["recall@10"] + s["recall@1"]


class EmbedCache:
    """A searcher's query embedder behind a dict kept in an npz file between runs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.vecs: dict[str, np.ndarray] = {}
        self.dirty = False
        if path.is_file():
            with np.load(path, allow_pickle=False) as z:
                keys = [str(k) for k in z["keys"]]
                self.vecs = dict(zip(keys, z["vecs"]))

    def wrap(self, searcher: Searcher) -> None:
        inner = searcher._embed
        assert inner is not None

        def embed(texts: list[str]) -> np.ndarray:
            missing = [t for t in texts if t not in self.vecs]
            if missing:
                for t, v in zip(missing, np.asarray(inner(missing), dtype=np.float32)):
                    self.vecs[t] = v
                self.dirty = True
            return np.stack([self.vecs[t] for t in texts])

        searcher._embed = embed
        searcher._qcache.clear()

    def save(self) -> None:
        if not self.dirty:
            return
        keys = list(self.vecs)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.array(keys), vecs=np.stack([self.vecs[k] for k in keys]))
        tmp.replace(self.path)


def cache_file() -> Path:
    from bench.locomo import cache_root
    from models import minilm

    h = hashlib.sha256(Path(minilm.__file__).read_bytes()).hexdigest()[:12]
    return cache_root() / f"qvec-{h}.npz"


def locomo_scores(
    convs: list[Conversation], variants: dict[str, FusionParams], k: int = 25
) -> dict[str, list[tuple[str, int, dict[str, float]]]]:
    """variant -> [(conversation, category, scores)] over every question."""
    out: dict[str, list[tuple[str, int, dict[str, float]]]] = {v: [] for v in variants}
    qs = list(iter_questions(convs))
    for name, params in variants.items():
        for conv, q in qs:
            s = conv.services.require_memory().searcher
            saved = s.fusion
            s.fusion = params
            try:
                ranked = [h.id for h in s.search(q.question, None, k).hits]
            finally:
                s.fusion = saved
            out[name].append((conv.sample_id, q.category, question_scores(ranked, q.gold)))
    return out


def summarise(rows: list[tuple[str, int, dict[str, float]]]) -> dict[str, Any]:
    return {
        "all": mean([s for _, _, s in rows]),
        "recall@10_by_category": {
            CATEGORIES[c]: mean([s for _, cat, s in rows if cat == c]).get("recall@10")
            for c in (1, 2, 3, 4)
        },
    }


def leave_one_out(
    scores: dict[str, list[tuple[str, int, dict[str, float]]]], obj: Objective = objective
) -> dict[str, Any]:
    convs = sorted({c for rows in scores.values() for c, _, _ in rows})
    held: list[tuple[str, int, dict[str, float]]] = []
    chosen: dict[str, str] = {}
    for out in convs:
        best = max(
            scores,
            key=lambda v: obj(mean([s for c, _, s in scores[v] if c != out])),
        )
        chosen[out] = best
        held.extend(r for r in scores[best] if r[0] == out)
    return {"chosen_per_held_out": chosen, "held_out": summarise(held)}


def dev_held_out(
    scores: dict[str, list[tuple[str, int, dict[str, float]]]], obj: Objective = objective
) -> dict[str, Any]:
    """Every variant on the development conversations and on the held-out ones (HELD_OUT), apart;
    and the variant chosen on development alone, with its held-out figure."""
    per = {
        v: {
            "dev": summarise([r for r in rows if r[0] not in HELD_OUT]),
            "held_out": summarise([r for r in rows if r[0] in HELD_OUT]),
        }
        for v, rows in scores.items()
    }
    best = max(per, key=lambda v: obj(per[v]["dev"]["all"]))
    return {"chosen_on_dev": best, "chosen_held_out": per[best]["held_out"], "variants": per}


def synthetic_scores(variants: dict[str, FusionParams], cache: EmbedCache) -> dict[str, Any]:
    from app.memory_service import MemoryService
    from bench.retrieval_quality import load, score
    from bench.synthetic import generate
    from core.keys import TEST_KDF
    from core.store import Store
    from models.embedder import MiniLMEmbedder

    corpus = generate(seed=1)
    qs = corpus.questions[:]
    random.Random(99).shuffle(qs)
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="mnemo-fit-") as d:
        store = Store(Path(d) / "s")
        store.create(PASSPHRASE, kdf=TEST_KDF)
        memory = MemoryService(store, MiniLMEmbedder(), background=False)
        memory.open()
        cache.wrap(memory.searcher)
        ext, _ = load(memory, corpus)
        for name, params in variants.items():
            out[name] = score(memory, qs, ext, "hybrid", params)
        memory.close(save=False)
        store.lock()
    return out


def grid(name: str) -> dict[str, FusionParams]:
    base = FusionParams()
    g: dict[str, FusionParams] = {"shipped": base}
    if name in ("session", "all"):
        for w in (0.5, 1.0, 2.0):
            for top in (1, 3):
                g[f"session{w}_top{top}"] = replace(base, w_session=w, session_top=top)
    if name in ("type", "all"):
        for w in (0.5, 1.0, 2.0):
            g[f"type{w}"] = replace(base, w_type=w)
    if name in ("terms", "all"):
        for w in (0.25, 0.5, 1.0):
            g[f"terms{w}"] = replace(base, w_terms=w)
    if name == "ship":
        g["before_s7"] = replace(base, w_session=0.0, w_type=0.0)
    if name == "combo3":
        g["k25"] = replace(base, units_k=25.0)
        g["k30"] = replace(base, units_k=30.0)
        g["k30_d80"] = replace(base, units_k=30.0, depth=80)
        g["d80"] = replace(base, depth=80)
        g["spk3"] = replace(base, w_speaker=3.0)
        g["k30_spk3"] = replace(base, units_k=30.0, w_speaker=3.0)
        g["k30_s1.5"] = replace(base, units_k=30.0, w_session=1.5)
        g["k30_t3"] = replace(base, units_k=30.0, w_type=3.0)
    if name == "tokens":
        g["no_whole_tokens"] = replace(base, whole_tokens=False)
    if name == "s8":
        b = replace(base, units_k=30.0, w_speaker=3.0)
        g["k30_spk3"] = b
        for w in (2.0, 4.0, 8.0):
            g[f"k30_spk3_ov{w}"] = replace(b, w_overlap=w)
        g["k30_spk3_ov4_top5"] = replace(b, w_overlap=4.0, overlap_top=5)
    if name == "combo":
        for ws in (2.0, 3.0, 4.0):
            for wt in (0.0, 1.0, 2.0):
                g[f"session{ws}_type{wt}"] = replace(base, w_session=ws, session_top=1, w_type=wt)
    if name == "combo2":
        b = replace(base, w_session=2.0, session_top=1, w_type=2.0)
        g["s2t2"] = b
        g["s2t3"] = replace(b, w_type=3.0)
        g["s2t4"] = replace(b, w_type=4.0)
        g["s1.5t2"] = replace(b, w_session=1.5)
        g["s2.5t3"] = replace(b, w_session=2.5, w_type=3.0)
        g["s2t2_top2"] = replace(b, session_top=2)
        g["s2t2_k30"] = replace(b, units_k=30.0)
        g["s2t2_ov4"] = replace(b, w_overlap=4.0)
        g["s2t2_ov8"] = replace(b, w_overlap=8.0)
        g["s2t2_vec1.25"] = replace(b, w_vec=1.25)
    return g


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.retrieval_fit")
    ap.add_argument(
        "--grid",
        default="ship",
        help="ship (shipped and before), session, type, terms, all, combo, combo2, combo3",
    )
    ap.add_argument("--no-synthetic", action="store_true")
    args = ap.parse_args()
    t0, c0 = time.perf_counter(), time.process_time()
    variants = grid(args.grid)
    cache = EmbedCache(cache_file())
    with LocomoStores() as convs:
        for conv in convs:
            cache.wrap(conv.services.require_memory().searcher)
        scores = locomo_scores(convs, variants)
    cache.save()
    synth = {} if args.no_synthetic else synthetic_scores(variants, cache)
    cache.save()
    emit(
        envelope(
            "retrieval_fit",
            grid=args.grid,
            variants={n: asdict(p) for n, p in variants.items() if n != "shipped"},
            locomo={n: summarise(rows) for n, rows in scores.items()},
            locomo_leave_one_conversation_out=leave_one_out(scores),
            locomo_dev_held_out=dev_held_out(scores),
            synthetic=synth,
            wall_s=round(time.perf_counter() - t0, 1),
            cpu_s=round(time.process_time() - c0, 1),
        )
    )


def table(doc: dict[str, Any]) -> Iterable[str]:
    for n, r in doc["locomo"].items():
        a = r["all"]
        syn = doc["synthetic"].get(n, {})
        yield (
            f"{n:22s} r1 {a['recall@1']:.3f} r10 {a['recall@10']:.3f} mrr {a['mrr']:.3f} "
            f"cat {r['recall@10_by_category']} syn10 {syn.get('recall@10')}"
        )


if __name__ == "__main__":
    main()

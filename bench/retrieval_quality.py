"""Retrieval quality on the synthetic personal-memory set (bench/synthetic.py) with the real
embedder: evidence recall@1/5/10 and MRR for FTS-only, vector-only and hybrid in the same run.

Fusion parameters are chosen on a dev half of the questions and reported on the other half
(test), so the hybrid figure is not tuned on what it is scored on; the shipped defaults
(core.search.FusionParams) are scored too."""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from app.memory_service import MemoryService
from bench.common import PASSPHRASE, emit, envelope
from bench.synthetic import Corpus, SynthQuestion, generate
from core.keys import TEST_KDF
from core.search import FusionParams
from core.store import Store
from core.types import NewMemory

K = 10


def corpus_memories(corpus: Corpus) -> list[NewMemory]:
    """The synthetic corpus as memories: screens as screens, chats as imported JSONL lines."""
    return [
        NewMemory(
            kind="screen" if m.kind == "screen" else "import:jsonl",
            text=m.text,
            time=m.time,
            app=m.app,
            author=m.speaker if m.kind != "screen" else None,
            conversation=m.conversation if m.kind != "screen" else None,
            title=m.conversation,
            external_id=m.external_id,
        )
        for m in corpus.messages
    ]


def load(memory: MemoryService, corpus: Corpus) -> tuple[dict[int, str], float]:
    items = corpus_memories(corpus)
    t0 = time.perf_counter()
    report = memory.add_many(items)
    took = time.perf_counter() - t0
    rows = memory.store.reader().execute("SELECT id, external_id FROM memories").fetchall()
    return {int(i): e for i, e in rows}, len(report.ids) / took


def score(
    memory: MemoryService,
    questions: list[SynthQuestion],
    ext: dict[int, str],
    mode: str,
    fusion: FusionParams,
) -> dict[str, float]:
    memory.searcher.fusion = fusion
    r1 = r5 = r10 = mrr = 0.0
    for q in questions:
        res = memory.searcher.search(q.question, None, K, mode=mode)
        ranked: list[list[str]] = [[ext[i] for i in (h.group_ids or [h.id])] for h in res.hits]
        gold = set(q.gold)

        def recall(k: int, ranked: list[list[str]] = ranked, gold: set[str] = gold) -> float:
            found = {e for hit in ranked[:k] for e in hit} & gold
            return len(found) / len(gold)

        r1, r5, r10 = r1 + recall(1), r5 + recall(5), r10 + recall(10)
        for rank, hit in enumerate(ranked, 1):
            if gold & set(hit):
                mrr += 1.0 / rank
                break
    n = len(questions)
    return {
        "recall@1": round(r1 / n, 4),
        "recall@5": round(r5 / n, 4),
        "recall@10": round(r10 / n, 4),
        "mrr": round(mrr / n, 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-grid", action="store_true", help="skip the dev-half fusion grid")
    args = ap.parse_args()
    from models.embedder import MiniLMEmbedder

    corpus = generate(seed=args.seed)
    qs = corpus.questions[:]
    random.Random(99).shuffle(qs)
    dev, test = qs[: len(qs) // 2], qs[len(qs) // 2 :]
    with tempfile.TemporaryDirectory(prefix="mnemo-quality-") as d:
        store = Store(Path(d) / "s")
        store.create(PASSPHRASE, kdf=TEST_KDF)
        memory = MemoryService(store, MiniLMEmbedder(), background=False)
        memory.open()
        ext, rate = load(memory, corpus)
        grid = [
            FusionParams(method="rrf", k=k, w_fts=1.0, w_vec=w)
            for k in (5, 15, 30, 60)
            for w in (0.5, 1.0, 1.5, 2.0, 3.0)
        ] + [FusionParams(method="convex", alpha=a / 10) for a in range(1, 10)]
        if args.no_grid:
            grid = [FusionParams()]
        dev_scores = [(score(memory, dev, ext, "hybrid", p), p) for p in grid]
        grid_dev = [
            {"fusion": asdict(p), "dev_mrr": sc["mrr"], "dev_recall@5": sc["recall@5"]}
            for sc, p in dev_scores
        ]
        best = max(dev_scores, key=lambda x: (x[0]["mrr"], x[0]["recall@5"]))[1]
        default = FusionParams()
        out: dict[str, Any] = {}
        for split, questions in (("test", test), ("all", qs)):
            out[split] = {
                "fts": score(memory, questions, ext, "fts", default),
                "vector": score(memory, questions, ext, "vector", default),
                "hybrid_default": score(memory, questions, ext, "hybrid", default),
                # What was shipped before the retrieval units: convex, cosine weight 0.8.
                "hybrid_convex_before": score(
                    memory, questions, ext, "hybrid", FusionParams(method="convex")
                ),
                "hybrid_tuned_on_dev": score(memory, questions, ext, "hybrid", best),
                # The units fusion as first shipped (speakers' names in every list).
                "hybrid_units_before": score(
                    memory,
                    questions,
                    ext,
                    "hybrid",
                    FusionParams(names="keep", vec_names="off", w_speaker=1.0),
                ),
            }
        by_kind = {}
        for kind in sorted({q.kind for q in qs}):
            sub = [q for q in qs if q.kind == kind]
            by_kind[kind] = {
                m: score(memory, sub, ext, m, default)["recall@5"]
                for m in ("fts", "vector", "hybrid")
            }
        memory.close(save=False)
        store.lock()
    t = out["test"]
    emit(
        envelope(
            "retrieval_quality",
            memories=len(corpus.messages),
            questions={"all": len(qs), "dev": len(dev), "test": len(test)},
            ingest_per_s=round(rate, 1),
            default_fusion=asdict(default),
            tuned_fusion=asdict(best),
            results=out,
            dev_grid=grid_dev,
            recall5_by_kind_all=by_kind,
            hybrid_vs_best_single_test={
                "mrr_gain": round(
                    t["hybrid_default"]["mrr"] - max(t["fts"]["mrr"], t["vector"]["mrr"]), 4
                ),
                "recall5_gain": round(
                    t["hybrid_default"]["recall@5"]
                    - max(t["fts"]["recall@5"], t["vector"]["recall@5"]),
                    4,
                ),
            },
        )
    )


if __name__ == "__main__":
    main()

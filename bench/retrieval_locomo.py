"""Retrieval quality on real long-term conversations (locomo-dev, bench/locomo.py): evidence
recall@1/5/10/25 and MRR over the questions of categories 1-4, overall, per category and per
conversation, for Mnemo's FTS-only, vector-only and shipped search and for two bare baselines,
all in the same run:

- `shipped`: `MemoryService.search` (what `search` and the search window run);
- `fts`, `vector`: the searcher's word-only and meaning-only modes;
- `units_before`: the units fusion as first shipped (speakers' names in every list);
- `convex`, `rrf2`: the earlier fusions of those two (convex was shipped before the units);
- `bm25`: plain FTS5 `MATCH` of the question's OR-ed words over the turns, no Mnemo layer;
- `bm25_window`: the same over each turn joined with the turn before it (an in-memory table).

Recall counts the memories returned (a hit's own id), never units or groups.

    python -m bench.retrieval_locomo [--quick] [--samples conv-26,conv-30] [--modes ...]

--quick scores every fourth question (the stores are cached, see bench/locomo.py)."""

from __future__ import annotations

import argparse
import re
import sqlite3
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from bench.common import emit, envelope, pct
from bench.locomo import CATEGORIES, Conversation, LocomoStores, Question, iter_questions

KS = (1, 5, 10, 25)
DEPTH = max(KS)
MODES = ("shipped", "fts", "vector", "units_before", "convex", "rrf2", "bm25", "bm25_window")
_WORD = re.compile(r"\w+", re.UNICODE)

Ranker = Callable[[Question], list[int]]


def _quote(words: Sequence[str]) -> str | None:
    uniq = list(dict.fromkeys(w.lower() for w in words))
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in uniq) or None


class BareBM25:
    """FTS5 BM25 over one text per memory, OR of the question's words, in plain SQLite."""

    def __init__(self, docs: dict[int, str]) -> None:
        self.db = sqlite3.connect(":memory:")
        self.db.execute("CREATE VIRTUAL TABLE d USING fts5(text)")
        self.db.executemany("INSERT INTO d(rowid, text) VALUES (?, ?)", docs.items())

    def rank(self, question: str, k: int = DEPTH) -> list[int]:
        match = _quote(_WORD.findall(question))
        if match is None:
            return []
        rows = self.db.execute(
            "SELECT rowid FROM d WHERE d MATCH ? ORDER BY bm25(d) LIMIT ?", (match, k)
        ).fetchall()
        return [int(r[0]) for r in rows]


def turns(conv: Conversation) -> list[tuple[int, str, str]]:
    """(memory id, speaker, text) of the conversation's turns in time order."""
    rows = (
        conv.services.store.reader()
        .execute(
            "SELECT id, coalesce(author, ''), text FROM memories WHERE hidden = 0 ORDER BY time, id"
        )
        .fetchall()
    )
    return [(int(i), str(a), str(t)) for i, a, t in rows]


def rankers(conv: Conversation, modes: Sequence[str]) -> dict[str, Ranker]:
    memory = conv.services.require_memory()
    out: dict[str, Ranker] = {}
    for mode in modes:
        if mode == "shipped":
            out[mode] = lambda q: [h.id for h in memory.search(q.question, None, DEPTH).hits]
        elif mode in ("fts", "vector", "hybrid"):
            out[mode] = lambda q, m=mode: [  # type: ignore[misc]
                h.id for h in memory.searcher.search(q.question, None, DEPTH, mode=m).hits
            ]
        elif mode in ("convex", "rrf2", "units_before"):
            # The earlier fusions: of the turn's words and meaning alone (convex: shipped
            # before the units, cosine weight 0.8; rrf2: RRF of those two lists), and the
            # units fusion as schema 4 shipped it (speakers' names kept in every list).
            from core.search import FusionParams

            params = {
                "convex": FusionParams(method="convex"),
                "rrf2": FusionParams(method="rrf"),
                "units_before": FusionParams(
                    names="keep", vec_names="off", w_speaker=1.0, w_reply=0.0
                ),
            }[mode]

            def fused(q: Question, params: FusionParams = params) -> list[int]:
                saved = memory.searcher.fusion
                memory.searcher.fusion = params
                try:
                    return [h.id for h in memory.searcher.search(q.question, None, DEPTH).hits]
                finally:
                    memory.searcher.fusion = saved

            out[mode] = fused
        elif mode == "bm25":
            bare = BareBM25({i: t for i, _, t in turns(conv)})
            out[mode] = lambda q, b=bare: b.rank(q.question)  # type: ignore[misc]
        elif mode == "bm25_window":
            ts = turns(conv)
            docs = {i: (ts[n - 1][2] + " " if n > 0 else "") + t for n, (i, _, t) in enumerate(ts)}
            bare = BareBM25(docs)
            out[mode] = lambda q, b=bare: b.rank(q.question)  # type: ignore[misc]
        else:
            raise SystemExit(f"unknown mode {mode!r}; use {', '.join(MODES)}")
    return out


def question_scores(ranked: list[int], gold: list[int]) -> dict[str, float]:
    g = set(gold)
    out = {f"recall@{k}": len(g & set(ranked[:k])) / len(g) for k in KS}
    out["mrr"] = next((1.0 / r for r, mid in enumerate(ranked, 1) if mid in g), 0.0)
    return out


def mean(rows: list[dict[str, float]]) -> dict[str, float]:
    if not rows:
        return {}
    return {key: round(sum(r[key] for r in rows) / len(rows), 4) for key in rows[0]}


def run(convs: list[Conversation], modes: Sequence[str], every: int = 1) -> dict[str, Any]:
    per: dict[str, list[tuple[Conversation, Question, dict[str, float]]]] = defaultdict(list)
    timing: dict[str, dict[str, list[float]]] = defaultdict(lambda: {"wall": [], "cpu": []})
    qs = list(iter_questions(convs))[::every]
    by_conv: dict[str, list[Question]] = defaultdict(list)
    for conv, q in qs:
        by_conv[conv.sample_id].append(q)
    for conv in convs:
        rk = rankers(conv, modes)
        for mode in modes:
            for q in by_conv[conv.sample_id]:
                w0, c0 = time.perf_counter(), time.process_time()
                ranked = rk[mode](q)
                timing[mode]["wall"].append((time.perf_counter() - w0) * 1000)
                timing[mode]["cpu"].append((time.process_time() - c0) * 1000)
                per[mode].append((conv, q, question_scores(ranked, q.gold)))
    results: dict[str, Any] = {}
    for mode in modes:
        rows = per[mode]
        results[mode] = {
            "all": mean([s for _, _, s in rows]),
            "by_category": {
                f"{c}-{CATEGORIES[c]}": mean([s for _, q, s in rows if q.category == c])
                for c in (1, 2, 3, 4)
            },
            "by_conversation_recall@10": {
                conv.sample_id: mean([s for cv, _, s in rows if cv is conv]).get("recall@10")
                for conv in convs
            },
            "ms_per_query": {
                "wall_p50": round(pct(timing[mode]["wall"], 50), 2),
                "cpu_p50": round(pct(timing[mode]["cpu"], 50), 2),
                "cpu_p99": round(pct(timing[mode]["cpu"], 99), 2),
            },
        }
    return {"questions": len(qs), "results": results}


def summary(results: dict[str, Any]) -> dict[str, Any]:
    """The shipped search against each other mode at @10 (the issue's bar: ahead by 0.05)."""
    if "shipped" not in results:
        return {}
    r10 = {m: r["all"].get("recall@10", 0.0) for m, r in results.items()}
    ship = results["shipped"]
    return {
        "shipped_recall@10": r10["shipped"],
        "shipped_recall@1": ship["all"].get("recall@1"),
        "lead_at_10_over": {
            m: round(r10["shipped"] - v, 4) for m, v in r10.items() if m != "shipped"
        },
        "worst_category_at_10": min(
            (c["recall@10"], name) for name, c in ship["by_category"].items() if c
        ),
    }


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.retrieval_locomo")
    ap.add_argument("--quick", action="store_true", help="every fourth question")
    ap.add_argument("--samples", help="comma-separated sample ids (default all)")
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--rebuild", action="store_true", help="import the stores again")
    args = ap.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    t0, c0 = time.perf_counter(), time.process_time()
    samples = args.samples.split(",") if args.samples else None
    with LocomoStores(samples, rebuild=args.rebuild) as convs:
        built = {c.sample_id: round(c.import_seconds, 1) for c in convs if c.built}
        out = run(convs, modes, every=4 if args.quick else 1)
    emit(
        envelope(
            "retrieval_locomo",
            quick=args.quick,
            conversations=[c for c in (samples or [])] or "all",
            imported_now_seconds=built,
            **out,
            summary=summary(out["results"]),
            wall_s=round(time.perf_counter() - t0, 1),
            cpu_s=round(time.process_time() - c0, 1),
        )
    )


if __name__ == "__main__":
    main()

"""Search latency (hybrid: FTS5 + HNSW + fusion + filters + grouping + snippets) at 10k, 100k
and 1M memories of synthetic text with synthetic (clustered) vectors. The query vector comes
from a stand-in embedder so the figure is the search itself; the model's own per-query cost is
measured beside it (`query_embedding_ms`, real MiniLM) when the model is installed.

The searches rank and filter by fields held in memory (core.search_fields), built first as the
app's load lane does after unlock (`search_fields_build_cpu_s`); `after_units_rows_read` is the
shipped fusion reading every candidate's row instead, as before.

Chat and import memories are given conversations (runs of 50 consecutive ids) so that their
retrieval units (core.units: a turn with its neighbours) exist as they do in a real store; the
shipped fusion ("units") and the earlier convex fusion are timed on the same store, side by
side ("before" / "after"), wall and CPU per query.

The fixture is written in bulk (executemany per 20k-row transaction, units built in 5k
steps, hnswlib add_items in 20k batches) on a writer with a 512 MB page cache and no fsync;
the searches then run on reader connections with the shipped settings, so the figures are
those of a real store of that size. Measured at 1M, niced on two busy cores (load ~4): rows
560 s, units 480 s (the 2 MB default cache made this phase take hours). A snapshot from
before the vector index's float16 copy is filled once on load (`vectors_copied_on_load`).

Usage: python -m bench.search_latency [--sizes 10000,100000,1000000] [--queries 300]"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import (
    APPS,
    SyntheticEmbedder,
    Vocabulary,
    bulk_load,
    emit,
    envelope,
    new_store,
    pct,
)
from core.search import Searcher
from core.types import SearchFilters
from core.vector_index import VectorIndex, iter_db_vectors


def make_queries(n: int, seed: int = 3) -> list[tuple[str, SearchFilters]]:
    rng = np.random.default_rng(seed)
    vocab = Vocabulary()
    out: list[tuple[str, SearchFilters]] = []
    now = time.time()
    for i in range(n):
        kind = i % 10
        if kind < 3:  # one word, drawn like text (often common)
            q = " ".join(vocab.sample(rng, 1))
        elif kind < 5:  # a rare word
            q = vocab.words[int(rng.integers(2000, len(vocab.words)))]
        elif kind < 7:  # two or three words
            q = " ".join(vocab.sample(rng, int(rng.integers(2, 4))))
        else:  # typing: a prefix of a word
            w = vocab.words[int(rng.integers(0, 5000))]
            q = w[: max(3, len(w) - 2)]
        f = SearchFilters()
        r = rng.random()
        if r < 0.15:
            f.app = APPS[int(rng.integers(len(APPS)))]
        elif r < 0.3:
            f.since = now - 30 * 86400
        elif r < 0.38:
            f.source = "import"
        out.append((q, f))
    return out


def build_index(store: Any, n: int) -> tuple[VectorIndex, float]:
    t0 = time.perf_counter()
    big = n >= 500_000
    # At 1M a full-quality build takes too long for a benchmark run on 2 cores: lower
    # construction effort (M=12, ef_construction=40), said in the output.
    index = VectorIndex(
        384, capacity=n + 16, m=12 if big else 16, ef_construction=40 if big else 100
    )
    for ids, vecs in iter_db_vectors(store.reader(), 384, chunk=20_000):
        index.add(ids, vecs)
    return index, time.perf_counter() - t0


def query_embedding_ms(queries: list[str]) -> dict[str, float] | None:
    emb = real_embedder()
    if emb is None:
        return None
    times, cpu = [], []
    for q in queries:
        t0, c0 = time.perf_counter(), time.process_time()
        emb.embed([q])
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return {
        "p50": round(pct(times, 50), 2),
        "p99": round(pct(times, 99), 2),
        "cpu_p50": round(pct(cpu, 50), 2),
        "cpu_p99": round(pct(cpu, 99), 2),
    }


def build_units(store: Any) -> float:
    """Conversations for the chat-like rows, then their units, as ingest would have made."""
    from core import units

    t0 = time.perf_counter()
    store.write(
        lambda c: c.execute(
            "UPDATE memories SET conversation = 'conv-' || (id / 50) WHERE kind != 'screen'"
        )
    )
    while store.write(lambda c: units.refresh_step(c, 5000)):
        pass
    return time.perf_counter() - t0


def time_searches(searcher: Searcher, queries: list[tuple[str, SearchFilters]]) -> dict[str, Any]:
    for q, f in queries[:20]:  # warm caches and the reader connection
        searcher.search(q, f, 20)
    times: dict[str, list[float]] = {"all": [], "unfiltered": [], "filtered": []}
    cpu: list[float] = []
    empty = 0
    for q, f in queries:
        searcher._qcache.clear()  # every query pays for its (stand-in) embedding
        t0, c0 = time.perf_counter(), time.process_time()
        res = searcher.search(q, f, 20)
        ms = (time.perf_counter() - t0) * 1000
        cpu.append((time.process_time() - c0) * 1000)
        times["all"].append(ms)
        times["filtered" if (f.app or f.since or f.source) else "unfiltered"].append(ms)
        empty += not res.hits
    return {
        "cpu_ms": {"p50": round(pct(cpu, 50), 2), "p99": round(pct(cpu, 99), 2)},
        **{
            f"{k}_ms": {"p50": round(pct(v, 50), 2), "p99": round(pct(v, 99), 2), "n": len(v)}
            for k, v in times.items()
        },
        "queries_without_hits": empty,
    }


def cached_store(n: int, tmp: Path, cache: bool) -> tuple[Any, VectorIndex, dict[str, Any]]:
    """The n-memory store with its units and index: built (under the bench cache when `cache`,
    keyed by a hash of the code that makes it) or reused from an earlier run. An upgraded
    schema is migrated on unlock, as a user's store is."""
    import hashlib

    from bench.common import PASSPHRASE, ROOT
    from bench.locomo import cache_root
    from core.store import Store

    h = hashlib.sha256()
    for name in ("bench/common.py", "core/units.py", "core/migrations/m0004_retrieval_units.py"):
        h.update((ROOT / name).read_bytes())
    folder = cache_root() / "latency" / f"{n}-{h.hexdigest()[:12]}" if cache else tmp / f"s{n}"
    info: dict[str, Any] = {"reused": False}
    done = folder / "done.json"
    if cache and done.is_file():
        import json

        store = Store(folder / "data")
        store.unlock(PASSPHRASE)
        t0 = time.perf_counter()
        index = VectorIndex.from_pickle((folder / "index.pickle").read_bytes(), 384)
        copied = index.fill_copy()  # a snapshot from before the float16 copy
        info = {**json.loads(done.read_text()), "reused": True}
        info["index_load_s"] = round(time.perf_counter() - t0, 1)
        info["vectors_copied_on_load"] = copied
        return store, index, info
    import json
    import shutil

    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    store = new_store(folder / "data")
    # A fixture, not a user's store: a large page cache and no fsync per chunk while it is
    # written (SQLCipher decrypts every page it re-reads, and a 2 MB cache re-reads the
    # growing indexes on every insert, which made a 1M build take hours). The searches run
    # on the reader connections with the shipped settings.
    _pragmas(store, "cache_size = -524288", "synchronous = OFF")
    info["load_s"] = round(bulk_load(store, n), 1)
    _progress(n, "loaded", info)
    info["units_build_s"] = round(build_units(store), 1)
    _progress(n, "units built", info)
    _pragmas(store, "cache_size = -2000", "synchronous = FULL")
    index, index_s = build_index(store, n)
    info["index_build_s"] = round(index_s, 1)
    _progress(n, "index built", info)
    if cache:
        (folder / "index.pickle").write_bytes(index.to_pickle())
        done.write_text(json.dumps(info))
    return store, index, info


def _pragmas(store: Any, *pragmas: str) -> None:
    def run(conn: Any) -> None:
        for p in pragmas:
            conn.execute(f"PRAGMA {p}")

    store.write(run, transactional=False)


def _progress(n: int, what: str, info: dict[str, Any]) -> None:
    import sys

    print(f"[search_latency] {n}: {what} {info}", file=sys.stderr, flush=True)


def run_size(
    n: int, queries: list[tuple[str, SearchFilters]], tmp: Path, cache: bool = True
) -> dict[str, Any]:
    from core.search import FusionParams

    store, index, info = cached_store(n, tmp, cache)
    out: dict[str, Any] = {
        "memories": n,
        "store": info,
        "index_params": {"m": 12, "ef_construction": 40}
        if n >= 500_000
        else {"m": 16, "ef_construction": 100},
    }
    variants = (
        ("before_convex", FusionParams(method="convex")),
        ("units_names_kept", FusionParams(names="keep")),  # the units fusion of schema 4
        # The shipped fusion reading every candidate's row, as before the search fields were
        # held in memory (core.search_fields); same hits as after_units.
        ("after_units_rows_read", FusionParams()),
        ("after_units", FusionParams()),
    )
    for label, params in variants:
        searcher = Searcher(
            read_conn=store.reader,
            index=lambda: index,
            embed=SyntheticEmbedder().embed,
            now=time.time,
            fusion=params,
        )
        searcher.use_fields = label != "after_units_rows_read"
        t0 = time.process_time()
        searcher.warm_fields()  # as the load lane does after unlock
        fields_s = time.process_time() - t0
        out[label] = time_searches(searcher, queries)
        if searcher.use_fields:
            out[label]["search_fields_build_cpu_s"] = round(fields_s, 2)
    # What a user waits for: the shipped search with the real model embedding each query
    # (the store's vectors are synthetic, so only the cost means something, not the hits).
    real = real_embedder()
    if real is not None:
        searcher = Searcher(
            read_conn=store.reader, index=lambda: index, embed=real.embed, now=time.time
        )
        out["after_units_with_query_embedding"] = time_searches(searcher, queries[:150])
    store.lock()
    return out


def real_embedder() -> Any:
    try:
        from models.embedder import MiniLMEmbedder

        emb = MiniLMEmbedder()
        emb.load()
        emb.embed(["warm up"])
    except Exception:
        return None
    return emb


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument(
        "--no-cache", action="store_true", help="build the stores afresh in a temporary folder"
    )
    args = ap.parse_args()
    queries = make_queries(args.queries)
    results = []
    with tempfile.TemporaryDirectory(prefix="mnemo-bench-") as d:
        for n in [int(x) for x in args.sizes.split(",")]:
            results.append(run_size(n, queries, Path(d), cache=not args.no_cache))
    emit(
        envelope(
            "search_latency",
            bars={"p50_ms_at_100k": 10, "p99_ms_at_100k": 50, "p50_ms_at_1M": 25},
            sizes=results,
            load_average=os.getloadavg()[0],
            query_embedding_ms=query_embedding_ms([q for q, _ in queries[:100]]),
            note="search times exclude the model's query embedding (stand-in vector) except "
            "after_units_with_query_embedding (the real MiniLM embeds every query); "
            "query_embedding_ms is the model's cost alone (the query embedding is cached per "
            "query text, so a re-run or refinement does not pay it)",
        )
    )


if __name__ == "__main__":
    main()

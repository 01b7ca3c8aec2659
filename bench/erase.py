"""Erase cost (BENCHMARKS.md): time to erase one day out of thirty at 100k memories, through
the erase service with the real persistent index (slots overwritten, snapshot rewritten, WAL
checkpointed), on synthetic memories and vectors. Compaction is measured too: the erase of one
day leaves ~3 % of slots deleted, under the compaction threshold, so it is timed on its own
(what the erase that passes the threshold pays on top).

    python -m bench.erase [--n 100000] [--days 30] [--runs 3]"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from app.erase_service import ErasureService
from app.memory_service import MemoryService
from bench.common import (
    SyntheticEmbedder,
    emit,
    envelope,
    new_store,
    next_memory_id,
    synthetic_rows,
)
from core.db import Connection
from core.erase import EraseSpec
from core.media import MediaStore
from core.settings import Settings

DAY = 86400.0


def load(store: Any, n: int, days: int, now: float) -> float:
    t0 = time.perf_counter()
    rows: list[tuple[Any, ...]] = []
    vecs: list[Any] = []

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

    for row, v in synthetic_rows(n, seed=1, days=days, now=now):
        rows.append(row)
        vecs.append(v)
        if len(rows) >= 20_000:
            store.write(flush)
            rows, vecs = [], []
    if rows:
        store.write(flush)
    store.checkpoint()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    now = time.time()
    with tempfile.TemporaryDirectory(prefix="mnemo-bench-erase-") as tmp:
        store = new_store(Path(tmp) / "store")
        load_s = load(store, args.n, args.days, now)
        memory = MemoryService(store, SyntheticEmbedder(), background=True)
        t0 = time.perf_counter()
        memory.open(wait=True)
        build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        memory.save_index()
        save_s = time.perf_counter() - t0
        media = MediaStore(store)
        service = ErasureService(
            store, media, Settings(store.data_dir, store.reader, store.write), lambda: memory
        )
        db_mb = store.db_path.stat().st_size / 1e6
        snapshot_mb = store.index_path.stat().st_size / 1e6
        runs = []
        for r in range(args.runs):
            # Days 10, 11, 12 (counted back from now): whole days in the middle of the month.
            until = now - (10 + r) * DAY
            spec = EraseSpec(since=until - DAY, until=until)
            expected = service.preview(spec).memories
            t0, c0 = time.perf_counter(), time.process_time()
            receipt = service.erase(spec)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            assert receipt.memories == expected
            runs.append(
                {
                    "erase_s": round(wall, 3),
                    # CPU of every thread of this process: what the erase itself costs when
                    # the shared machine makes it wait for a core.
                    "erase_cpu_s": round(cpu, 3),
                    "phases_ms": receipt.to_json()["phases_ms"],
                    "memories": receipt.memories,
                    "index_slots": receipt.index_slots,
                    "deleted_share": round(
                        memory.index.index.deleted
                        / (memory.index.index.deleted + len(memory.index.index)),
                        4,
                    ),
                }
            )
        t0 = time.perf_counter()
        memory.index.compact()
        compact_s = time.perf_counter() - t0
        median = statistics.median(x["erase_s"] for x in runs)
        median_cpu = statistics.median(x["erase_cpu_s"] for x in runs)
        memory.close(save=False)
        store.lock()
    emit(
        envelope(
            "erase",
            memories=args.n,
            days=args.days,
            database_mb=round(db_mb, 1),
            load_s=round(load_s, 1),
            index_build_s=round(build_s, 1),
            snapshot_save_s=round(save_s, 2),
            snapshot_mb=round(snapshot_mb, 1),
            runs=runs,
            erase_one_day_median_s=median,
            erase_one_day_median_cpu_s=median_cpu,
            load_average=os.getloadavg()[0],
            compaction_s=round(compact_s, 2),
            erase_plus_compaction_s=round(median + compact_s, 2),
            bar_s=10.0,
        )
    )


if __name__ == "__main__":
    main()

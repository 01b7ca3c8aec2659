"""Ingest throughput with the real embedder: memories embedded, written (rows, FTS, vectors)
and indexed per second, through the one ingest path (MemoryService.add_many)."""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from app.memory_service import MemoryService
from bench.common import PASSPHRASE, emit, envelope
from bench.synthetic import generate
from core.keys import TEST_KDF
from core.store import Store
from core.types import NewMemory


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1500)
    args = ap.parse_args()
    from models.embedder import MiniLMEmbedder

    corpus = generate(seed=5)
    msgs = corpus.messages
    items = [
        NewMemory(
            kind="import:jsonl",
            text=msgs[i % len(msgs)].text + ("" if i < len(msgs) else f" ({i})"),
            time=msgs[i % len(msgs)].time,
            conversation=msgs[i % len(msgs)].conversation,
            external_id=f"x{i}",
        )
        for i in range(args.n)
    ]
    embedder = MiniLMEmbedder()
    t0 = time.perf_counter()
    embedder.load()
    load_s = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    embedder.embed([m.text for m in items[:500]])
    embed_only = 500 / (time.perf_counter() - t0)
    embed_cpu = time.process_time() - c0
    with tempfile.TemporaryDirectory(prefix="mnemo-ingest-") as d:
        store = Store(Path(d) / "s")
        store.create(PASSPHRASE, kdf=TEST_KDF)
        memory = MemoryService(store, embedder, background=True)
        memory.open()
        half = args.n // 2
        t0, c0 = time.perf_counter(), time.process_time()
        r1 = memory.add_many(items[:half], one_transaction=True)
        one_tx = r1.added / (time.perf_counter() - t0)
        one_tx_cpu = time.process_time() - c0
        t0 = time.perf_counter()
        r2 = memory.add_many(items[half:], one_transaction=False)
        per_batch = r2.added / (time.perf_counter() - t0)
        memory.close()
        store.lock()
    emit(
        envelope(
            "ingest_throughput",
            bar_per_s=200,
            memories=args.n,
            model_load_s=round(load_s, 2),
            embed_only_per_s=round(embed_only, 1),
            ingest_one_transaction_per_s=round(one_tx, 1),
            ingest_transaction_per_batch_per_s=round(per_batch, 1),
            # CPU seconds are what a busy machine cannot hide: this is the rate on 2 idle cores.
            embed_only_per_s_if_cores_idle=round(500 / (embed_cpu / (os.cpu_count() or 1)), 1),
            ingest_per_s_if_cores_idle=round(r1.added / (one_tx_cpu / (os.cpu_count() or 1)), 1),
            load_average=os.getloadavg()[0],
            note="embedding is ~all of the cost; figures drop when other processes share the "
            "2 cores",
        )
    )


if __name__ == "__main__":
    main()

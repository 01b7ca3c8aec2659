"""Ingest throughput with the real embedder: memories embedded, written (rows, FTS, vectors)
and indexed per second, through the one ingest path (MemoryService.add_many).

Options: --embedder fake (tests.fakes.FakeEmbedder) isolates the non-embedding path;
--inspector trust runs the app's trust inspector (source, suspicion scan, trust evidence) as
the app does; --torch-threads pins torch's thread count. CPU seconds (process_time, every
thread) are reported next to wall rates: on a shared machine only they are comparable.
Run: .venv/bin/python -m bench.ingest_throughput [--embedder fake] [--inspector trust]

Measured 2026-11-21, before/after interleaved in one session (2 cores shared with other jobs,
load 2.7-4.3; medians of 2-3 runs, 1500 chat-length memories):
- non-embedding path (--embedder fake), CPU ms per memory: 0.13 (no inspector), 0.25-0.27 with
  the trust inspector (suspicion 0.06-0.07, trust rows 0.05, row + FTS 0.05, vector row 0.01,
  hnswlib add 0.06, normalise 0.01). It was never the ~3.4 ms gap to embed-only speed.
- the gap was padding: ingest embedded 64 mixed-length texts per batch, each padded to the
  longest. Length-sorted batches under a size budget, over windows of 256 memories: CPU per
  memory with one torch thread 10.9 -> 5.1 ms (10.9 -> 4.9 with the trust inspector); with
  torch's 2 threads, one transaction 161 -> 354 memories/s and per batch 108 -> 336/s (wall,
  at load 2.7-3.4; embed-only ran at 410-425/s in the same runs).
- at load ~4, torch's spinning threads inflate CPU time 2-5x on both sides; compare with
  OMP_NUM_THREADS=1 (honest CPU work) when the machine is busy."""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from app.memory_service import MemoryService
from bench.common import PASSPHRASE, emit, envelope
from bench.synthetic import generate
from core.keys import TEST_KDF
from core.store import Store
from core.types import NewMemory


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1500)
    ap.add_argument("--embedder", choices=("minilm", "fake"), default="minilm")
    ap.add_argument("--inspector", choices=("none", "trust"), default="none")
    ap.add_argument("--torch-threads", type=int, default=0, help="0: torch's default")
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    load_before = os.getloadavg()

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
    embedder: Any
    if args.embedder == "fake":
        from tests.fakes import FakeEmbedder

        embedder = FakeEmbedder()
        load_s = 0.0
    else:
        from models.embedder import MiniLMEmbedder

        if args.torch_threads:
            import torch

            torch.set_num_threads(args.torch_threads)
        embedder = MiniLMEmbedder()
        t0 = time.perf_counter()
        embedder.load()
        load_s = time.perf_counter() - t0
    n_only = min(500, args.n)
    t0, c0 = time.perf_counter(), time.process_time()
    embedder.embed([m.text for m in items[:n_only]])
    embed_only = n_only / (time.perf_counter() - t0)
    embed_cpu = time.process_time() - c0
    with tempfile.TemporaryDirectory(prefix="mnemo-ingest-") as d:
        store = Store(Path(d) / "s")
        store.create(PASSPHRASE, kdf=TEST_KDF)
        memory = MemoryService(store, embedder, background=True)
        memory.open()
        if args.inspector == "trust":
            from app.trust_service import TrustInspector

            memory.set_inspector(TrustInspector(store.now))
        half = args.n // 2
        t0, c0 = time.perf_counter(), time.process_time()
        r1 = memory.add_many(items[:half], one_transaction=True)
        one_tx = r1.added / (time.perf_counter() - t0)
        one_tx_cpu = time.process_time() - c0
        t0, c0 = time.perf_counter(), time.process_time()
        r2 = memory.add_many(items[half:], one_transaction=False)
        per_batch = r2.added / (time.perf_counter() - t0)
        per_batch_cpu = time.process_time() - c0
        memory.close()
        store.lock()
    doc = envelope(
        "ingest_throughput",
        bar_per_s=200,
        memories=args.n,
        model_load_s=round(load_s, 2),
        embed_only_per_s=round(embed_only, 1),
        ingest_one_transaction_per_s=round(one_tx, 1),
        ingest_transaction_per_batch_per_s=round(per_batch, 1),
        # CPU seconds are what a busy machine cannot hide: this is the rate on 2 idle cores.
        embed_only_per_s_if_cores_idle=round(n_only / (embed_cpu / cores), 1),
        ingest_per_s_if_cores_idle=round(r1.added / (one_tx_cpu / cores), 1),
        load_average=os.getloadavg()[0],
        note="embedding is ~all of the cost; figures drop when other processes share the 2 cores",
        embedder=args.embedder,
        inspector=args.inspector,
        torch_threads=args.torch_threads or None,
        embed_only_cpu_ms_per_memory=round(1000 * embed_cpu / n_only, 3),
        ingest_one_transaction_cpu_ms_per_memory=round(1000 * one_tx_cpu / max(1, r1.added), 3),
        ingest_transaction_per_batch_cpu_ms_per_memory=round(
            1000 * per_batch_cpu / max(1, r2.added), 3
        ),
        load_average_before=[round(x, 2) for x in load_before],
        load_average_after=[round(x, 2) for x in os.getloadavg()],
    )
    if args.embedder == "fake":
        # The fake embedder costs the same per text wherever it runs: what is left is the path.
        doc["non_embedding_cpu_ms_per_memory"] = round(
            doc["ingest_one_transaction_cpu_ms_per_memory"] - doc["embed_only_cpu_ms_per_memory"],
            3,
        )
    emit(doc)


if __name__ == "__main__":
    main()

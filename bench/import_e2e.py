"""End-to-end import speed and memory: a generated export (bench/gen_exports.py) imported through
ImportService into a fresh encrypted store (parse, dedup, embed, one transaction, index), each run
in a fresh child process so its peak RSS is its own. Prints one JSON document.

    python bench/import_e2e.py [--messages 20000] [--embedder real|fake|both] [--keep DIR]

With the real MiniLM embedder on a slow machine, measure fewer messages (e.g. 20k) and read
`extrapolated_100k_s` (linear: the per-message cost is flat once the model is loaded)."""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def measure_one(path: str, embedder: str, store_dir: str) -> dict[str, object]:
    """In the child: a new store, one import, timings and peak memory."""
    sys.path.insert(0, str(ROOT))
    from app.services import Services
    from core.keys import TEST_KDF
    from tests.fakes import FakeEmbedder

    emb = FakeEmbedder() if embedder == "fake" else None
    services = Services(Path(store_dir), embedder=emb)
    services.create("benchmark passphrase, not a secret", kdf=TEST_KDF)
    assert services.memory is not None and services.imports is not None
    services.memory.wait_ready(60)
    t0 = time.perf_counter()
    services.memory.embedder.embed(["warm up the model"])  # model load is not per message
    load_s = time.perf_counter() - t0
    base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    result = services.imports.import_paths([path], "auto", "UTC")
    elapsed = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    (report,) = result.files
    if not report.ok:
        raise SystemExit(f"import failed: {report.error}")
    count = services.memory.count()
    index = services.memory.index_health()
    services.close()
    n = report.imported
    return {
        "format": report.format,
        "embedder": embedder,
        "file_mb": round(os.path.getsize(path) / 1e6, 2),
        "messages": n,
        "stored": count,
        "indexed": index.get("count"),
        "seconds": round(elapsed, 2),
        "messages_per_s": round(n / elapsed, 1),
        "extrapolated_100k_s": round(elapsed * 100_000 / n, 1) if n else None,
        "model_load_s": round(load_s, 2),
        "rss_before_import_mb": round(base_kb / 1024, 1),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "rss_growth_mb": round((peak_kb - base_kb) / 1024, 1),
        "rss_growth_per_1k_messages_mb": round((peak_kb - base_kb) / 1024 / n * 1000, 2)
        if n
        else None,
    }


def run_child(path: Path, embedder: str, work: Path) -> dict[str, object]:
    store = tempfile.mkdtemp(dir=work, prefix="store-")
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(path), embedder, store],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    shutil.rmtree(store, ignore_errors=True)
    if out.returncode != 0:
        return {"file": path.name, "embedder": embedder, "error": out.stderr.strip()[-2000:]}
    return json.loads(out.stdout)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(measure_one(sys.argv[2], sys.argv[3], sys.argv[4])))
        return
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--embedder", choices=("real", "fake", "both"), default="both")
    ap.add_argument("--fake-messages", type=int, default=100_000, help="size of the fake runs")
    ap.add_argument("--keep", help="write the exports here and keep them")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from bench.common import emit, envelope
    from bench.gen_exports import write_jsonl, write_whatsapp

    work = Path(args.keep or tempfile.mkdtemp(prefix="mnemo-import-e2e-"))
    work.mkdir(parents=True, exist_ok=True)
    runs = []
    plan = []
    if args.embedder in ("fake", "both"):
        plan.append(("fake", args.fake_messages))
    if args.embedder in ("real", "both"):
        plan.append(("real", args.messages))
    try:
        for embedder, n in plan:
            jsonl = work / f"bench-{n}.jsonl"
            chat = work / f"WhatsApp Chat bench-{n}.txt"
            if not jsonl.exists():
                write_jsonl(jsonl, n)
            if not chat.exists():
                write_whatsapp(chat, n)
            for path in (jsonl, chat):
                runs.append(run_child(path, embedder, work))
                print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    emit(
        envelope(
            "import_e2e",
            note="one transaction per file; embedding in batches of 64; each run in its own "
            "process; 'fake' isolates parse+store+index from the model",
            runs=runs,
        )
    )


if __name__ == "__main__":
    main()

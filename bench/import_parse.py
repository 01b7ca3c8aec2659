"""Parse speed and memory of the importers on large generated exports (bench/gen_exports.py):
messages per second and peak RSS growth per format, each parsed in a fresh child process.
Prints one JSON document.

    python bench/import_parse.py [--chatgpt-mb 100] [--keep DIR]
"""

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
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def measure_one(path: str, fmt: str) -> dict[str, object]:
    """Runs in the child: parse the whole file, report counts, speed and memory."""
    sys.path.insert(0, str(ROOT))
    from core.importers import parse

    base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    parsed = parse(path, fmt, tz="UTC")
    chars = 0
    for msg in parsed.messages:
        chars += len(msg.text)
    elapsed = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    size = os.path.getsize(path)
    return {
        "format": parsed.format,
        "file_mb": round(size / 2**20, 1),
        "messages": parsed.count,
        "rejected": parsed.rejected_total,
        "skipped": sum(parsed.skipped.values()),
        "seconds": round(elapsed, 2),
        "messages_per_s": round(parsed.count / elapsed) if elapsed else None,
        "mb_per_s": round(size / 2**20 / elapsed, 1) if elapsed else None,
        "baseline_rss_mb": round(base_kb / 1024, 1),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "rss_growth_mb": round((peak_kb - base_kb) / 1024, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--chatgpt-mb", type=float, default=100)
    ap.add_argument("--jsonl", type=int, default=100_000)
    ap.add_argument("--whatsapp", type=int, default=200_000)
    ap.add_argument("--telegram", type=int, default=100_000)
    ap.add_argument("--claude", type=int, default=2000)
    ap.add_argument("--no-zip", action="store_true", help="skip the zipped ChatGPT export")
    ap.add_argument("--keep", help="write the exports here and keep them")
    ap.add_argument("--child", nargs=2, metavar=("PATH", "FORMAT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure_one(*args.child)))
        return
    sys.path.insert(0, str(ROOT))
    from bench.gen_exports import generate

    out = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="mnemo-bench-"))
    try:
        t0 = time.perf_counter()
        made = generate(out, args.chatgpt_mb, args.jsonl, args.whatsapp, args.telegram, args.claude)
        if "chatgpt" in made and not args.no_zip:
            archive = out / "chatgpt-export.zip"
            with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
                zf.write(made["chatgpt"]["path"], "conversations.json")
            made["chatgpt_zip"] = dict(made["chatgpt"], path=str(archive))
        gen_s = time.perf_counter() - t0
        results = {}
        for fmt, info in made.items():
            child = subprocess.run(
                [sys.executable, __file__, "--child", info["path"], fmt.removesuffix("_zip")],
                capture_output=True,
                text=True,
                check=True,
            )
            results[fmt] = json.loads(child.stdout)
            results[fmt]["expected_messages"] = info["messages"]
            results[fmt]["file_mb"] = round(os.path.getsize(info["path"]) / 2**20, 1)
        doc = {
            "bench": "import_parse",
            "cores": os.cpu_count(),
            "generate_seconds": round(gen_s, 1),
            "results": results,
        }
        print(json.dumps(doc, indent=2))
    finally:
        if not args.keep:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()

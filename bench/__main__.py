"""Run every benchmark in turn (`make bench`); each prints one JSON document.

    python -m bench [--only name[,name]] [--quick]

--quick skips the 1M latency size (its build alone takes several minutes on 2 cores) and
scores every fourth locomo-dev question (bench/retrieval_locomo.py)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# screens: rendered test screens (a library); capture_demo: needs a display with a tray and an
# xterm (run it under /work/shared/tools/with-display); locomo: the loader the benches share;
# answer_replay: a development tool that needs a record to replay (it is not a benchmark).
NOT_BENCHES = {"__init__", "__main__", "common", "synthetic", "gen_exports", "screens",
               "capture_demo", "locomo", "answer_replay"}  # fmt: skip


def bench_names() -> list[str]:
    """The benchmarks `make bench` runs, in order."""
    return sorted(p.stem for p in HERE.glob("*.py") if p.stem not in NOT_BENCHES)


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m bench")
    ap.add_argument("--only", help="comma-separated benchmark names")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    names = bench_names()
    if args.only:
        wanted = set(args.only.split(","))
        names = [n for n in names if n in wanted]
    failed = 0
    for name in names:
        extra = ["--sizes", "10000,100000"] if args.quick and name == "search_latency" else []
        if args.quick and name in ("retrieval_locomo", "answer_locomo"):
            extra = ["--quick"]  # a subset of the questions
        print(f"# bench {name}", file=sys.stderr, flush=True)
        proc = subprocess.run([sys.executable, "-m", f"bench.{name}", *extra], cwd=HERE.parent)
        failed += proc.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

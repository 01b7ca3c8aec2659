"""Recall and false-positive rate of the suspicion detector on the labelled poison fixtures
(dev: tuned on; heldout: written after, then used once for fixes; fresh: never tuned on).
Prints one JSON document. Run: .venv/bin/python bench/suspicion.py"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.fixtures.poison.dataset import DEV, FRESH, HELDOUT, load, score  # noqa: E402


def main() -> None:
    out: dict[str, object] = {"bench": "suspicion", "cores": os.cpu_count()}
    # Recorded, not recomputed: heldout.jsonl's first and only run before the fixes its misses
    # prompted (7 of 44 poisoned missed, 1 of 57 benign flagged). "fresh" was written after.
    out["heldout_first_run"] = {"recall": 0.8409, "fpr": 0.0175}
    for name, path in (("dev", DEV), ("heldout", HELDOUT), ("fresh", FRESH)):
        rows = load(path)
        t0 = time.perf_counter()
        result = score(rows)
        result["ms_per_item"] = round(1000 * (time.perf_counter() - t0) / len(rows), 3)
        out[name] = result
    rows = load(DEV) + load(HELDOUT) + load(FRESH)
    combined = score(rows)
    out["all"] = {k: combined[k] for k in ("poisoned", "benign", "recall", "fpr")}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

"""Cost of change detection per 1920x1080 BGRA frame: unchanged (the static-screen case), a
small edit, and a large change. Prints one JSON document. Run: .venv/bin/python bench/change.py"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from core.capture.change import ChangeDetector


def per_frame_us(detector: ChangeDetector, frames: list[np.ndarray], n: int) -> float:
    t = time.process_time()
    for i in range(n):
        detector.detect(0, frames[i % len(frames)])
    return (time.process_time() - t) / n * 1e6


def main() -> None:
    rng = np.random.default_rng(0)
    base = np.full((1080, 1920, 4), 255, np.uint8)
    for y in range(40, 1040, 30):
        base[y : y + 14, 40:1880, :3] = rng.integers(0, 255, (14, 1840, 3), np.uint8)
    small = base.copy()
    small[500:516, 900:980, :3] = 0
    large = base.copy()
    large[:700, :, :3] = 17
    d = ChangeDetector()
    d.detect(0, base)
    results = {
        "unchanged_us": round(per_frame_us(d, [base], 2000), 1),
        "small_edit_us": round(per_frame_us(d, [base, small], 400), 1),
        "large_change_us": round(per_frame_us(d, [base, large], 200), 1),
    }
    d.detect(0, base)
    changed = d.detect(0, small)
    print(
        json.dumps(
            {
                "bench": "change_detection",
                "cores": os.cpu_count(),
                "load_average_1m": round(os.getloadavg()[0], 2),
                "frame": "1920x1080 BGRA",
                "cpu_time_per_frame": results,
                "small_edit_regions": [list(r) for r in changed.regions],
                "static_screen_cpu_per_wall_s_at_2s_interval": round(
                    results["unchanged_us"] / 1e6 / 2, 7
                ),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

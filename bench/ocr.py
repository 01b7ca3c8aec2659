"""OCR latency of the RapidOCR adapter: a full 1080p frame (sparse and dense text) and single
changed regions. Prints one JSON document. Run: .venv/bin/python bench/ocr.py [--repeat N]"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image, ImageDraw, ImageFont

from core.capture.geometry import Rect
from models.ocr import RapidOcrEngine

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
WORDS = [
    "report",
    "meeting",
    "budget",
    "invoice",
    "project",
    "review",
    "customer",
    "schedule",
    "release",
    "notes",
    "design",
    "search",
    "memory",
    "screen",
    "window",
    "capture",
    "privacy",
    "summary",
    "quarterly",
    "deadline",
    "draft",
    "update",
]


def screen(lines: int, seed: int = 0) -> tuple[Image.Image, list[str]]:
    """A 1920x1080 white screen with `lines` lines of 15 px UI text."""
    rng = random.Random(seed)
    img = Image.new("RGB", (1920, 1080), "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, 15)
    texts = []
    step = max(24, 1000 // max(lines, 1))
    for i in range(lines):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14)))
        draw.text((40 + (i % 2) * 900, 40 + (i // 2) * step * 2 % 1000), text, "black", font)
        texts.append(text)
    return img, texts


def timed(fn, repeat: int) -> dict:  # type: ignore[no-untyped-def]
    """Median wall and CPU seconds (CPU time says more on a loaded machine), and box count."""
    walls, cpus = [], []
    out = None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return {
        "median_wall_s": round(statistics.median(walls), 3),
        "median_cpu_s": round(statistics.median(cpus), 3),
        "boxes": len(out or []),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    engine = RapidOcrEngine(threads=args.threads or None)
    t = time.perf_counter()
    engine.load()
    load_s = time.perf_counter() - t
    sparse, _ = screen(8)
    dense, dense_texts = screen(36)
    engine.recognise(sparse)  # warm-up
    results = {}
    for name, img in (("full_1080p_sparse_8_lines", sparse), ("full_1080p_dense_36_lines", dense)):
        results[name] = timed(lambda img=img: engine.recognise(img), args.repeat)
    regions = {
        "region_one_line_600x40": Rect(30, 30, 600, 40),
        "region_paragraph_900x200": Rect(30, 30, 900, 200),
        "region_quarter_960x540": Rect(0, 0, 960, 540),
    }
    for name, rect in regions.items():
        results[name] = timed(lambda r=rect: engine.recognise_regions(dense, [r]), args.repeat)
        results[name]["area_fraction"] = round(rect.area / (1920 * 1080), 3)
    found = " ".join(b.text for b in engine.recognise(dense))
    words = [w for t in dense_texts for w in t.split()]
    recall = sum(1 for w in set(words) if w in found) / len(set(words))
    print(
        json.dumps(
            {
                "bench": "ocr",
                "cores": os.cpu_count(),
                "load_average_1m": round(os.getloadavg()[0], 2),
                "threads": args.threads or "all",
                "model_load_s": round(load_s, 3),
                "bar_full_frame_s": 1.5,
                "results": results,
                "dense_word_recall": round(recall, 3),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

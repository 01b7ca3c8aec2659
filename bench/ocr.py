"""OCR latency of the RapidOCR adapter: a full 1080p frame (sparse and dense text) and single
changed regions, CPU and wall, with the character error rate against the rendered text; and every
kind of screen of bench.screens (mail, chat, code, spreadsheet, calendar, document, terminal;
light/dark, dense/sparse) on two seeds: CPU, CER and lines not read. Prints one JSON document.
Run: .venv/bin/python bench/ocr.py [--repeat N] [--seeds 0 1]. `before_after_int8` compares
the float models with their int8 copies in one process; to compare with an earlier engine, run
this file against that checkout's models/ocr.py."""

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
from core.redaction import reading_order
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


def levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def cer(boxes: list, truth: list[str]) -> float:  # type: ignore[type-arg]
    """Character error rate: each rendered line against the closest line read back."""
    lines = [" ".join(boxes[i].text for i in line) for line in reading_order(boxes)]
    errors = sum(min((levenshtein(t, r) for r in lines), default=len(t)) for t in truth)
    return errors / max(1, sum(len(t) for t in truth))


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


def screens(engine: RapidOcrEngine, seed: int) -> dict:  # type: ignore[type-arg]
    """Every kind of screen of bench.screens at 1920x1080 read whole once: CPU per screen, the
    character error rate and the lines not read (more than a quarter of a line's characters
    missing from the closest line read)."""
    return screens_side_by_side({"engine": engine}, seed)["engine"]


def screens_side_by_side(engines: dict[str, RapidOcrEngine], seed: int) -> dict:  # type: ignore[type-arg]
    """screens() for each engine, the engines taking turns screen by screen (the order
    alternating), so a change of load falls on all of them alike."""
    from bench.screens import all_screens, closest

    out: dict = {name: {} for name in engines}  # type: ignore[type-arg]
    totals = {name: [0, 0, 0, 0, 0.0] for name in engines}  # errors, chars, unread, lines, cpu
    names = list(engines)
    for i, sc in enumerate(all_screens((1920, 1080), seed)):
        for name in names if i % 2 == 0 else names[::-1]:
            c = time.process_time()
            boxes = engines[name].recognise(sc.image)
            spent = time.process_time() - c
            read = [" ".join(boxes[j].text for j in line) for line in reading_order(boxes)]
            e = sum(closest(t, read)[0] for t in sc.lines)
            n = sum(len(t) for t in sc.lines)
            miss = sum(1 for t in sc.lines if closest(t, read)[0] > 0.25 * len(t))
            out[name][f"{sc.kind}_{sc.theme}_{sc.density}"] = {
                "cpu_s": round(spent, 3), "lines": len(sc.lines), "cer": round(e / n, 4),
                "unread": miss,
            }  # fmt: skip
            for k, v in enumerate((e, n, miss, len(sc.lines), spent)):
                totals[name][k] += v
    for name, (errors, chars, unread, lines, cpu) in totals.items():
        out[name]["all"] = {"cpu_s": round(cpu, 2), "lines": lines, "unread": unread,
                            "cer": round(errors / max(1, chars), 4)}  # fmt: skip
    return out


def run(engine: RapidOcrEngine, repeat: int) -> dict:  # type: ignore[type-arg]
    sparse, sparse_texts = screen(8)
    dense, dense_texts = screen(36)
    engine.recognise(sparse)  # warm-up
    results: dict = {}  # type: ignore[type-arg]
    for name, img, texts in (
        ("full_1080p_sparse_8_lines", sparse, sparse_texts),
        ("full_1080p_dense_36_lines", dense, dense_texts),
    ):
        results[name] = timed(lambda img=img: engine.recognise(img), repeat)
        results[name]["cer"] = round(cer(engine.recognise(img), texts), 4)
    regions = {
        "region_one_line_600x40": Rect(30, 30, 600, 40),
        "region_paragraph_900x200": Rect(30, 30, 900, 200),
        "region_quarter_960x540": Rect(0, 0, 960, 540),
    }
    for name, rect in regions.items():
        results[name] = timed(lambda r=rect: engine.recognise_regions(dense, [r]), repeat)
        results[name]["area_fraction"] = round(rect.area / (1920 * 1080), 3)
    found = " ".join(b.text for b in engine.recognise(dense))
    words = [w for t in dense_texts for w in t.split()]
    results["dense_word_recall"] = round(
        sum(1 for w in set(words) if w in found) / len(set(words)), 3
    )
    return results


def frames_side_by_side(
    engines: dict[str, RapidOcrEngine],
    out: dict,  # type: ignore[type-arg]
    repeat: int,
    seeds: list[int],
) -> dict:  # type: ignore[type-arg]
    """Two or more engines in one process, taking turns run by run (the order reversed every
    other run): median CPU and CER of the sparse and dense full frames, then every rendered
    screen of each seed, into `out[name]`."""
    for lines in (8, 36):
        img, texts = screen(lines)
        cpus: dict[str, list[float]] = {name: [] for name in engines}
        for engine in engines.values():
            engine.recognise(img)  # warm-up
        for i in range(max(1, repeat)):
            order = list(engines.items())
            for name, engine in order if i % 2 == 0 else order[::-1]:
                c = time.process_time()
                boxes = engine.recognise(img)
                cpus[name].append(time.process_time() - c)
                out[name][f"full_1080p_{lines}_lines"] = {"cer": round(cer(boxes, texts), 4)}
        for name in engines:
            out[name][f"full_1080p_{lines}_lines"]["median_cpu_s"] = round(
                statistics.median(cpus[name]), 3
            )
    for seed in seeds:
        for name, found in screens_side_by_side(engines, seed).items():
            out[name][f"screens_seed_{seed}"] = found["all"]
    return out


def before_after(repeat: int, seeds: list[int], threads: int | None) -> dict:  # type: ignore[type-arg]
    """The float models (before) against their int8 copies (after, models/ocr_int8.py), side by
    side under the same load: two engines in one process alternate run by run on the sparse and
    dense screens (median CPU of each), then read every rendered screen of each seed."""
    engines = {"float": RapidOcrEngine(threads=threads, quantised=False),
               "int8": RapidOcrEngine(threads=threads)}  # fmt: skip
    out: dict = {}  # type: ignore[type-arg]
    for name, engine in engines.items():
        engine.load()
        out[name] = {"precision": engine.precision, "note": engine.precision_note}
    return frames_side_by_side(engines, out, repeat, seeds)


def engine_on(det: Path, rec: Path, threads: int | None) -> RapidOcrEngine:
    """An engine reading with these int8 model files (e.g. an earlier derivation's), whatever
    the derived folder holds; it reads the recogniser's output as that model's metadata says."""
    import onnxruntime as ort

    engine = RapidOcrEngine(threads=threads)
    engine.load()
    cpu = ["CPUExecutionProvider"]
    engine._det = ort.InferenceSession(str(det), engine._session_options(False), providers=cpu)
    engine._use_recogniser(
        ort.InferenceSession(str(rec), engine._session_options(True), providers=cpu)
    )
    engine.precision = f"int8 ({rec.name})"
    return engine


def before_after_models(before: Path, repeat: int, seeds: list[int], threads: int | None) -> dict:  # type: ignore[type-arg]
    """The int8 models in the folder `before` (an earlier derivation) against the derived ones
    in use now, alternating run by run in one process: median CPU of the sparse and dense
    full frames, their CER, and every rendered screen of each seed."""
    from models.ocr_int8 import MANIFEST

    # The earlier derivation's manifest names its files (a shared folder holds several).
    manifests = [m for m in sorted(before.glob("ocr-int8*.json")) if m.name != MANIFEST]
    if not manifests:
        raise SystemExit(f"no int8 OCR manifest of another derivation in {before}")
    stages = json.loads(manifests[-1].read_text(encoding="utf-8"))["stages"]
    det, rec = before / stages["Det"]["file"], before / stages["Rec"]["file"]
    engines = {"before": engine_on(det, rec, threads), "after": RapidOcrEngine(threads=threads)}
    engines["after"].load()
    out: dict = {name: {"models": e.precision} for name, e in engines.items()}  # type: ignore[type-arg]
    return frames_side_by_side(engines, out, repeat, seeds)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seeds", type=int, nargs="*", default=[0, 1])
    ap.add_argument(
        "--vs-models",
        type=Path,
        default=None,
        help="only compare with the int8 models in this folder (an earlier derivation)",
    )
    args = ap.parse_args()
    if args.vs_models:
        ba = before_after_models(args.vs_models, args.repeat, args.seeds, args.threads or None)
        print(
            json.dumps(
                {
                    "bench": "ocr",
                    "cores": os.cpu_count(),
                    "load_average_1m": round(os.getloadavg()[0], 2),
                    "threads": args.threads,
                    "before_after_models": ba,
                },
                indent=2,
            )
        )
        return
    engine = RapidOcrEngine(threads=args.threads or None)
    t = time.perf_counter()
    engine.load()
    load_s = time.perf_counter() - t
    out = {
        "synthetic": run(engine, args.repeat),
        "screens": {f"seed_{seed}": screens(engine, seed) for seed in args.seeds},
    }
    out["before_after_int8"] = before_after(args.repeat, args.seeds, args.threads or None)
    print(
        json.dumps(
            {
                "bench": "ocr",
                "cores": os.cpu_count(),
                "load_average_1m": round(os.getloadavg()[0], 2),
                "threads": args.threads or "all",
                "precision": engine.precision,
                "model_load_s": round(load_s, 3),
                "bar_full_frame_cpu_s": {"sparse": 1.5, "dense": 3.0},
                **out,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

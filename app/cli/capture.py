"""capture, and `import --format screenshots`: the tray's capture pipeline, headless, and the
same OCR + redaction + encrypted media + ingest for a folder of existing screenshots."""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from app.cli.context import CliContext
from core.errors import BadInput

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
MAX_PIXELS = 60_000_000  # a screenshot larger than ~8K x 7K is not a screenshot


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "capture", parents=[common], help="capture the screen headless (the tray's pipeline)"
    )
    when = p.add_mutually_exclusive_group()
    when.add_argument("--once", action="store_true", help="capture once (the default)")
    when.add_argument("--duration", type=float, help="capture for S seconds")
    p.add_argument("--interval", type=float, help="seconds between captures (default: settings)")
    p.set_defaults(handler=cmd_capture, format_human=format_capture)


def cmd_capture(args: argparse.Namespace, ctx: CliContext) -> dict[str, Any]:
    if args.duration is not None and not 0 < args.duration <= 7 * 86400:
        raise BadInput("--duration must be between 0 and 604800 seconds.")
    if args.interval is not None and not 0.2 <= args.interval <= 3600:
        raise BadInput("--interval must be between 0.2 and 3600 seconds.")
    from app.capture_service import CaptureService

    services = ctx.services()
    service = CaptureService(services)
    t0 = time.perf_counter()
    service.run_headless(args.duration, args.interval)
    doc = service.stats.to_json()
    doc["took_s"] = round(time.perf_counter() - t0, 3)
    problem = service.status().problem
    if problem and not doc["frames"]:
        raise BadInput(problem)
    return doc


def format_capture(r: dict[str, Any]) -> str:
    dropped = ", ".join(f"{n} {k}" for k, n in r["dropped"].items()) or "none"
    return (
        f"{r['frames']} frames, {r['changed']} changed, dropped: {dropped}; "
        f"{r['memories_added']} memories added, {r['redactions']} redactions, "
        f"{r['media_bytes']} media bytes, {r['took_s']} s"
    )


# -- import --format screenshots -------------------------------------------------------------
def load_screenshot(path: Path) -> np.ndarray:
    """A BGRA array of an image file; BadInput naming the file when it cannot be read."""
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(path) as img:
            img.load()
            rgb = img.convert("RGB")
    except (UnidentifiedImageError, Image.DecompressionBombError):
        raise BadInput(
            f"{path.name} is not a readable image (or is far too large); nothing from it was "
            "imported."
        ) from None
    except (OSError, SyntaxError, ValueError) as e:
        raise BadInput(
            f"{path.name} is damaged or truncated ({type(e).__name__}); nothing from it was "
            "imported."
        ) from None
    arr = np.asarray(rgb)
    out = np.empty((arr.shape[0], arr.shape[1], 4), np.uint8)
    out[..., :3] = arr[..., ::-1]
    out[..., 3] = 255
    return out


def import_screenshots(args: argparse.Namespace, ctx: CliContext) -> dict[str, Any]:
    """`import --format screenshots PATH`: each image becomes screen memories timed by the
    file's modification time; one transaction per file."""
    root = Path(args.path).expanduser()
    if not root.exists():
        raise BadInput(f"{root} does not exist.")
    if root.is_dir():
        files = sorted(
            p
            for p in root.iterdir()
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
        )
    else:
        files = [root]
    if not files:
        raise BadInput(f"No screenshots (PNG, JPEG, WebP…) in {root}.")
    from app.capture_service import CaptureSettings, shared_ocr

    services = ctx.services()
    services.require_memory()
    settings = CaptureSettings.read(services.settings.get)
    ocr = shared_ocr()
    reports: list[dict[str, Any]] = []
    failed = 0
    for path in files:
        try:
            reports.append(_import_one(services, path, settings, ocr))
        except BadInput as e:
            if len(files) == 1:
                raise
            failed += 1
            reports.append({"path": str(path), "format": "screenshots", "error": str(e)})
            print(f"mnemo: {e}", file=sys.stderr)
    result: dict[str, Any] = {"files": reports}
    if failed:
        result["failed"] = failed
    return result


def _import_one(services: Any, path: Path, settings: Any, ocr: Any) -> dict[str, Any]:
    from app.capture_service import store_memories
    from core.capture.change import ChangeDetector, RegionTextCache
    from core.capture.exclusions import CaptureDecision
    from core.capture.frame import process_frame
    from core.types import import_kind

    pixels = load_screenshot(path)
    when = path.stat().st_mtime
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:32]
    change = ChangeDetector().detect(str(path), pixels)
    result = process_frame(
        pixels,
        change,
        CaptureDecision(drop=False),
        ocr,
        RegionTextCache(),
        settings.redaction,
        when,
    )
    report: dict[str, Any] = {
        "path": str(path),
        "format": "screenshots",
        "imported": 0,
        "duplicates": 0,
        "rejected": [],
        "redactions": sum(result.redactions.values()),
    }
    if not result.memories:
        return report
    for i, m in enumerate(result.memories):
        m.kind = import_kind("screenshots")
        m.file = str(path)
        m.title = m.title or path.name
        m.external_id = f"{digest}:{i}"
    added, _, _ = store_memories(services, result.memories, pixels, when, settings)
    report["imported"] = added
    report["duplicates"] = len(result.memories) - added
    return report

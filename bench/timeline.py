"""The visual timeline on a day of captured screens: time to open, frames shown per second while
dragging through them, memory while scrubbing (decoded-frame cache against its bound).

    python -m bench.timeline [--frames 500] [--size 1600x900] [--drag-seconds 10,5]
                             [--memory-drags 10] [--data DIR]

A day is generated: screens of several apps (editor, browser, terminal, mail, chat) rendered at
1920x1080 with real fonts, each stored through the capture pipeline's own `store_memories`
(WebP encode at the capture defaults, AES-GCM media, SQLCipher, FTS), their text lines as the
OCR boxes; pauses, a locked screen and an excluded window are recorded the way the capture
service records them, and notes and chat messages sit between the frames. The timeline page is
then driven offscreen with real mouse events."""

from __future__ import annotations

import argparse
import itertools
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import PASSPHRASE, emit, envelope

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
W, H = 1920, 1080

_WORDS = (
    "budget",
    "review",
    "launch",
    "plan",
    "invoice",
    "shipment",
    "berlin",
    "lisbon",
    "kernel",
    "patch",
    "release",
    "meeting",
    "notes",
    "design",
    "sprint",
    "crane",
    "maintenance",
    "harbour",
    "schedule",
    "quarterly",
    "report",
    "onboarding",
    "checklist",
    "database",
    "migration",
    "index",
    "vacuum",
    "lunch",
    "dentist",
    "flight",
    "booking",
    "reference",
    "seat",
    "hotel",
    "recipe",
    "lentil",
    "soup",
    "paprika",
    "garden",
    "fence",
    "paint",
    "ticket",
    "concert",
    "saturday",
    "coffee",
    "printer",
    "toner",
)


@dataclass
class Screen:
    image: Any  # PIL image
    boxes: list[dict[str, Any]]
    app: str
    title: str


def _font(name: str, size: int) -> Any:
    from PIL import ImageFont

    path = FONT_DIR / name
    return ImageFont.truetype(str(path), size) if path.exists() else ImageFont.load_default()


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(n)).capitalize()


APPS = {
    # app: (title pattern, background, ink, font, size, bar colour)
    "code": (
        "{w}.py — project — Visual Studio Code",
        "#1e1e1e",
        "#d4d4d4",
        "DejaVuSansMono.ttf",
        17,
        "#333333",
    ),
    "firefox": (
        "{W}: a guide — Mozilla Firefox",
        "#ffffff",
        "#202124",
        "DejaVuSans.ttf",
        18,
        "#e8e8ed",
    ),
    "xterm": ("user@desk: ~/{w}", "#101010", "#33dd66", "DejaVuSansMono.ttf", 16, "#2a2a2a"),
    "thunderbird": (
        "Inbox — {W} — Thunderbird",
        "#f7f8fa",
        "#1b1f27",
        "DejaVuSans.ttf",
        17,
        "#dfe3ea",
    ),
    "signal": ("Signal — {W} group", "#ffffff", "#111111", "DejaVuSans.ttf", 18, "#3a76f0"),
}


def render_screen(app: str, seed: int, lines: list[str]) -> Screen:
    """One full-screen window of `app` showing `lines`; boxes are where each line was drawn."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    title_fmt, bg, ink, font_name, size, bar = APPS[app]
    word = rng.choice(_WORDS)
    title = title_fmt.format(w=word, W=word.capitalize())
    image = Image.new("RGB", (W, H), bg)
    d = ImageDraw.Draw(image)
    d.rectangle((0, 0, W, 44), fill=bar)
    head = _font("DejaVuSans-Bold.ttf", 18)
    d.text(
        (20, 12),
        title,
        fill="#ffffff" if app in ("code", "xterm", "signal") else "#222222",
        font=head,
    )
    font = _font(font_name, size)
    boxes: list[dict[str, Any]] = []
    x0 = 300 if app in ("thunderbird", "signal") else 40
    if x0 > 40:
        d.rectangle((0, 44, x0 - 20, H), fill=bar if app == "thunderbird" else "#f0f2f5")
        for i in range(12):
            label = _sentence(rng, 2)
            y = 70 + i * 38
            d.text((20, y), label, fill="#333333", font=font)
            boxes.append(_box(d, 20, y, label, font))
    y = 70
    step = int(size * 1.7)
    for line in lines:
        if y > H - 40:
            break
        d.text((x0, y), line, fill=ink, font=font)
        boxes.append(_box(d, x0, y, line, font))
        y += step
    return Screen(image, boxes, app, title)


def _box(d: Any, x: int, y: int, text: str, font: Any) -> dict[str, Any]:
    left, top, right, bottom = d.textbbox((x, y), text, font=font)
    return {"x": left, "y": top, "w": right - left, "h": bottom - top, "text": text, "score": 0.95}


def generate_day(services: Any, day_start: float, frames: int, seed: int = 11) -> dict[str, Any]:
    """`frames` screens from 08:30 over a working day, with gaps, notes and chats."""
    import numpy as np

    from app.capture_service import CaptureSettings, store_memories
    from core import audit
    from core.types import NewMemory

    rng = random.Random(seed)
    settings = CaptureSettings.read(services.settings.get)
    t = day_start + 8.5 * 3600
    per_app: dict[str, list[str]] = {
        a: [_sentence(rng, rng.randint(5, 11)) for _ in range(30)] for a in APPS
    }
    gaps = [(0.25, "paused", 35 * 60), (0.5, "screen_locked", 50 * 60), (0.75, "excluded", 12 * 60)]
    stored = 0
    encode_cpu = 0.0
    app = "code"
    for i in range(frames):
        for at, state, length in gaps:
            if i == int(frames * at):
                services.store.write(
                    lambda c, s=state, tt=t: audit.record(c, "capture_state", tt, state=s)
                )
                t += length
                services.store.write(
                    lambda c, tt=t: audit.record(c, "capture_state", tt, state="capturing")
                )
        if rng.random() < 0.12:
            app = rng.choice(list(APPS))
        lines = per_app[app]
        lines.insert(rng.randint(0, min(len(lines), 8)), _sentence(rng, rng.randint(5, 11)))
        del lines[40:]
        screen = render_screen(app, seed * 1000 + i, lines)
        pixels = np.asarray(screen.image.convert("RGB"))[:, :, ::-1]  # BGR, as mss gives
        text = "\n".join(b["text"] for b in screen.boxes)
        mem = NewMemory(
            kind="screen",
            text=text,
            time=t,
            app=screen.app,
            title=screen.title,
            boxes=[dict(b) for b in screen.boxes],
        )
        c0 = time.process_time()
        added, _, _ = store_memories(
            services,
            [mem],
            np.ascontiguousarray(pixels),
            t,
            settings,
            app=screen.app,
            title=screen.title,
        )
        encode_cpu += time.process_time() - c0
        stored += added
        if rng.random() < 0.04:
            kind = rng.choice(["note", "chat"])
            services.memory.add(
                [
                    NewMemory(
                        kind=kind,
                        text=_sentence(rng, 8),
                        time=t + 5,
                        conversation=None if kind == "note" else "Planning",
                    )
                ]
            )
        t += rng.uniform(20, 75)
    return {
        "frames": stored,
        "store_cpu_s_per_frame": round(encode_cpu / max(1, frames), 4),
        "last_time": t,
    }


def _first_frame_time(services: Any) -> float:
    row = services.store.reader().execute("SELECT min(time) FROM media").fetchone()
    return float(row[0])


def decode_costs(services: Any, n: int = 40) -> dict[str, Any]:
    """Milliseconds (wall and CPU) to decrypt and decode one preview and one full frame, cold."""
    from statistics import median

    from app.timeline_service import TimelineService

    fresh = TimelineService(services.store, services.media)
    ids = [r[0] for r in services.store.reader().execute("SELECT id FROM media LIMIT ?", (n,))]
    out: dict[str, Any] = {}
    for kind in ("preview", "full"):
        walls, cpus = [], []
        for mid in ids:
            w0, c0 = time.perf_counter(), time.thread_time()
            getattr(fresh, kind)(mid)
            walls.append((time.perf_counter() - w0) * 1000)
            cpus.append((time.thread_time() - c0) * 1000)
        out[f"{kind}_ms_p50"] = round(median(walls), 1)
        out[f"{kind}_cpu_ms_p50"] = round(median(cpus), 1)
    sizes = services.store.reader().execute("SELECT avg(bytes) FROM media").fetchone()[0]
    out["stored_frame_kb_avg"] = round((sizes or 0) / 1000, 1)
    return out


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def drive(
    services: Any,
    day: Any,
    drag_seconds: list[float],
    size: tuple[int, int],
    memory_drags: int = 10,
) -> dict[str, Any]:
    from PySide6.QtCore import QElapsedTimer, QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    from app.tasks import TaskRunner
    from ui.timeline_page import TimelinePage

    app = QApplication.instance() or QApplication(sys.argv[:1])
    tasks = TaskRunner()
    page = TimelinePage(services, tasks)
    page.resize(*size)
    page.show()
    out: dict[str, Any] = {"window": list(size), "rss_mb_before_open": round(_rss_mb(), 1)}

    def wait_until(cond: Any, timeout: float = 20.0) -> bool:
        end = time.perf_counter() + timeout
        while not cond():
            app.processEvents()
            if time.perf_counter() > end:
                return False
            time.sleep(0.001)
        return True

    t0 = time.perf_counter()
    page.set_day(day)
    wait_until(lambda: bool(page.view.painted))
    out["open_to_first_picture_s"] = round(time.perf_counter() - t0, 3)
    wait_until(lambda: any(full for _, full in page.view.painted))
    out["open_to_full_frame_s"] = round(time.perf_counter() - t0, 3)
    assert page.span is not None
    frames = page.span.frames
    out["frames_on_strip"] = len(frames)
    wait_until(lambda: page.strip.tiles_painted > 0, 10)
    strip = page.strip

    def mouse(kind: QEvent.Type, x: float, buttons: Any) -> None:
        pos = QPointF(x, strip.height() / 2)
        ev = QMouseEvent(
            kind,
            pos,
            strip.mapToGlobal(pos),
            Qt.MouseButton.LeftButton if kind != QEvent.Type.MouseMove else Qt.MouseButton.NoButton,
            buttons,
            Qt.KeyboardModifier.NoModifier,
        )
        QApplication.sendEvent(strip, ev)

    n = min(500, len(frames))

    def drag(seconds: float, forward: bool = True) -> dict[str, Any]:
        strip.set_zoom(0)
        app.processEvents()
        page.view.painted.clear()
        xs = [strip.x_of(f.time) for f in frames[len(frames) - n :]]
        if not forward:
            xs.reverse()
        rss_peak = _rss_mb()
        cpu0 = time.process_time()
        mouse(QEvent.Type.MouseButtonPress, xs[0], Qt.MouseButton.LeftButton)
        timer = QElapsedTimer()
        timer.start()
        events = 0
        while timer.elapsed() < seconds * 1000:
            k = min(n - 1, int(timer.elapsed() / (seconds * 1000) * n))
            mouse(QEvent.Type.MouseMove, xs[k], Qt.MouseButton.LeftButton)
            events += 1
            deadline = timer.elapsed() + 16  # a 60 Hz mouse
            while timer.elapsed() < deadline:
                app.processEvents()
                time.sleep(0.001)
            rss_peak = max(rss_peak, _rss_mb())
        wall = timer.elapsed() / 1000
        cpu = time.process_time() - cpu0
        shown = [f for f, _ in page.view.painted]
        distinct = len({f for f in shown})
        changes = sum(1 for a, b in itertools.pairwise(shown) if a != b) + (1 if shown else 0)
        mouse(QEvent.Type.MouseButtonRelease, xs[-1], Qt.MouseButton.NoButton)
        wait_until(lambda: any(full for _, full in page.view.painted[-1:]), 10)
        return {
            "frames_crossed": n,
            "seconds": round(wall, 2),
            "requested_frames_per_s": round(n / wall, 1),
            "mouse_events": events,
            "frames_shown_per_s": round(changes / wall, 1),
            "distinct_frames_shown": distinct,
            "cpu_s": round(cpu, 2),
            "cpu_per_wall": round(cpu / wall, 2),
            "rss_peak_mb": round(rss_peak, 1),
        }

    drags = [drag(seconds) for seconds in drag_seconds]
    out["drags"] = drags
    out["paint_cpu_ms"] = paint_costs(page)
    # Keys: 100 steps of Right, each waiting for its frame (full or preview) to be painted.
    page.strip.setFocus()
    strip.set_current(0)
    t1 = time.perf_counter()
    for _ in range(100):
        before = len(page.view.painted)
        strip.step(1)
        wait_until(lambda b=before: len(page.view.painted) > b, 5)
    out["arrow_key_frames_per_s"] = round(100 / (time.perf_counter() - t1), 1)
    # Memory: drags back and forth; resident memory after each must level off at the caches'
    # bounds (it rose with every drag before: a read connection per task), Python's own
    # allocations must not grow.
    if memory_drags:
        import tracemalloc

        tracemalloc.start()
        rss, traced, shown_per_s = [], [], []
        for k in range(memory_drags):
            d = drag(3.0, forward=k % 2 == 0)
            rss.append(round(_rss_mb(), 1))
            traced.append(round(tracemalloc.get_traced_memory()[0] / 1e6, 2))
            shown_per_s.append(d["frames_shown_per_s"])
        tracemalloc.stop()
        out["memory_drags"] = {
            "drags": memory_drags,
            "seconds_each": 3.0,
            "rss_mb_after_each": rss,
            "python_traced_mb_after_each": traced,
            "frames_shown_per_s": shown_per_s,
            "rss_growth_last_half_mb": round(rss[-1] - rss[len(rss) // 2 - 1], 1),
            "read_connections": len(services.store._readers),
        }
    timeline = services.timeline
    out["cache_mb"] = {k: round(v / 1e6, 1) for k, v in timeline.cache_bytes().items()}
    out["rss_mb_after"] = round(_rss_mb(), 1)
    tasks.wait()
    page.close()
    return out


def paint_costs(page: Any, n: int = 30) -> dict[str, float]:
    """CPU milliseconds per frame put on screen: on the GUI thread (show the fitted picture and
    paint it, move the strip's cursor and paint it) and on the worker (decrypt, decode and fit
    a preview, cold): what a drag costs per shown frame, whatever else the machine runs."""
    from statistics import median

    from PySide6.QtCore import QSize

    from app.timeline_service import TimelineService

    timeline = page.timeline()
    frames = page.span.frames[:n]
    out: dict[str, float] = {}
    fresh = TimelineService(timeline.store, timeline.media)
    for kind in ("preview", "full"):
        gui, worker = [], []
        for f in frames:
            size = QSize(f.width, f.height)
            # Process time: Qt scales large pictures on threads of its own.
            c0 = time.process_time()
            picture = fresh.picture(f.media_id, kind == "full", page.view.fit_size(size))
            worker.append((time.process_time() - c0) * 1000)
            assert picture is not None
            c0 = time.thread_time()
            page.view.set_frame(f.media_id, picture.image, picture.full, size)
            page.view.repaint()
            gui.append((time.thread_time() - c0) * 1000)
        out[f"gui_{kind}"] = round(median(gui), 2)
        out[f"worker_{kind}"] = round(median(worker), 2)
    costs = []
    for i in range(n):
        c0 = time.thread_time()
        page.strip.set_current(i)
        page.strip.repaint()
        costs.append((time.thread_time() - c0) * 1000)
    out["gui_strip"] = round(median(costs), 2)
    per_frame = out["gui_preview"] + out["gui_strip"] + out["worker_preview"]
    out["per_dragged_frame"] = round(per_frame, 2)
    out["frames_per_cpu_second"] = round(1000 / per_frame, 1)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.timeline")
    ap.add_argument("--frames", type=int, default=500)
    ap.add_argument("--drag-seconds", default="10,5")
    ap.add_argument("--size", default="1600x900")
    ap.add_argument(
        "--memory-drags", type=int, default=10, help="drags back and forth to watch memory over"
    )
    ap.add_argument(
        "--data", help="a data folder to generate into and keep (reused when it exists already)"
    )
    args = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from datetime import date, timedelta

    from app.services import Services
    from core.keys import TEST_KDF
    from tests.fakes import FakeEmbedder
    from ui.result_list import day_bounds

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(args.data) if args.data else Path(tmp) / "data"
        # The embedder does not take part in the timeline; the fake one keeps generation quick.
        services = Services(data, embedder=FakeEmbedder())
        day = date.fromtimestamp(time.time()) - timedelta(days=1)
        if services.store.exists():
            services.unlock(PASSPHRASE)
            services.require_memory().wait_ready(60)
            gen: dict[str, Any] = {"reused": str(data)}
            day = date.fromtimestamp(_first_frame_time(services))
        else:
            services.create(PASSPHRASE, TEST_KDF)
            services.require_memory().wait_ready(60)
            c0, t0 = time.process_time(), time.perf_counter()
            gen = generate_day(services, day_bounds(day)[0], args.frames)
            gen["generate_wall_s"] = round(time.perf_counter() - t0, 1)
            gen["generate_cpu_s"] = round(time.process_time() - c0, 1)
        gen.update(decode_costs(services))
        w, h = (int(v) for v in args.size.split("x"))
        seconds = [float(s) for s in args.drag_seconds.split(",")]
        result = drive(services, day, seconds, (w, h), args.memory_drags)
        services.lock()
        emit(envelope("timeline", generated=gen, **result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

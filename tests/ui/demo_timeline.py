"""Screenshots of the visual timeline on a virtual display (not a test):

    /work/shared/tools/with-display -s 1920x1080 .venv/bin/python -m tests.ui.demo_timeline \
        --data DIR --out DIR

DIR is a data folder made by `python -m bench.timeline --data DIR` (a generated day, yesterday).
First a few real app windows are shown and captured through the real pipeline (`main.py capture
--once`: mss grab, RapidOCR, encryption), so today has real frames; then the main window opens
on the timeline at "now", a search hit is opened on its frame, and the generated day is
scrubbed. A PNG is saved at each step."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SHOT = "/work/shared/tools/screenshot"
PASSPHRASE = "benchmark passphrase, not a secret"

TK_APP = r"""
import sys, tkinter as tk
title, kind, lines = sys.argv[1], sys.argv[2], sys.argv[3:]
root = tk.Tk()
root.title(title)
root.geometry("1500x860+60+60")
dark = kind == "term"
text = tk.Text(root, font=("DejaVu Sans Mono" if dark else "DejaVu Sans", 15),
               bg="#111" if dark else "#fff", fg="#3d6" if dark else "#222", padx=18, pady=14)
text.pack(fill="both", expand=True)
text.insert("1.0", "\n".join(lines))
root.mainloop()
"""

APPS = [
    (
        "notes",
        "Meeting notes — Notes",
        "doc",
        [
            "Harbour crane maintenance schedule",
            "Crane 3: replace the hoist cable before Friday 14:00",
            "Crane 5: hydraulic leak reported by the night shift",
            "Budget for spare parts approved: 18,400 EUR",
            "Next review with Anna Schmidt on Tuesday at 10:30",
        ],
    ),
    (
        "termlog",
        "deploy@build-02: ~/mnemo",
        "term",
        [
            "$ make bench",
            "bench timeline: 500 frames, opened in 0.7 s",
            "$ git log --oneline -3",
            "4f2a9c1 Timeline: frames decoded on demand",
            "$ ssh backup-host df -h /srv",
            "/dev/sdb1  1.8T  1.2T  590G  68% /srv",
        ],
    ),
]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--no-capture", action="store_true")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "MNEMO_PASSPHRASE": PASSPHRASE, "PYTHONPATH": str(ROOT)}
    if not args.no_capture:
        capture_real_apps(Path(args.data), out, env)
    return run_gui(Path(args.data), out)


def capture_real_apps(data: Path, out: Path, env: dict[str, str]) -> None:
    bin_dir = out / "apps"
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "tkapp.py"
    script.write_text(TK_APP, encoding="utf-8")
    procs = []
    try:
        for name, title, kind, lines in APPS:
            exe = bin_dir / name  # a copy of python named like the app: /proc/<pid>/comm
            if not exe.exists():
                shutil.copy(sys.executable, exe)
            procs.append(subprocess.Popen([str(exe), str(script), title, kind, *lines], env=env))
            time.sleep(2.0)
            capture(data, env)
        msg = "Flight LH 2041 Berlin to Lisbon\nFriday 09:40, seat 14C\nBooking reference QX7PLM"
        procs.append(subprocess.Popen(["xmessage", "-geometry", "+400+300", msg]))
        time.sleep(1.5)
        capture(data, env)
        subprocess.run([SHOT, str(out / "00-real-apps-captured.png")], check=False)
    finally:
        for p in procs:
            p.terminate()
            p.wait(5)


def capture(data: Path, env: dict[str, str]) -> None:
    t0 = time.time()
    r = subprocess.run(
        [
            sys.executable,
            str(ROOT / "main.py"),
            "--data-dir",
            str(data),
            "--json",
            "capture",
            "--once",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    print(f"capture --once: exit {r.returncode} in {time.time() - t0:.1f} s", file=sys.stderr)
    if r.returncode:
        print(r.stdout[-2000:], r.stderr[-2000:], file=sys.stderr)


def run_gui(data: Path, out: Path) -> int:
    from datetime import date

    from PySide6.QtWidgets import QApplication

    from app import paths
    from app.services import Services
    from app.tasks import TaskRunner
    from tests.fakes import FakeEmbedder
    from ui.main_window import MainWindow

    app = QApplication(sys.argv[:1])
    app.setStyleSheet((paths.assets_dir() / "style.qss").read_text(encoding="utf-8"))
    # Words find the hit; the bench's store was embedded with the fake embedder.
    services = Services(data, embedder=FakeEmbedder())
    services.unlock(PASSPHRASE)
    services.memory.wait_ready(60)
    tasks = TaskRunner()
    window = MainWindow(services, tasks, tray_available=False)
    window.show()
    window.move(0, 0)
    timeline = window.page("Timeline")
    search = window.page("Search")
    steps: list[tuple[float, object]] = []

    def shot(name: str) -> None:
        app.processEvents()
        subprocess.run([SHOT, str(out / name)], check=False)
        print("saved", name, file=sys.stderr)

    def now_view() -> None:
        window.show_page("Timeline")
        timeline.show_now()

    def search_hit() -> None:
        window.show_page("Search")
        search.box.setText("crane maintenance")
        search.run_search()

    def open_hit() -> None:
        rows = [r for r in search.model.rows if r.media_id is not None]
        if rows:
            search.list.setCurrentIndex(search.model.index(search.model.rows.index(rows[0])))
        shot("03-search-results-thumbnails.png")
        search.show_on_timeline()

    def yesterday() -> None:
        timeline.set_day(date.today().fromordinal(date.today().toordinal() - 1))

    def scrub_left() -> None:
        for _ in range(40):
            timeline.strip.step(-1)

    def zoom_hour() -> None:
        timeline.strip.set_zoom(2)

    drag_state: dict[str, Any] = {}

    def drag_start() -> None:
        # A real drag on the strip: pressed, moved across frames, held while the shot is taken.
        strip = timeline.strip
        strip.setFocus()
        frames = timeline.span.frames if timeline.span else []
        xs = [strip.x_of(f.time) for f in frames if 0 <= strip.x_of(f.time) < strip.width()]
        if not xs:
            return
        drag_state["xs"] = xs
        mouse(strip, "press", xs[0])
        for x in xs[: len(xs) // 2]:
            mouse(strip, "move", x)
            app.processEvents()

    def drag_end() -> None:
        xs = drag_state.get("xs")
        if xs:
            mouse(timeline.strip, "release", xs[len(xs) // 2])

    steps = [
        (2.0, now_view),
        (4.0, lambda: shot("01-timeline-now-real-capture.png")),
        (4.5, search_hit),
        (7.0, open_hit),
        (10.0, lambda: shot("04-search-hit-on-timeline-boxed.png")),
        (10.5, yesterday),
        (13.0, lambda: shot("05-generated-day.png")),
        (13.5, scrub_left),
        (15.0, zoom_hour),
        (17.0, lambda: shot("06-scrubbed-zoomed-hour.png")),
        (17.5, drag_start),
        (17.6, lambda: shot("07-while-dragging.png")),
        (18.0, drag_end),
        (19.5, lambda: shot("08-drag-let-go-full-frame.png")),
        (20.0, app.quit),
    ]

    run_steps(steps)
    code = app.exec()
    tasks.wait()
    services.lock()
    return code


def mouse(widget: Any, kind: str, x: float) -> None:
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    types = {
        "press": QEvent.Type.MouseButtonPress,
        "move": QEvent.Type.MouseMove,
        "release": QEvent.Type.MouseButtonRelease,
    }
    pos = QPointF(x, widget.height() / 2)
    button = Qt.MouseButton.NoButton if kind == "move" else Qt.MouseButton.LeftButton
    held = Qt.MouseButton.NoButton if kind == "release" else Qt.MouseButton.LeftButton
    event = QMouseEvent(
        types[kind], pos, widget.mapToGlobal(pos), button, held, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(widget, event)


def run_steps(steps: list[tuple[float, Any]]) -> None:
    """Run (seconds, fn) steps one after the other on the event loop (timers set all at once
    fire out of order on a loaded machine)."""
    from PySide6.QtCore import QTimer

    def run(i: int) -> None:
        at, fn = steps[i]
        fn()
        if i + 1 < len(steps):
            QTimer.singleShot(int((steps[i + 1][0] - at) * 1000), lambda: run(i + 1))

    QTimer.singleShot(int(steps[0][0] * 1000), lambda: run(0))


if __name__ == "__main__":
    sys.exit(main())

"""The capture scenario of issue 15 on a virtual display, with the real app pieces: Mnemo's main
window (this process, named "mnemo", so its windows are excluded), an xterm showing an invoice
lying over it, the real capture service (grabber, X11 window stack, OCR, MiniLM, encrypted
store). Leaves the terminal unchanged for --minutes, types a new line into it, then searches for
the invoice in the main window. Prints one JSON document (memories of the terminal, versions,
search hits) and saves screenshots to --out. Not a test: run it under a display, e.g.
  /work/shared/tools/with-display -s 1600x900 .venv/bin/python bench/capture_demo.py --out DIR"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

INVOICE = [
    "Invoice 2026-1142 Harbour Cranes Ltd",
    "Amount due 4,310.00 EUR by 31 December",
    "Contract room 12 maintenance, December",
]
NEW_LINE = "Paid by card on 7 December, reference HC-7781"
SCREENSHOT = "/work/shared/tools/screenshot"


def shot(out: Path, name: str) -> str:
    path = out / name
    subprocess.run([SCREENSHOT, str(path)], check=False, timeout=60)
    return str(path)


def terminal_rows(services: object) -> list[tuple[int, str]]:
    conn = services.store.reader()  # type: ignore[attr-defined]
    return [(int(a), str(b)) for a, b in conn.execute(
        "SELECT id, text FROM memories WHERE app = 'xterm' ORDER BY id")]  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--out", type=Path, default=Path("/tmp/mnemo-capture-demo"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if shutil.which("xterm") is None:
        sys.exit("xterm is needed for this scenario (apt-get install -y xterm)")

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app import paths
    from app.capture_service import name_this_process
    from app.services import Services
    from app.tasks import TaskRunner
    from core.keys import TEST_KDF
    from ui.main_window import MainWindow

    name_this_process()
    app = QApplication(sys.argv[:1])
    app.setStyleSheet((paths.assets_dir() / "style.qss").read_text(encoding="utf-8"))
    tmp = Path(tempfile.mkdtemp(prefix="mnemo-demo-"))
    services = Services(tmp / "data")
    services.create("demo passphrase for the capture scenario", TEST_KDF)
    services.settings.set("capture.interval_s", 5.0)
    tasks = TaskRunner()
    window = MainWindow(services, tasks, tray_available=False)
    window.show_page("Search")
    window.resize(1100, 700)
    window.move(40, 60)
    window.show()
    for _ in range(20):
        app.processEvents()
        time.sleep(0.05)
    script = "; ".join(f"echo '{line}'" for line in INVOICE) + "; exec bash --norc"
    term = subprocess.Popen(
        ["xterm", "-geometry", "80x12+300+220", "-fa", "DejaVu Sans Mono", "-fs", "13",
         "-T", "invoice.txt - terminal", "-e", "bash", "--norc", "-c", script],
        env=dict(os.environ, PS1="$ "),
    )  # fmt: skip
    report: dict[str, object] = {}
    try:
        time.sleep(3)
        assert services.capture is not None
        capture = services.capture
        capture.start()
        end = time.monotonic() + args.minutes * 60
        counts: list[Any] = []
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.2)
            if len(counts) < int((time.monotonic() - end + args.minutes * 60) // 60) + 1:
                counts.append(len(terminal_rows(services)))
        capture.wait_idle(120)
        report["unchanged_minutes"] = args.minutes
        report["terminal_memories_per_minute"] = counts
        report["terminal_memories_after_unchanged"] = len(terminal_rows(services))
        report["screenshot_unchanged"] = shot(args.out, "1-terminal-over-mnemo.png")
        subprocess.run(["xdotool", "search", "--name", "invoice.txt", "windowfocus", "--sync"],
                       check=False, timeout=20)  # fmt: skip
        subprocess.run(["xdotool", "type", "--delay", "40", f"echo '{NEW_LINE}'"], check=False,
                       timeout=60)  # fmt: skip
        subprocess.run(["xdotool", "key", "Return"], check=False, timeout=20)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.2)
            rows = terminal_rows(services)
            if rows and any("paid by card" in t.lower() for _, t in rows):
                break
        capture.wait_idle(120)
        rows = terminal_rows(services)
        report["terminal_memories_after_typing"] = len(rows)
        report["terminal_text"] = [t for _, t in rows]
        conn = services.store.reader()
        report["versions"] = [
            conn.execute("SELECT count(*) FROM memory_versions WHERE memory_id = ?",
                         (mid,)).fetchone()[0] for mid, _ in rows
        ]  # fmt: skip
        lying_over = [line for line in INVOICE if any(line.split()[0] in t for _, t in rows)]
        report["invoice_lines_captured"] = lying_over
        capture.stop()
        assert services.memory is not None
        hits = services.memory.search("invoice harbour cranes", k=10).hits
        report["search_hits"] = [{"id": h.id, "app": h.app, "title": h.title} for h in hits]
        term.terminate()
        term.wait(10)
        page: Any = window.page("Search")
        page.box.setText("invoice harbour cranes")
        page.run_search()
        t0 = time.monotonic()
        while time.monotonic() - t0 < 20:
            app.processEvents()
            time.sleep(0.1)
        report["screenshot_search"] = shot(args.out, "2-search-invoice.png")
        report["capture"] = capture.stats.to_json()
    finally:
        if term.poll() is None:
            term.kill()
            term.wait()
        QTimer.singleShot(0, app.quit)
        app.processEvents()
        tasks.wait()
        services.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

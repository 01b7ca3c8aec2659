"""Memory footprint while capturing: resident memory (RSS, from /proc/self/status) of this
process with the real capture service, OCR and the embedder loaded, on a private Xvfb showing
the capture benchmark's active window (about 20 % of the screen changing every 10 s); the
answer model's process is not part of it. Sampled every second; prints the median, p95 and peak
(VmHWM) plus the threads torch and onnxruntime run on. One JSON document.
Run: .venv/bin/python bench/footprint.py [--seconds S]"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.capture import ACTIVE_SCRIPT, STATIC_SCRIPT, cpu, start_xvfb, window
from bench.common import PASSPHRASE, emit, envelope


def status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=180.0)
    args = ap.parse_args()
    if shutil.which("Xvfb") is None:
        sys.exit("Xvfb is needed (apt-get install -y xvfb)")
    from app.capture_service import CaptureService, shared_ocr
    from app.grabber import ScreenGrabber
    from app.services import Services
    from app.window_context import X11WindowContext
    from core.keys import TEST_KDF

    stages: dict[str, int] = {"start_mb": status_kb("VmRSS") // 1024}
    xvfb, display = start_xvfb()
    tmp = Path(tempfile.mkdtemp(prefix="mnemo-bench-footprint-"))
    procs = []
    services = Services(tmp / "data")
    try:
        services.create(PASSPHRASE, kdf=TEST_KDF)
        assert services.memory is not None
        services.memory.wait_ready(60)
        services.embedder.embed(["warm up"])
        stages["embedder_loaded_mb"] = status_kb("VmRSS") // 1024
        shared_ocr().load()
        stages["ocr_loaded_mb"] = status_kb("VmRSS") // 1024
        service = CaptureService(
            services,
            grabber_factory=lambda: ScreenGrabber(display, environ={"DISPLAY": display}),
            context_factory=lambda: X11WindowContext(display),
        )
        procs.append(window(display, STATIC_SCRIPT))
        procs.append(window(display, ACTIVE_SCRIPT))
        service.cpu_budget = 10.0  # read every change: the footprint of work, not of waiting
        service.start()
        samples: list[int] = []
        c0, t0 = cpu(), time.monotonic()
        end = t0 + args.seconds
        while time.monotonic() < end:
            samples.append(status_kb("VmRSS") // 1024)
            time.sleep(1.0)
        wall = time.monotonic() - t0
        service.stop()
        import torch

        samples.sort()
        doc = envelope(
            "footprint",
            note="RSS of this process (capture loop, OCR, embedder, store); the answer model "
            "runs in its own process and is not counted. CPU budget lifted so every change is "
            "read while measuring.",
            seconds=round(wall, 1),
            stages_mb=stages,
            rss_mb={
                "median": statistics.median(samples),
                "p95": samples[int(0.95 * (len(samples) - 1))],
                "max_sampled": samples[-1],
                "peak_hwm": status_kb("VmHWM") // 1024,
            },
            bar_mb=700,
            frames_processed=service.stats.processed,
            memories=service.stats.memories_added + service.stats.memories_updated,
            cpu_per_wall=round((cpu() - c0) / wall, 4),
            threads={
                "torch": torch.get_num_threads(),
                "onnxruntime_intra_op": shared_ocr().threads,
                "python_threads": sorted(t.name for t in threading.enumerate()),
            },
        )
        emit(doc)
    finally:
        for p in procs:
            p.kill()
            p.wait()
        services.close()
        xvfb.terminate()
        xvfb.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

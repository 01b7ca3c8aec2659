"""Fixtures for app tests: a private Xvfb display with small X client windows, and a fresh
unlocked store with the memory service on a fake embedder (fast)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app.memory_service import MemoryService
from app.services import Services
from core.clock import FixedClock
from core.keys import TEST_KDF
from tests.fakes import FakeEmbedder
from tests.xdisplay import start_xvfb, stop_xvfb

WINDOW_SCRIPT = r"""
import sys, tkinter as tk
title, geometry, colour, comm, text = sys.argv[1:6]
if comm:
    # Pose as another program (e.g. a screen locker): what /proc/<pid>/comm says is what
    # Mnemo reads as the app name.
    with open("/proc/self/comm", "w") as f:
        f.write(comm)
root = tk.Tk()
root.title(title)
root.geometry(geometry)
root.configure(background=colour)
for line in text.split("|") if text else []:
    tk.Label(root, text=line, font=("DejaVu Sans", 16), bg="white", fg="black").pack(
        anchor="w", padx=10, pady=6)
root.update()
print("ready", root.wm_frame(), flush=True)
sys.stdin.readline()  # lives until the test closes stdin
"""


@pytest.fixture(scope="session")
def xvfb() -> Iterator[str]:
    """The name of a fresh Xvfb display (1280x800), stopped after the session."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (apt-get install -y xvfb); real-display tests skipped")
    try:
        proc, name = start_xvfb("1280x800x24", "-s", "0", "-noreset")
    except RuntimeError as e:
        pytest.fail(str(e))
    try:
        yield name
    finally:
        stop_xvfb(proc)


class XWindow:
    """A Tk window in a child process, with a known title, geometry and colour."""

    def __init__(
        self, display: str, title: str, geometry: str, colour: str, comm: str, text: str = ""
    ) -> None:
        env = dict(os.environ, DISPLAY=display)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WINDOW_SCRIPT, title, geometry, colour, comm, text],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("ready"), f"window did not open: {line!r}"
        self.xid = int(line.split()[1], 16)
        self.pid = self.proc.pid

    def comm(self) -> str:
        return Path(f"/proc/{self.pid}/comm").read_text().strip().lower()

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture
def open_window(xvfb: str) -> Iterator:
    """open_window(title, geometry="320x200+50+60", colour="#ff0000", comm="", text="") ->
    XWindow; `text` is lines separated by "|", shown as labels."""
    opened: list[XWindow] = []

    def _open(
        title: str,
        geometry: str = "320x200+50+60",
        colour: str = "#ff0000",
        comm: str = "",
        text: str = "",
    ) -> XWindow:
        w = XWindow(xvfb, title, geometry, colour, comm, text)
        opened.append(w)
        return w

    yield _open
    for w in opened:
        w.close()


def wait_for(predicate, timeout: float = 5.0):  # type: ignore[no-untyped-def]
    """Poll until predicate() returns something truthy; returns it (X is asynchronous)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


PASSPHRASE = "correct horse battery staple"
TZ = ZoneInfo("UTC")


@pytest.fixture
def clock() -> FixedClock:
    # Wednesday 18 March 2026, 12:00 UTC.
    return FixedClock(datetime(2026, 3, 18, 12, 0, tzinfo=TZ))


@pytest.fixture
def services(tmp_path: Path, clock: FixedClock) -> Iterator[Services]:
    s = Services(tmp_path / "store", clock=clock, embedder=FakeEmbedder())
    s.create(PASSPHRASE, kdf=TEST_KDF)
    assert s.memory is not None
    s.memory.wait_ready(10)
    s.memory.searcher.tz = TZ
    yield s
    s.close()


@pytest.fixture
def memory(services: Services) -> MemoryService:
    assert services.memory is not None
    return services.memory

"""Issue 15's new-user check on a real X display: an xterm showing three lines of an invoice,
lying over Mnemo's own window, captured by the real grabber, X11 window context and OCR into a
real encrypted store. Left unchanged for ten minutes of grabs it is one memory; a line typed
into it updates that memory (a second version), not a new one; its text over Mnemo's window is
read while Mnemo's own text is not; a search for the invoice gives one hit.

Ten minutes are 120 grabs at the default 5 s interval, taken here back to back: what the
service does with an unchanged screen depends on the frames alone (the change detector finds
nothing, nothing is queued), not on the time between them."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from app.capture_config import SELF_APP
from app.services import Services
from app.window_context import X11WindowContext
from models.ocr import RapidOcrEngine
from tests.app.conftest import wait_for
from tests.app.test_capture_e2e import real_capture, settle

INVOICE = (
    "Invoice 4711 Harbour Cranes Ltd",
    "Amount due 1,284.50 EUR",
    "Contact accounts at harbour",
)
TYPED = "Paid on 12 March by transfer"
TEN_MINUTES_OF_GRABS = 600 // 5


@pytest.fixture(scope="module")
def ocr() -> RapidOcrEngine:
    engine = RapidOcrEngine(threads=1)
    engine.load()
    return engine


@pytest.fixture
def xterm(xvfb: str):  # type: ignore[no-untyped-def]
    """xterm() opens an xterm (DejaVu Sans Mono 13) at 120,90 printing the invoice, then
    echoing each line typed into it once (cat with the terminal's echo off)."""
    if shutil.which("xterm") is None or shutil.which("xdotool") is None:
        pytest.skip("xterm and xdotool are needed (apt-get install -y xterm xdotool)")
    script = "printf '%s\\n' " + " ".join(f"'{t}'" for t in INVOICE) + "; stty -echo; exec cat"
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        procs.append(_start(xvfb, script))

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)


def _start(xvfb: str, script: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["xterm", "-T", "Invoice - xterm", "-geometry", "60x8+120+90", "-fa", "DejaVu Sans Mono",
         "-fs", "13", "-bg", "white", "-fg", "black", "+cm", "-xrm", "XTerm*cursorBlink: false",
         "-e", "sh", "-c", script],
        env=dict(os.environ, DISPLAY=xvfb),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _xdotool(display: str, *args: str) -> str:
    out = subprocess.run(
        ["xdotool", *args], env=dict(os.environ, DISPLAY=display), capture_output=True,
        text=True, timeout=20, check=True,
    )  # fmt: skip
    return out.stdout.strip()


def _memories(services: Services) -> list[tuple[int, str]]:
    conn = services.store.reader()
    return [(r[0], r[1]) for r in conn.execute("SELECT id, text FROM memories ORDER BY id")]


def test_a_terminal_over_mnemo_is_one_memory_updated_by_a_typed_line(
    xvfb: str, open_window, xterm, services: Services, ocr: RapidOcrEngine, tmp_path: Path
) -> None:
    # Mnemo's own window (a process named as Mnemo names itself), under the terminal.
    open_window(
        "Mnemo", "900x500+40+40", colour="white", comm=SELF_APP,
        text="Mnemo own canary quillfeather|Search your memories",
    )  # fmt: skip
    settle(xvfb, ["Mnemo"])
    xterm()
    ctx = X11WindowContext(xvfb)
    try:
        assert wait_for(lambda: any(w.title == "Invoice - xterm" for w in ctx.windows()), 15)
        time.sleep(1.0)  # the shell prints the invoice
        stack = [w.title for w in ctx.windows()]
    finally:
        ctx.close()
    assert stack.index("Invoice - xterm") > stack.index("Mnemo"), stack  # the terminal on top
    capture = real_capture(services, xvfb, ocr)

    capture.run_headless(None)
    first = _memories(services)
    assert len(first) == 1, capture.stats.to_json()
    text = first[0][1]
    for line in INVOICE:  # read whole, over Mnemo's window
        assert line.lower() in text.lower(), (line, capture.stats.to_json())
    assert "quillfeather" not in text  # Mnemo's own text, where it shows, is not

    # Ten minutes unchanged: grabs, no change, no memory, no version.
    for _ in range(TEN_MINUTES_OF_GRABS - 1):
        capture.run_headless(None)
    assert _memories(services) == first
    assert capture.stats.changed == 1, capture.stats.to_json()

    # A line typed into the terminal updates its memory.
    wid = _xdotool(xvfb, "search", "--name", "Invoice - xterm").split()[0]
    _xdotool(xvfb, "windowfocus", "--sync", wid)
    _xdotool(xvfb, "type", "--delay", "20", TYPED + "\n")
    time.sleep(1.0)
    capture.run_headless(None)
    after = _memories(services)
    assert [m for m, _ in after] == [first[0][0]], after
    assert TYPED.lower() in after[0][1].lower()
    versions = services.store.reader().execute(
        "SELECT count(*) FROM memory_versions WHERE memory_id = ?", (first[0][0],)
    )
    assert versions.fetchone()[0] == 2
    assert services.memory is not None
    hits = services.memory.search("invoice harbour cranes").hits
    assert len(hits) == 1 and hits[0].id == first[0][0], hits
    shot_dir = os.environ.get("MNEMO_SHOT_DIR")
    if shot_dir:  # the screen as captured, to look at
        _screenshot(xvfb, Path(shot_dir) / "terminal-over-mnemo.png")


def _screenshot(display: str, out: Path) -> None:
    import mss
    from PIL import Image

    with mss.MSS(display=display) as s:
        shot = s.grab(s.monitors[0])
    Image.frombytes("RGB", shot.size, shot.rgb).save(out)

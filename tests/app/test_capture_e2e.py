"""The capture service end to end on a real X display: the real grabber, the real X11 window
context and real OCR into a real encrypted store. Text shown in a window is found by search
with its app and title; a static screen adds nothing; excluded windows (R20) and secrets (R19)
reach no row, no FTS entry, no stored image (decrypted and OCR'd) and no file."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from app.capture_service import CaptureService
from app.grabber import ScreenGrabber
from app.services import Services
from app.window_context import X11WindowContext
from models.ocr import RapidOcrEngine
from tests.app.conftest import wait_for
from tests.storehelp import cli_env

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ocr() -> RapidOcrEngine:
    engine = RapidOcrEngine(threads=1)
    engine.load()
    return engine


def real_capture(services: Services, display: str, ocr: RapidOcrEngine) -> CaptureService:
    return CaptureService(
        services,
        grabber_factory=lambda: ScreenGrabber(display, environ={"DISPLAY": display}),
        context_factory=lambda: X11WindowContext(display),
        ocr=ocr,
    )


def settle(display: str, titles: list[str]) -> None:
    ctx = X11WindowContext(display)
    try:
        assert wait_for(lambda: {t for t in titles} <= {w.title for w in ctx.windows()}, 10)
    finally:
        ctx.close()
    time.sleep(0.4)  # Tk paints its labels after mapping


def all_row_text(services: Services) -> str:
    conn = services.store.reader()
    parts = []
    for table in ("memories", "media", "memories_fts"):
        for row in conn.execute(f"SELECT * FROM {table}"):
            parts.append(repr(row))
    return "\n".join(parts)


def decrypted_images_text(services: Services, ocr: RapidOcrEngine) -> str:
    assert services.media is not None
    ids = [r[0] for r in services.store.reader().execute("SELECT id FROM media")]
    assert ids
    out = []
    for mid in ids:
        data = services.media.load_image(mid)
        assert data is not None
        out.extend(b.text for b in ocr.recognise(Image.open(io.BytesIO(data))))
    return "\n".join(out)


def raw_scan(root: Path, needles: list[bytes]) -> list[str]:
    hits = []
    for p in root.rglob("*"):
        if p.is_file():
            data = p.read_bytes()
            hits.extend(f"{p.name}:{n!r}" for n in needles if n in data)
    return hits


def test_text_in_a_window_is_found_by_search_and_a_static_screen_adds_nothing(
    xvfb: str, open_window, services: Services, ocr: RapidOcrEngine
) -> None:
    window = open_window(
        "Harbour logistics plan",
        "620x150+60+80",
        colour="white",
        text="Crane maintenance window Thursday",
    )
    settle(xvfb, ["Harbour logistics plan"])
    capture = real_capture(services, xvfb, ocr)
    capture.run_headless(None)
    assert services.memory is not None
    hits = services.memory.search("crane maintenance").hits
    assert hits, capture.stats.to_json()
    hit = hits[0]
    assert hit.title == "Harbour logistics plan"
    assert hit.app == window.comm()
    assert hit.media_id is not None
    rects = services.media.match_boxes(hit.id, ["crane"])  # type: ignore[union-attr]
    assert rects and 60 <= rects[0][0] <= 680 and 80 <= rects[0][1] <= 230
    count = services.memory.count()
    capture.run_headless(None)
    capture.run_headless(None)
    assert services.memory.count() == count
    assert capture.stats.changed == 1 and capture.stats.frames == 3


def test_excluded_windows_and_secrets_never_reach_rows_images_or_files(
    xvfb: str, open_window, services: Services, ocr: RapidOcrEngine
) -> None:
    open_window(
        "Billing details",
        "700x200+40+40",
        colour="white",
        text="Invoice for harbour cranes|Card 4111 1111 1111 1111|Key AKIAQ7ZJ4MXKD2P5RW3T",
    )
    open_window(
        "Passwords.kdbx - KeePassXC",
        "460x120+40+400",
        colour="white",
        comm="keepassxc",
        text="vault canary zebrafjord",
    )
    open_window(
        "Bank - Private Browsing",
        "460x120+620+400",
        colour="white",
        text="incognito canary walrusmoon",
    )
    settle(xvfb, ["Billing details", "Passwords.kdbx - KeePassXC", "Bank - Private Browsing"])
    capture = real_capture(services, xvfb, ocr)
    capture.run_headless(None)
    assert capture.stats.memories_added >= 1, capture.stats.to_json()
    assert capture.stats.redactions >= 2
    services.memory.save_index()  # type: ignore[union-attr]
    rows = all_row_text(services)
    pictures = decrypted_images_text(services, ocr)
    # Positive controls: the captured window is stored and legible in the decrypted image.
    assert "harbour cranes" in rows.lower()
    assert "harbour cranes" in pictures.lower()
    # Redacted (black) boxes do not make the memory look like hidden text: it stays usable.
    assert services.memory.search("harbour cranes").hits  # type: ignore[union-attr]
    canaries = ["zebrafjord", "walrusmoon", "4111", "AKIAQ7ZJ4MXKD2P5RW3T", "MXKD2P5"]
    for c in canaries:
        assert c.lower() not in rows.lower(), c
        assert c.lower() not in pictures.lower(), c
        fts = services.store.reader().execute(
            "SELECT count(*) FROM memories_fts WHERE memories_fts MATCH ?", ('"' + c + '"',)
        )
        assert fts.fetchone()[0] == 0, c
    assert raw_scan(services.data_dir, [c.encode() for c in canaries] + [b"harbour"]) == []


def test_cli_capture_once_json(xvfb: str, open_window, tmp_path: Path) -> None:
    open_window("Ledger window", "500x120+300+300", colour="white", text="Lighthouse budget")
    settle(xvfb, ["Ledger window"])
    env = dict(cli_env(tmp_path), DISPLAY=xvfb)
    data = tmp_path / "store"
    main = str(ROOT / "main.py")
    subprocess.run(
        [sys.executable, main, "--data-dir", str(data), "init", "--json"],
        env=env,
        check=True,
        capture_output=True,
    )
    out = subprocess.run(
        [sys.executable, main, "--data-dir", str(data), "capture", "--once", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["frames"] == 1 and doc["changed"] == 1
    assert doc["memories_added"] >= 1 and doc["media_bytes"] > 0
    assert set(doc) >= {"dropped", "redactions", "took_s"}

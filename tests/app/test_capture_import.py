"""`import --format screenshots`: a folder of existing screenshots through real OCR, redaction
and encrypted media into memories timed by the files; a corrupt image is named, not fatal."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from app.cli.capture import import_screenshots
from app.services import Services
from core.errors import BadInput

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


class Ctx:
    def __init__(self, services: Services) -> None:
        self._services = services

    def services(self) -> Services:
        return self._services


def screenshot(path: Path, lines: list[str], mtime: float) -> None:
    img = Image.new("RGB", (900, 60 + 50 * len(lines)), "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, 28) if Path(FONT).exists() else ImageFont.load_default(28)
    for i, line in enumerate(lines):
        draw.text((30, 30 + 50 * i), line, fill="black", font=font)
    img.save(path)
    os.utime(path, (mtime, mtime))


def test_a_folder_of_screenshots_becomes_memories_with_file_times(
    tmp_path: Path, services: Services
) -> None:
    folder = tmp_path / "shots"
    folder.mkdir()
    when = 1_700_000_000.0
    screenshot(folder / "a.png", ["Telescope mirror order", "Card 4111 1111 1111 1111"], when)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    (folder / "notes.txt").write_text("not an image")
    args = argparse.Namespace(path=str(folder), format="screenshots")
    result = import_screenshots(args, Ctx(services))
    by_name = {Path(f["path"]).name: f for f in result["files"]}
    assert set(by_name) == {"a.png", "broken.png"}
    assert "broken.png" in by_name["broken.png"]["error"]
    assert result["failed"] == 1
    assert by_name["a.png"]["imported"] == 1 and by_name["a.png"]["redactions"] == 1
    assert services.memory is not None
    (hit,) = services.memory.search("telescope").hits
    m = services.memory.get(hit.id)
    assert m is not None
    assert m.kind == "import:screenshots" and m.time == when and m.title == "a.png"
    assert "4111" not in m.text and m.media_id is not None
    assert m.status == "ok", m.reasons  # the blacked-out card is not "hidden text"
    # Importing again adds nothing (same file, same external ids).
    again = import_screenshots(args, Ctx(services))
    assert {Path(f["path"]).name: f.get("imported") for f in again["files"]}["a.png"] == 0


def test_a_single_corrupt_file_is_a_clear_error(tmp_path: Path, services: Services) -> None:
    bad = tmp_path / "shot.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    with pytest.raises(BadInput, match=r"shot\.jpg"):
        import_screenshots(argparse.Namespace(path=str(bad), format="screenshots"), Ctx(services))

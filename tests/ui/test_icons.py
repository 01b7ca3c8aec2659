"""Icons come from assets/icons (every state, every size), differ per state, and are drawn
in code when the files are missing."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtCore import QSize

from app import paths
from ui import icons

STATES = ("idle", "capturing", "paused", "excluded", "attention", "locked")


def _pixels(icon, size: int) -> bytes:  # type: ignore[no-untyped-def]
    image = icon.pixmap(QSize(size, size)).toImage()
    return bytes(image.constBits())


def test_every_icon_file_exists() -> None:
    folder = paths.assets_dir() / "icons"
    assert (folder / "mnemo.svg").is_file()
    for s in icons.APP_SIZES:
        assert (folder / f"mnemo-{s}.png").is_file()
    for state in STATES:
        assert (folder / f"tray-{state}.svg").is_file()
        for s in icons.TRAY_SIZES:
            assert (folder / f"tray-{state}-{s}.png").is_file()


def test_icons_load_from_files(qapp) -> None:  # type: ignore[no-untyped-def]
    app = icons.app_icon()
    assert {s.width() for s in app.availableSizes()} == set(icons.APP_SIZES)
    for state in STATES:
        assert icons._from_files(f"tray-{state}", icons.TRAY_SIZES) is not None
    # Each state looks different at the size panels use.
    looks = {_pixels(icons.tray_icon(state), 22) for state in STATES}
    assert len(looks) == len(STATES)
    assert _pixels(icons.tray_icon("no-such-state"), 22) == _pixels(icons.tray_icon("idle"), 22)


def test_drawn_fallback_without_files(
    qapp, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(paths, "assets_dir", lambda: tmp_path)
    assert icons._from_files("mnemo", icons.APP_SIZES) is None
    assert not icons.app_icon().isNull()
    for state in STATES:
        assert not icons.tray_icon(state).pixmap(22, 22).isNull()

"""Mnemo's icons: the app mark and one tray icon per state (capturing, paused, excluded,
attention, locked), loaded from assets/icons (made by packaging/make_icons.py); drawn in code
when those files are missing, so a broken install still shows something sensible."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QPainter, QPen, QPixmap

from app import paths

APP_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
TRAY_SIZES = (16, 22, 24, 32, 48, 64)

STATE_COLOURS = {
    "idle": "#3d6fd8",
    "capturing": "#1f9d55",
    "paused": "#8a94a6",
    "excluded": "#d98e04",
    "attention": "#d93025",
    "locked": "#4a5468",
}


def _mark(size: int, colour: str, badge: str | None = None) -> QPixmap:
    pm = QPixmap(size, size)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    r = QRectF(size * 0.06, size * 0.06, size * 0.88, size * 0.88)
    # A dark outline keeps the mark readable on light and dark panels alike.
    p.setPen(QPen(QColor("#10141d"), max(1.0, size / 24)))
    p.setBrush(QBrush(QColor(colour)))
    p.drawRoundedRect(r, size * 0.22, size * 0.22)
    p.setPen(QColor("white"))
    f = QFont("DejaVu Sans")
    f.setBold(True)
    f.setPixelSize(int(size * 0.58))
    p.setFont(f)
    p.drawText(r, Qt.AlignmentFlag.AlignCenter, "M")
    if badge:
        d = size * 0.42
        br = QRectF(size - d, size - d, d, d)
        p.setPen(QPen(QColor("#10141d"), max(1.0, size / 32)))
        p.setBrush(QBrush(QColor("white")))
        p.drawEllipse(br)
        p.setPen(QColor("#10141d"))
        f.setPixelSize(int(d * 0.7))
        p.setFont(f)
        p.drawText(br, Qt.AlignmentFlag.AlignCenter, badge)
    p.end()
    return pm


def _from_files(stem: str, sizes: tuple[int, ...]) -> QIcon | None:
    """The PNG files `<stem>-<size>.png`, or None when any is missing or unreadable."""
    folder = paths.assets_dir() / "icons"
    icon = QIcon()
    for s in sizes:
        pm = QPixmap(str(folder / f"{stem}-{s}.png"))
        if pm.isNull():
            return None
        icon.addPixmap(pm)
    return icon


def app_icon() -> QIcon:
    icon = _from_files("mnemo", APP_SIZES)
    if icon is not None:
        return icon
    icon = QIcon()
    for s in APP_SIZES:
        icon.addPixmap(_mark(s, STATE_COLOURS["idle"]))
    return icon


_BADGES = {"paused": "‖", "excluded": "–", "attention": "!", "locked": "•"}


def tray_icon(state: str) -> QIcon:
    if state not in STATE_COLOURS:
        state = "idle"
    icon = _from_files(f"tray-{state}", TRAY_SIZES)
    if icon is not None:
        return icon
    colour = STATE_COLOURS[state]
    icon = QIcon()
    for s in TRAY_SIZES:
        icon.addPixmap(_mark(s, colour, _BADGES.get(state)))
    return icon

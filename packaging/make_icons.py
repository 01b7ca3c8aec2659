"""Draw Mnemo's icons: the app icon and one tray icon per state, as SVG (the source) and PNG at
the standard sizes, plus mnemo.ico (Windows) and mnemo.icns (macOS) when Pillow can write them.

Run: QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/make_icons.py
The output is committed (assets/icons/, packaging/windows/, packaging/macos/); rerun after
changing the drawing below."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ICONS = ROOT / "assets" / "icons"

APP_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
TRAY_SIZES = (16, 22, 24, 32, 48, 64)

# Fill per tray state. Every icon has a dark outline and a white glyph, so it reads on light
# and on dark panels; the state is told twice (colour and badge shape) for colour-blind users.
STATE_COLOURS = {
    "idle": "#3d6fd8",
    "capturing": "#1f9d55",
    "paused": "#8a94a6",
    "excluded": "#d98e04",
    "attention": "#d93025",
    "locked": "#4a5468",
}
OUTLINE = "#10141d"

# The mark: a rounded square with an "M" drawn as one stroke (no font needed), on a 64 grid.
M_PATH = "M17 46 V19 L32 35 L47 19 V46"


def app_svg() -> str:
    return f"""<svg xmlns="http://www.w3.org/2000/svg" width="512" height="512" viewBox="0 0 64 64">
  <defs>
    <linearGradient id="bg" x1="0" y1="0" x2="0" y2="1">
      <stop offset="0" stop-color="#5a86ea"/>
      <stop offset="1" stop-color="#2b52b3"/>
    </linearGradient>
  </defs>
  <rect x="3" y="3" width="58" height="58" rx="14" fill="url(#bg)" stroke="{OUTLINE}"
        stroke-width="1.5"/>
  <rect x="5.5" y="5.5" width="53" height="53" rx="11.5" fill="none" stroke="#ffffff"
        stroke-opacity="0.25" stroke-width="1"/>
  <path d="{M_PATH}" fill="none" stroke="#ffffff" stroke-width="7"
        stroke-linecap="round" stroke-linejoin="round"/>
  <circle cx="32" cy="52" r="3.2" fill="#ffd166" stroke="{OUTLINE}" stroke-width="0.8"/>
</svg>
"""


def _badge(state: str) -> str:
    """A white disc at the bottom right with the state's symbol, drawn with paths."""
    disc = f'<circle cx="47" cy="47" r="15" fill="#ffffff" stroke="{OUTLINE}" stroke-width="3"/>'
    ink = OUTLINE
    symbol = {
        "capturing": f'<circle cx="47" cy="47" r="7" fill="{STATE_COLOURS["attention"]}"/>',
        "paused": f'<rect x="40" y="39" width="5" height="16" fill="{ink}"/>'
        f'<rect x="49" y="39" width="5" height="16" fill="{ink}"/>',
        "excluded": f'<circle cx="47" cy="47" r="8" fill="none" stroke="{ink}" stroke-width="3.5"/>'
        f'<path d="M41.5 52.5 L52.5 41.5" stroke="{ink}" stroke-width="3.5"/>',
        "attention": f'<rect x="44.5" y="37" width="5" height="12" rx="1.5" fill="{ink}"/>'
        f'<circle cx="47" cy="54" r="2.8" fill="{ink}"/>',
        "locked": f'<path d="M42 45 V42 a5 5 0 0 1 10 0 V45" fill="none" stroke="{ink}" '
        'stroke-width="3"/>'
        f'<rect x="39.5" y="44.5" width="15" height="11" rx="2" fill="{ink}"/>',
    }.get(state)
    return "" if symbol is None else disc + symbol


def tray_svg(state: str) -> str:
    colour = STATE_COLOURS[state]
    return f"""<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">
  <rect x="2.5" y="2.5" width="59" height="59" rx="13" fill="{colour}" stroke="{OUTLINE}"
        stroke-width="4"/>
  <path d="{M_PATH}" fill="none" stroke="#ffffff" stroke-width="8.5"
        stroke-linecap="round" stroke-linejoin="round"/>
  {_badge(state)}
</svg>
"""


def render_png(svg: str, size: int, out: Path) -> None:
    from PySide6.QtCore import QByteArray, QRectF, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(QByteArray(svg.encode("utf-8")))
    if not renderer.isValid():
        raise SystemExit(f"invalid SVG for {out.name}")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    if not image.save(str(out), "PNG"):
        raise SystemExit(f"could not write {out}")


def write_platform_icons() -> list[Path]:
    """mnemo.ico and mnemo.icns from the PNGs, with Pillow (skipped if it cannot)."""
    written: list[Path] = []
    try:
        from PIL import Image
    except ImportError:
        print("make_icons: Pillow missing; skipping .ico/.icns", file=sys.stderr)
        return written
    big = Image.open(ICONS / "mnemo-256.png")
    ico = ROOT / "packaging" / "windows" / "mnemo.ico"
    ico.parent.mkdir(parents=True, exist_ok=True)
    big.save(ico, sizes=[(s, s) for s in (16, 24, 32, 48, 64, 128, 256)])
    written.append(ico)
    icns = ROOT / "packaging" / "macos" / "mnemo.icns"
    icns.parent.mkdir(parents=True, exist_ok=True)
    try:
        Image.open(ICONS / "mnemo-512.png").save(icns)
        written.append(icns)
    except Exception as exc:  # Pillow's ICNS writer is not available everywhere
        print(
            f"make_icons: could not write .icns ({exc}); see packaging/README.md", file=sys.stderr
        )
    return written


def main() -> int:
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841
    ICONS.mkdir(parents=True, exist_ok=True)
    svg = app_svg()
    (ICONS / "mnemo.svg").write_text(svg, encoding="utf-8")
    for size in APP_SIZES:
        render_png(svg, size, ICONS / f"mnemo-{size}.png")
    for state in STATE_COLOURS:
        tsvg = tray_svg(state)
        (ICONS / f"tray-{state}.svg").write_text(tsvg, encoding="utf-8")
        for size in TRAY_SIZES:
            render_png(tsvg, size, ICONS / f"tray-{state}-{size}.png")
    extra = write_platform_icons()
    print(
        f"make_icons: wrote {len(list(ICONS.iterdir()))} files in {ICONS}"
        + "".join(f", {p.relative_to(ROOT)}" for p in extra)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

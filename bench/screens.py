"""Screens of several kinds rendered as images, with the text of every line: mail, chat, code
editor, spreadsheet, calendar, document and terminal; dense and sparse; light and dark. Used by
the capture completeness test (each shown full-screen on a virtual display and captured through
the real pipeline) and `bench/capture_screens.py`. Text is made from a seeded generator, so a
run on other seeds is held-out data of the same kind."""

from __future__ import annotations

import difflib
import random
from dataclasses import dataclass, field
from itertools import pairwise

from PIL import Image, ImageDraw, ImageFont

SANS = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
MONO = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"


def _words(text: str) -> list[str]:
    return text.split()


WORDS = _words(
    "invoice meeting budget harbour crane ledger vendor contract release roadmap review "
    "quarterly summary customer schedule deadline travel expense hiring design report status "
    "update draft agenda minutes project planning support account payment shipment warehouse "
    "inventory forecast marketing campaign analysis security backup migration database server"
)
NAMES = _words("Alice Bruno Chen Dana Emeka Farah Goran Hana Ivan Julia Kenji Lena")
THEMES = {
    "light": {"bg": (255, 255, 255), "fg": (20, 20, 20), "panel": (236, 238, 242),
              "accent": (30, 90, 200)},
    "dark": {"bg": (30, 32, 36), "fg": (225, 228, 232), "panel": (44, 47, 53),
             "accent": (120, 170, 255)},
}  # fmt: skip


@dataclass(slots=True)
class Screen:
    kind: str
    theme: str
    density: str
    image: Image.Image
    lines: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"{self.kind.title()} - {self.theme} {self.density}"


def _phrase(rng: random.Random, lo: int, hi: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi)))


class _Canvas:
    def __init__(self, size: tuple[int, int], theme: str) -> None:
        self.t = THEMES[theme]
        self.image = Image.new("RGB", size, self.t["bg"])
        self.draw = ImageDraw.Draw(self.image)
        self.lines: list[str] = []

    def text(self, xy: tuple[int, int], text: str, size: int = 15, mono: bool = False,
             colour: str = "fg") -> None:  # fmt: skip
        font = ImageFont.truetype(MONO if mono else SANS, size)
        self.draw.text(xy, text, fill=self.t[colour], font=font)
        self.lines.append(text)

    def panel(self, box: tuple[int, int, int, int]) -> None:
        self.draw.rectangle(box, fill=self.t["panel"])


def render(kind: str, theme: str, density: str, size: tuple[int, int], seed: int = 0) -> Screen:
    rng = random.Random(f"{kind}-{theme}-{density}-{seed}")
    c = _Canvas(size, theme)
    w, h = size
    dense = density == "dense"
    if kind == "mail":
        c.panel((0, 0, 300, h))
        for i in range(12 if dense else 5):
            c.text((16, 20 + 52 * i), f"{rng.choice(NAMES)} {_phrase(rng, 1, 2)}", 14)
        c.text((330, 24), f"Subject: {_phrase(rng, 3, 5)}", 18, colour="accent")
        c.text((330, 56), f"From: {rng.choice(NAMES).lower()}@example.org", 14)
        for i in range(16 if dense else 5):
            c.text((330, 100 + 30 * i), _phrase(rng, 6, 10).capitalize(), 15)
    elif kind == "chat":
        for i in range(14 if dense else 6):
            x = 40 if i % 2 == 0 else w // 2 - 80
            c.panel((x - 10, 16 + 48 * i, x + 560, 52 + 48 * i))
            c.text((x, 24 + 48 * i), f"{rng.choice(NAMES)}: {_phrase(rng, 3, 7)}", 15)
    elif kind == "code":
        c.panel((0, 0, 220, h))
        for i in range(6):
            c.text((14, 20 + 30 * i), f"{rng.choice(WORDS)}_{rng.choice(WORDS)}.py", 13, True)
        for i in range(24 if dense else 10):
            name, arg = rng.choice(WORDS), rng.choice(WORDS)
            indent = "    " * (i % 3)
            line = (
                f"{indent}def {name}_{i}({arg}, {rng.choice(WORDS)}):"
                if i % 3 == 0
                else (f"{indent}return {arg}.{rng.choice(WORDS)}({rng.randint(1, 99)})")
            )
            c.text((250, 20 + 28 * i), line, 15, True)
    elif kind == "sheet":
        cols = 6 if dense else 4
        rows = 20 if dense else 8
        for r in range(rows):
            for k in range(cols):
                cell = rng.choice(WORDS) if k == 0 or r == 0 else f"{rng.randint(10, 99999)}"
                c.draw.rectangle((20 + 190 * k, 20 + 32 * r, 210 + 190 * k, 52 + 32 * r),
                                 outline=c.t["panel"])  # fmt: skip
                c.text((28 + 190 * k, 26 + 32 * r), cell, 15)
    elif kind == "calendar":
        days = _words("Monday Tuesday Wednesday Thursday Friday")
        for k, d in enumerate(days):
            c.text((30 + 245 * k, 20), d, 16, colour="accent")
            for j in range(4 if dense else 2):
                y = 70 + 150 * j + 30 * (k % 2)
                c.panel((24 + 245 * k, y - 6, 250 + 245 * k, y + 40))
                c.text((30 + 245 * k, y), f"{9 + j * 2}:00 {rng.choice(WORDS)}", 14)
                c.text((30 + 245 * k, y + 20), rng.choice(WORDS), 13)
    elif kind == "document":
        c.text((120, 30), _phrase(rng, 3, 5).title(), 24)
        for i in range(22 if dense else 8):
            c.text((120, 90 + 30 * i), _phrase(rng, 8, 13).capitalize() + ".", 16)
    elif kind == "terminal":
        for i in range(24 if dense else 7):
            if i % 3 == 0:
                line = f"user@host:~/{rng.choice(WORDS)}$ {rng.choice(['ls', 'git log', 'make'])}"
            else:
                line = f"{rng.choice(WORDS)}  {rng.randint(100, 99999)}  {_phrase(rng, 2, 4)}"
            c.text((16, 14 + 30 * i), line, 15, True)
    else:
        raise ValueError(kind)
    return Screen(kind, theme, density, c.image, c.lines)


KINDS = ("mail", "chat", "code", "sheet", "calendar", "document", "terminal")


def all_screens(size: tuple[int, int], seed: int = 0) -> list[Screen]:
    """Every kind once, themes and densities alternating so each occurs, plus a dark dense
    and a light sparse extra."""
    out = []
    for i, kind in enumerate(KINDS):
        theme = "light" if i % 2 == 0 else "dark"
        density = "dense" if i % 3 != 1 else "sparse"
        out.append(render(kind, theme, density, size, seed))
    out.append(render("mail", "dark", "dense", size, seed))
    out.append(render("terminal", "light", "sparse", size, seed))
    return out


def closest(line: str, stored: list[str]) -> tuple[int, str]:
    """(characters of `line` not read, stored line) for the stored line, or run of two, that
    holds most of `line` in order. A stored line may hold more than `line` (OCR joins the cells
    of a table row into one line): only what is missing or misread counts."""
    low = line.lower()
    candidates = [s.lower() for s in stored + [a + " " + b for a, b in pairwise(stored)]]
    if any(low in c for c in candidates):
        return 0, line

    def matched(c: str) -> int:
        sm = difflib.SequenceMatcher(None, low, c, autojunk=False)
        return sum(b.size for b in sm.get_matching_blocks())

    best = max(candidates, key=matched, default="")
    return len(low) - matched(best), best

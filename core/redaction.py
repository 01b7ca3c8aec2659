"""Secrets redaction for text before it is stored, indexed or embedded (R19): payment cards,
IBANs, national ids, API keys and tokens, private keys and "password:" fields. Checksums come
from python-stdnum; anything whose checksum fails, and ordinary prose, is left alone."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from itertools import pairwise
from typing import Any, NamedTuple

from stdnum import iban as std_iban
from stdnum import luhn
from stdnum.de import idnr as de_idnr
from stdnum.es import dni as es_dni
from stdnum.es import nie as es_nie
from stdnum.fr import nir as fr_nir
from stdnum.it import codicefiscale as it_cf
from stdnum.nl import bsn as nl_bsn
from stdnum.us import ssn as us_ssn

from core.capture.geometry import Rect
from core.interfaces import OcrBox

CARD = "card"
IBAN = "iban"
NATIONAL_ID = "national_id"
API_KEY = "api_key"
PRIVATE_KEY = "private_key"
PASSWORD = "password"
CATEGORIES = (CARD, IBAN, NATIONAL_ID, API_KEY, PRIVATE_KEY, PASSWORD)


@dataclass(frozen=True, slots=True)
class RedactionSettings:
    """One switch per category; all on by default (the settings panel shows these)."""

    card: bool = True
    iban: bool = True
    national_id: bool = True
    api_key: bool = True
    private_key: bool = True
    password: bool = True

    @classmethod
    def from_settings(cls, get: Callable[[str], Any]) -> RedactionSettings:
        """From the settings store's getter ("privacy.redact_cards", ... in core.settings)."""
        return cls(
            card=bool(get("privacy.redact_cards")),
            iban=bool(get("privacy.redact_ibans")),
            national_id=bool(get("privacy.redact_national_ids")),
            api_key=bool(get("privacy.redact_api_keys")),
            private_key=bool(get("privacy.redact_private_keys")),
            password=bool(get("privacy.redact_passwords")),
        )

    def enabled(self) -> tuple[str, ...]:
        return tuple(f.name for f in fields(self) if getattr(self, f.name))


def marker(category: str) -> str:
    return f"[redacted {category.replace('_', ' ')}]"


class Span(NamedTuple):
    start: int  # in the original text
    end: int
    category: str


@dataclass(slots=True)
class Redacted:
    text: str
    spans: list[Span]  # positions in the original text
    counts: dict[str, int]  # matches per category

    @property
    def changed(self) -> bool:
        return bool(self.spans)


# ---- payment cards -----------------------------------------------------------------------

# 13-19 digits, optionally grouped by single spaces or dashes as cards are printed.
_CARD = re.compile(r"(?<![\d.,/-])\d(?:[ -]?\d){12,18}(?![\d]|[.,/-]\d)")
# Issuer prefixes (Visa, Mastercard, Amex, Discover, Diners, JCB, UnionPay, Maestro, Mir):
# with the Luhn check, ordinary 16-digit order numbers rarely pass both.
_CARD_PREFIX = re.compile(r"^(?:4|5[0-9]|2[2-7]|3[0-9]|6[0-9]|220[0-4])")


def _cards(text: str) -> Iterator[tuple[int, int]]:
    for m in _CARD.finditer(text):
        raw = m.group()
        digits = re.sub(r"[ -]", "", raw)
        if not 13 <= len(digits) <= 19 or not _CARD_PREFIX.match(digits):
            continue
        groups = re.split(r"[ -]", raw)
        # Grouped numbers must look like a card (groups of 4, or Amex 4-6-5), not a list of
        # short numbers that happen to sit side by side.
        if len(groups) > 1 and not (
            all(len(g) == 4 for g in groups[:-1]) or [len(g) for g in groups] == [4, 6, 5]
        ):
            continue
        if luhn.is_valid(digits) and len(set(digits)) > 1:
            yield m.start(), m.end()


# ---- IBAN --------------------------------------------------------------------------------

_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")


def _ibans(text: str) -> Iterator[tuple[int, int]]:
    pos = 0
    while True:
        m = _IBAN.search(text, pos)
        if not m:
            return
        raw = m.group()
        # The pattern is greedy and may run into the next word ("… 00 BIC"): keep the longest
        # prefix that ends on a character boundary and validates.
        found = None
        for end in range(len(raw), 14, -1):
            if end < len(raw) and raw[end] != " ":
                continue
            if std_iban.is_valid(raw[:end]):
                found = end
                break
        if found is None:
            pos = m.start() + 1
            continue
        yield m.start(), m.start() + found
        pos = m.start() + found


# ---- national ids ------------------------------------------------------------------------

_SSN = re.compile(r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])")
_DNI = re.compile(r"(?<![\w-])\d{8}-?[A-Z](?!\w)")
_NIE = re.compile(r"(?<![\w-])[XYZ]-?\d{7}-?[A-Z](?!\w)")
_NIR = re.compile(r"(?<![\d])[12] ?\d{2} ?\d{2} ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}(?!\d)")
_CF = re.compile(r"(?<![\w])[A-Z]{6}\d{2}[A-Z]\d{2}[A-Z]\d{3}[A-Z](?!\w)")
# Numbers with a weak check (about 1 in 10 random numbers passes): only next to their label.
_LABELLED_ID = re.compile(
    r"(?i)\b(?P<label>bsn|burgerservicenummer|steuer-?id|steueridentifikationsnummer|"
    r"identifikationsnummer|idnr|ssn|social security(?: number| no\.?)?)\b\W{0,4}"
    r"(?P<value>\d[\d .-]{7,14}\d)"
)


def _national_ids(text: str) -> Iterator[tuple[int, int]]:
    simple: list[tuple[re.Pattern[str], Callable[[str], bool]]] = [
        (_SSN, us_ssn.is_valid),
        (_DNI, es_dni.is_valid),
        (_NIE, es_nie.is_valid),
        (_NIR, fr_nir.is_valid),
        (_CF, it_cf.is_valid),
    ]
    for pattern, valid in simple:
        for m in pattern.finditer(text):
            if valid(m.group()):
                yield m.start(), m.end()
    for m in _LABELLED_ID.finditer(text):
        value = m.group("value")
        digits = re.sub(r"\D", "", value)
        if (
            nl_bsn.is_valid(digits)
            or de_idnr.is_valid(digits)
            or (len(digits) == 9 and us_ssn.is_valid(digits))
        ):
            yield m.start("value"), m.end("value")


# ---- API keys and tokens -----------------------------------------------------------------

_API_KEYS = re.compile(
    "|".join(
        (
            r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b",  # AWS access key id
            r"\bgh[pousr]_[A-Za-z0-9]{36,255}\b",  # GitHub tokens
            r"\bgithub_pat_[A-Za-z0-9_]{22,255}\b",  # GitHub fine-grained token
            r"\bglpat-[A-Za-z0-9_-]{20,}\b",  # GitLab
            r"\bxox[abposre]-[A-Za-z0-9-]{10,}\b",  # Slack tokens
            r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]{20,}",  # Slack webhook
            r"\bsk-(?:proj-|svcacct-|admin-|ant-[a-z0-9]+-)?(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{20,}",
            r"\bAIza[0-9A-Za-z_-]{35}\b",  # Google API key
            r"\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}\b",  # Stripe secret keys
            r"\bhf_[A-Za-z0-9]{30,}\b",  # Hugging Face
            r"\bnpm_[A-Za-z0-9]{36}\b",  # npm
            r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{10,}",  # JWT
        )
    )
)
# "api_key = …", "client_secret: …", "aws_secret_access_key=…": the value after the label.
_LABELLED_SECRET = re.compile(
    r"(?i)\b(?:api[_ -]?key|api[_ -]?secret|secret[_ -]?key|access[_ -]?token|auth[_ -]?token|"
    r"bearer|client[_ -]?secret|aws_secret_access_key|private[_ -]?token)\b[\"']?\s*[:=]?\s*"
    r"[\"']?(?P<value>[A-Za-z0-9_\-+/=.]{16,})"
)


def _api_keys(text: str) -> Iterator[tuple[int, int]]:
    for m in _API_KEYS.finditer(text):
        yield m.start(), m.end()
    for m in _LABELLED_SECRET.finditer(text):
        value = m.group("value")
        # A secret mixes letters and digits; "api_key: see the documentation" is prose.
        if re.search(r"\d", value) and re.search(r"[A-Za-z]", value):
            yield m.start("value"), m.end("value")


# ---- private keys ------------------------------------------------------------------------

_PRIVATE_KEY = re.compile(
    r"-{3,}\s*BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?\s*-{3,}"
    r"(?:.*?-{3,}\s*END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?\s*-{3,}|.*\Z)",
    re.DOTALL,
)
_PUTTY_KEY = re.compile(r"PuTTY-User-Key-File-\d+:.*?(?:Private-MAC: \S+|\Z)", re.DOTALL)


def _private_keys(text: str) -> Iterator[tuple[int, int]]:
    # A block cut off by the edge of an OCR region is redacted to the end of the text.
    for pattern in (_PRIVATE_KEY, _PUTTY_KEY):
        for m in pattern.finditer(text):
            yield m.start(), m.end()


# ---- passwords ---------------------------------------------------------------------------

_PASSWORD = re.compile(
    r"(?i)(?<![\w])(?:password|passwort|kennwort|mot de passe|mdp|contrase(?:ñ|n)a|senha|"
    r"wachtwoord|has(?:ł|l)o|пароль|passphrase|passcode|passwd|pwd|pin code|pin-code)"
    r"[ \t]*[:=][ \t]*(?P<value>[^\n]{1,200})"
)


def _passwords(text: str) -> Iterator[tuple[int, int]]:
    # The rest of the line after the label: passphrases may hold spaces.
    for m in _PASSWORD.finditer(text):
        value = m.group("value").rstrip()
        if value.strip():
            start = m.start("value") + (len(value) - len(value.lstrip()))
            yield start, m.start("value") + len(value)


_FINDERS: dict[str, Callable[[str], Iterator[tuple[int, int]]]] = {
    PRIVATE_KEY: _private_keys,
    API_KEY: _api_keys,
    CARD: _cards,
    IBAN: _ibans,
    NATIONAL_ID: _national_ids,
    PASSWORD: _passwords,
}


def find_secrets(text: str, settings: RedactionSettings | None = None) -> list[Span]:
    """Non-overlapping secret spans in `text`, in order (earlier categories win overlaps)."""
    settings = settings or RedactionSettings()
    found: list[Span] = []
    for category in _FINDERS:
        if not getattr(settings, category):
            continue
        for start, end in _FINDERS[category](text):
            if start < end:
                found.append(Span(start, end, category))
    # Merge overlaps: keep the first-found category, extend to the union.
    found.sort(key=lambda s: (s.start, -(s.end - s.start)))
    spans: list[Span] = []
    for s in found:
        if spans and s.start < spans[-1].end:
            last = spans[-1]
            spans[-1] = Span(last.start, max(last.end, s.end), last.category)
        else:
            spans.append(s)
    return spans


def redact(text: str, settings: RedactionSettings | None = None) -> Redacted:
    spans = find_secrets(text, settings)
    if not spans:
        return Redacted(text, [], {})
    out: list[str] = []
    pos = 0
    for s in spans:
        out.append(text[pos : s.start])
        out.append(marker(s.category))
        pos = s.end
    out.append(text[pos:])
    return Redacted("".join(out), spans, dict(Counter(s.category for s in spans)))


class RedactedBoxes(NamedTuple):
    boxes: list[OcrBox]  # boxes with secrets replaced; boxes holding only the rest dropped
    rects: list[Rect]  # boxes (image px) to black out in the stored image
    counts: dict[str, int]


def reading_order(boxes: Sequence[OcrBox]) -> list[list[int]]:
    """Indices of boxes grouped into text lines (vertical overlap), each left to right; a wide
    horizontal gap starts a new line so separate columns are not read as one line."""
    order = sorted(range(len(boxes)), key=lambda i: (boxes[i].y + boxes[i].h / 2, boxes[i].x))
    lines: list[list[int]] = []
    for i in order:
        b = boxes[i]
        mid = b.y + b.h / 2
        for line in lines:
            ref = boxes[line[0]]
            if ref.y <= mid <= ref.y + ref.h:
                line.append(i)
                break
        else:
            lines.append([i])
    out: list[list[int]] = []
    for line in lines:
        line.sort(key=lambda i: boxes[i].x)
        current = [line[0]]
        for prev, i in pairwise(line):
            gap = boxes[i].x - (boxes[prev].x + boxes[prev].w)
            if gap > 3 * max(boxes[prev].h, boxes[i].h):
                out.append(current)
                current = []
            current.append(i)
        out.append(current)
    return out


def redact_boxes(
    boxes: Sequence[OcrBox], settings: RedactionSettings | None = None
) -> RedactedBoxes:
    """Redact OCR boxes as text lines, so a secret split over boxes ("Password:" | "hunter2",
    a card number in four groups) is still found. Every box touching a secret is blacked out
    whole; the first keeps the text around the secret with the marker in its place."""
    pieces: list[str] = []
    box_spans: dict[int, tuple[int, int]] = {}
    pos = 0
    for line in reading_order(boxes):
        for k, i in enumerate(line):
            if k:
                pieces.append(" ")
                pos += 1
            box_spans[i] = (pos, pos + len(boxes[i].text))
            pieces.append(boxes[i].text)
            pos += len(boxes[i].text)
        pieces.append("\n")
        pos += 1
    joined = "".join(pieces)
    spans = find_secrets(joined, settings)
    if not spans:
        return RedactedBoxes([OcrBox(b.x, b.y, b.w, b.h, b.text, b.score) for b in boxes], [], {})
    out: list[OcrBox] = []
    rects: list[Rect] = []
    marked: set[int] = set()  # secrets whose marker was already written into a box
    for i, b in enumerate(boxes):
        bs, be = box_spans[i]
        touching = [(k, s) for k, s in enumerate(spans) if s.start < be and bs < s.end]
        if not touching:
            out.append(OcrBox(b.x, b.y, b.w, b.h, b.text, b.score))
            continue
        rects.append(Rect(b.x, b.y, b.w, b.h))
        text_parts: list[str] = []
        cursor = bs
        for k, s in touching:
            text_parts.append(joined[cursor : max(cursor, s.start)])
            if k not in marked:
                text_parts.append(marker(s.category))
                marked.add(k)
            cursor = max(cursor, min(s.end, be))
        text_parts.append(joined[cursor:be])
        new_text = " ".join(p.strip() for p in text_parts if p.strip())
        if new_text:
            out.append(OcrBox(b.x, b.y, b.w, b.h, new_text, b.score))
    return RedactedBoxes(out, rects, dict(Counter(s.category for s in spans)))

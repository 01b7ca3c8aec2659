"""WhatsApp chat export (`.txt`, or the .zip with `_chat.txt`): Android and iOS layouts, 12/24 h,
day- or month-first dates (decided per file), multi-line messages, system lines, media
placeholders. Times are local wall-clock times without zone, converted with `Options.tz`."""

from __future__ import annotations

import codecs
import io
import posixpath
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from core.importers.base import (
    Context,
    Format,
    GuardedStream,
    Head,
    Source,
    local_to_utc,
    sniffed_member,
    valid_epoch,
)
from core.types import ImportedMessage

NAME = "whatsapp"

# Direction marks and isolates iOS/Android put around names and times; BOM.
_MARKS_RE = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_SPACES_RE = re.compile("[\u202f\u00a0\u2009\u2007]")
_DATE = r"(?P<d1>\d{1,4})[./-](?P<d2>\d{1,2})[./-](?P<d3>\d{1,4})\.?"
_TIME = (
    r"(?P<h>\d{1,2})[:.](?P<mi>\d{2})(?:[:.](?P<s>\d{2}))?"
    r"(?:\s?(?P<ampm>[aApP])\.?\s?[mM]\.?)?"
)
ANDROID = re.compile(rf"{_DATE},?\s{_TIME}\s[-–]\s(?P<rest>.*)")
IOS = re.compile(rf"\[{_DATE},?\s{_TIME}\]\s(?P<rest>.*)")
_AUTHOR = re.compile(r"(?P<author>[^:\n]{1,80}?): (?P<text>.*)", re.S)
_MEDIA_LINE = re.compile(
    r"<media omitted>"
    r"|(?:image|video|audio|sticker|gif|document|contact card|voice message) omitted"
    r"|.+ • .*document omitted"  # iOS: "Report.pdf • 3 pages document omitted"
    r"|<attached: [^>]*>"
    r"|[^\n]+\.\w{1,5} \(file attached\)"  # Android: "IMG-2023…-WA0001.jpg (file attached)"
    r"|<view once (?:image|video|voice message) omitted>",
    re.I,
)
_DELETED = re.compile(r"(?:this message was deleted|you deleted this message)\.?", re.I)
_EDITED = re.compile(r"\s*<this message was edited>\s*$", re.I)
_SYSTEM_TEXT = re.compile(r"(?:missed (?:voice|video|group voice|group video) call.*)", re.I)


def _strip_marks(line: str) -> str:
    return line if line.isascii() else _MARKS_RE.sub("", line)


def _normalise(line: str) -> str:
    return line if line.isascii() else _SPACES_RE.sub(" ", _MARKS_RE.sub("", line))


def match_header(line: str) -> re.Match[str] | None:
    norm = _normalise(line).lstrip()
    return IOS.fullmatch(norm) or ANDROID.fullmatch(norm)


def looks_like(head: Head) -> bool:
    return any(match_header(line) for line in head.first_lines(5))


def zip_member(zf: zipfile.ZipFile) -> str | None:
    candidates = [n for n in zf.namelist() if n.lower().endswith(".txt")]
    candidates.sort(key=lambda n: (posixpath.basename(n) != "_chat.txt", n))
    return sniffed_member(zf, candidates, looks_like)


def conversation_name(source: Source) -> str:
    """'WhatsApp Chat with Alice.txt' -> 'Alice'; iOS '_chat.txt' in 'WhatsApp Chat - Alice.zip'."""
    member = posixpath.basename(source.member) if source.member else None
    if member:
        stem = Path(member).stem if member != "_chat.txt" else source.path.stem
    else:
        # An unzipped iOS export: "WhatsApp Chat - Family/_chat.txt".
        path = source.path
        stem = path.parent.name if path.name == "_chat.txt" and path.parent.name else path.stem
    m = re.match(r"WhatsApp Chat (?:with|-|–) (.+)", stem, re.I)
    return (m.group(1) if m else stem).strip() or stem


def _lines(fh: GuardedStream, ctx: Context) -> Iterator[tuple[int, str | None]]:
    """(line number, text) with BOM handling; text is None for a line that is not UTF-8
    (or absurdly long)."""
    first = fh.read(2)
    if first in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        encoding = "utf-16-le" if first == codecs.BOM_UTF16_LE else "utf-16-be"
        wrapper = io.TextIOWrapper(io.BufferedReader(fh), encoding=encoding)
        try:
            for n, line in enumerate(wrapper, 1):
                yield n, line.rstrip("\r\n")
        except UnicodeDecodeError as exc:
            raise ctx.error("is not valid UTF-16 text") from exc
        return
    fh.unread(first)
    for n, raw in enumerate(fh.lines(), 1):
        if raw is None:
            yield n, None
            continue
        if n == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[3:]
        try:
            yield n, raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            yield n, None


@dataclass
class _Pending:
    line: int
    time: float
    stamp: str  # the header's date and time as written, for the stable id
    author: str | None
    lines: list[str] = field(default_factory=list)
    lrm: bool = False  # iOS marks system notices and media with a leading U+200E


def _date_order(source: Source, ctx: Context) -> str:
    """'dmy', 'mdy' or 'ymd' for this file: the first date with a part over 12 decides;
    none -> day-first (the commonest outside the US), unless told otherwise."""
    if ctx.options.dayfirst is not None:
        return "dmy" if ctx.options.dayfirst else "mdy"
    with source.open() as fh:
        for _n, line in _lines(fh, ctx):
            if line is None:
                continue
            m = match_header(line)
            if not m:
                continue
            d1, d2 = m.group("d1"), m.group("d2")
            if len(d1) == 4:
                return "ymd"
            if int(d1) > 12:
                return "dmy"
            if int(d2) > 12:
                return "mdy"
    return "dmy"


def _header_time(m: re.Match[str], order: str, ctx: Context) -> float | None:
    d1, d2, d3 = int(m.group("d1")), int(m.group("d2")), int(m.group("d3"))
    if order == "ymd":
        year, month, day = d1, d2, d3
    elif order == "mdy":
        month, day, year = d1, d2, d3
    else:
        day, month, year = d1, d2, d3
    if year < 100:
        year += 2000
    hour, minute = int(m.group("h")), int(m.group("mi"))
    second = int(m.group("s") or 0)
    ampm = m.group("ampm")
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm in "pP" else 0)
    try:
        naive = datetime(year, month, day, hour, minute, second)
        return valid_epoch(local_to_utc(naive, ctx.options.tz))
    except (ValueError, OverflowError, OSError):
        return None


def read(source: Source, ctx: Context) -> Iterator[ImportedMessage]:
    order = _date_order(source, ctx)
    conversation = ctx.options.conversation or conversation_name(source)
    pending: _Pending | None = None
    seen_header = False
    with source.open() as fh:
        for n, line in _lines(fh, ctx):
            if line is None:
                ctx.reject(f"line {n}", "not valid UTF-8 text (or far too long)")
                continue
            m = match_header(line)
            if m is None:
                if pending is not None:
                    pending.lines.append(_strip_marks(line))
                elif not seen_header and n > 200:
                    break  # not a WhatsApp file; refused below
                elif line.strip():
                    ctx.reject(f"line {n}", "text outside any message (no date before it)")
                continue
            seen_header = True
            if pending is not None:
                yield from _emit(pending, conversation, ctx)
                pending = None
            t = _header_time(m, order, ctx)
            if t is None:
                ctx.reject(f"line {n}", "the date or time is not valid")
                continue
            rest = m.group("rest")
            am = _AUTHOR.fullmatch(rest)
            author = None
            text = rest
            if am and not any(q in am.group("author") for q in '"“”«»'):
                author = am.group("author").strip().lstrip("~").strip() or None
                text = am.group("text")
            stamp = m.group(0)[: m.start("rest")].strip("[]- –")
            pending = _Pending(n, t, stamp, author, [text], lrm=": \u200e" in line)
        if pending is not None:
            yield from _emit(pending, conversation, ctx)
    if not seen_header:
        raise ctx.error(
            "is not a WhatsApp export: no line starts with a date",
            "Choose the .txt or .zip made by WhatsApp's 'Export chat'.",
        )


def _emit(p: _Pending, conversation: str, ctx: Context) -> Iterator[ImportedMessage]:
    if p.author is None:
        ctx.skip("system line")
        return
    lines = [_EDITED.sub("", ln) for ln in p.lines]
    kept = [ln for ln in lines if not _MEDIA_LINE.fullmatch(ln.strip())]
    text = "\n".join(kept).strip()
    if not text:
        ctx.skip(
            "media placeholder" if lines and any(s.strip() for s in lines) else "empty message"
        )
        return
    if _DELETED.fullmatch(text):
        ctx.skip("deleted message")
        return
    if (p.lrm and len(kept) == len(lines)) or _SYSTEM_TEXT.fullmatch(text):
        ctx.skip("system line")
        return
    yield ImportedMessage(
        external_id=ctx.ids.make(conversation, p.stamp, p.author, text),
        time=p.time,
        author=p.author,
        text=text.replace("\x00", ""),
        conversation=conversation,
        role=None,
    )


FORMAT = Format(
    name=NAME,
    description="WhatsApp chat export (.txt or the .zip)",
    read=read,
    looks_like=looks_like,
    zip_member=zip_member,
)

"""JSONL: one message per line, `{"id", "time", "speaker", "text", "conversation"}` (DESIGN.md).
Strict by default: one bad line refuses the whole file, found before any message is given out."""

from __future__ import annotations

import json
import math
import posixpath
import zipfile
from collections.abc import Iterator
from typing import Any

from core.importers.base import Context, Format, Head, Source, clean_text, iso_to_epoch
from core.types import ImportedMessage

NAME = "jsonl"


def looks_like(head: Head) -> bool:
    lines = head.first_lines(2)
    if not lines or not lines[0].lstrip().startswith("{"):
        return False
    try:
        first = json.loads(lines[0])
    except (ValueError, RecursionError):
        return False
    return isinstance(first, dict) and "text" in first and bool({"time", "speaker"} & set(first))


def zip_member(zf: zipfile.ZipFile) -> str | None:
    for name in zf.namelist():
        if posixpath.splitext(name)[1].lower() == ".jsonl":
            return name
    return None


class _BadLine(Exception):
    pass


def _parse_line(raw: bytes | None, n: int, ctx: Context) -> ImportedMessage | None:
    if raw is None:
        raise _BadLine("is longer than 1 MB")
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _BadLine("is not UTF-8 text") from exc
    if n == 1 and line.startswith("\ufeff"):
        line = line[1:]
    if not line.strip():
        return None
    try:
        obj = json.loads(line, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        msg = exc.msg if isinstance(exc, json.JSONDecodeError) else "not JSON"
        raise _BadLine(f"is not valid JSON ({msg})") from exc
    if not isinstance(obj, dict):
        raise _BadLine("is not a JSON object")
    text = obj.get("text")
    if not isinstance(text, str) or not clean_text(text):
        raise _BadLine('has no "text"')
    time = iso_to_epoch(obj.get("time"), ctx.options.tz)
    if time is None:
        raise _BadLine('has no valid "time" (ISO-8601 like 2024-05-01T09:30:00Z)')
    speaker = _opt_str(obj.get("speaker"))
    conversation = _opt_str(obj.get("conversation"))
    ident = obj.get("id")
    text = clean_text(text)
    if isinstance(ident, bool) or (isinstance(ident, float) and not math.isfinite(ident)):
        ident = None
    external_id = (
        str(ident).strip()
        if isinstance(ident, str | int | float) and str(ident).strip()
        else ctx.ids.make(conversation, str(obj.get("time")), speaker, text)
    )
    return ImportedMessage(
        external_id=external_id,
        time=time,
        author=speaker,
        text=text,
        conversation=conversation,
        role=None,
    )


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _opt_str(value: object) -> str | None:
    if isinstance(value, str):
        return clean_text(value) or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def read(source: Source, ctx: Context) -> Iterator[ImportedMessage]:
    if ctx.options.strict:
        # Check every line first, so a bad file is refused before anything is ingested.
        with source.open() as fh:
            for n, raw in enumerate(fh.lines(), 1):
                try:
                    _parse_line(raw, n, Context(ctx.label, ctx.options))
                except _BadLine as exc:
                    raise ctx.error(
                        f"has a bad line {n}: it {exc}",
                        "Nothing from this file was imported; fix that line and import it again.",
                    ) from None
    seen = False
    with source.open() as fh:
        for n, raw in enumerate(fh.lines(), 1):
            try:
                msg = _parse_line(raw, n, ctx)
            except _BadLine as exc:
                if ctx.options.strict:  # changed between the passes
                    raise ctx.error(f"has a bad line {n}: it {exc}") from None
                ctx.reject(f"line {n}", f"it {exc}")
                continue
            if msg is not None:
                seen = True
                yield msg
    if not seen and ctx.rejected_total == 0:
        raise ctx.error("has no messages")


FORMAT = Format(
    name=NAME,
    description='JSONL, one {"id","time","speaker","text","conversation"} per line',
    read=read,
    looks_like=looks_like,
    zip_member=zip_member,
    strict_default=True,
)

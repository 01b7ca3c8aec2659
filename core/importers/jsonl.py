"""JSONL: one message per line, `{"id", "time", "speaker", "text", "conversation"}` (DESIGN.md).
Strict by default: one bad line refuses the whole file, found before any message is given out.

Ids. A JSONL file's "id" is only unique within that file: tools number messages 1, 2, 3 in every
export. The memory's external_id (what import dedup compares) is therefore the id scoped by the
message itself, "<id>#<fingerprint>", the fingerprint hashing conversation, time, speaker and
text (see `scoped_id`). What a user can expect:
- importing the same file again, from any folder or under any name, adds nothing;
- a longer export of the same chat adds only the messages that are new;
- a different file that numbers its messages the same way is imported in full;
- a message whose text changed since the last import is added again, beside the old version
  (nothing is dropped silently on an id match);
- lines without an id get a hash of the same fields plus how often that message occurred
  (`StableIds`), so identical lines in one file stay distinct."""

from __future__ import annotations

import hashlib
import json
import math
import posixpath
import re
import zipfile
from collections.abc import Iterator
from typing import Any

from core.importers.base import Context, Format, Head, Source, clean_text, iso_to_epoch
from core.ingest import normalise_text
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
        scoped_id(str(ident).strip(), conversation, time, speaker, text)
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


def scoped_id(
    ident: str, conversation: str | None, time: float, speaker: str | None, text: str
) -> str:
    """The external_id of a line that has an "id": `ident#` and 16 hex digits of sha256 over
    conversation, time, speaker and text, each as the store keeps it (epoch seconds; the
    strings through core.ingest.normalise_text), so a stored memory's fields give back its id.
    The same instant written with another offset keeps the id; a time written without a zone
    is read in the zone chosen for the import, so re-importing it in another zone does not."""
    fields = (conversation or "", f"{time:.3f}", speaker or "", text)
    # Twice: once is not idempotent (NFC runs before control characters are dropped, so a
    # mark they kept apart composes only the second time), and the store tidies author and
    # conversation its own way; twice gives one form for the raw and the stored field.
    base = "\x1f".join(normalise_text(normalise_text(f)) for f in fields)
    return f"{ident}#{hashlib.sha256(base.encode('utf-8', 'surrogatepass')).hexdigest()[:16]}"


_SCOPE_SUFFIX = re.compile(r"#[0-9a-f]{16}\Z")


def own_id(external_id: str) -> str:
    """The line's own "id" back from a scoped_id (what the user's file said), for display."""
    return _SCOPE_SUFFIX.sub("", external_id)


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

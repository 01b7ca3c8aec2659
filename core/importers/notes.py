"""A folder of Markdown / plain-text notes (or one note): each .md/.txt file becomes one memory,
or one per section when it is long; the file's modification time is the memory's time."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

from core.importers.base import MAX_TIME, MIN_TIME, Context, Format, Head, Source
from core.types import ImportedMessage

NAME = "markdown"
SUFFIXES = {".md", ".markdown", ".txt"}
# A note up to this size stays whole; longer ones are split at headings.
WHOLE_NOTE_CHARS = 2000
# No section is longer than this; a longer one is split at blank lines.
MAX_SECTION_CHARS = 4000
MAX_NOTE_BYTES = 20 * 1024 * 1024
_HEADING = re.compile(r"(#{1,6})[ \t]+(.*?)[ \t#]*")
_FENCE = re.compile(r"\s{0,3}(```|~~~)")


def looks_like(head: Head) -> bool:
    return head.text is not None and Path(head.name).suffix.lower() in SUFFIXES


def note_files(folder: Path) -> Iterator[Path]:
    """Note files under a folder, sorted, skipping hidden folders (.git, .obsidian, …)."""
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and Path(name).suffix.lower() in SUFFIXES:
                yield Path(root) / name


def read(source: Source, ctx: Context) -> Iterator[ImportedMessage]:
    if source.path.is_dir():
        found = False
        for path in note_files(source.path):
            found = True
            rel = path.relative_to(source.path).as_posix()
            yield from _note(path, rel, ctx, single=False)
        if not found:
            raise ctx.error("has no .md or .txt notes in it")
    else:
        yield from _note(source.path, source.path.name, ctx, single=True)


def _note(path: Path, rel: str, ctx: Context, single: bool) -> Iterator[ImportedMessage]:
    def refuse(reason: str) -> None:
        if single:
            raise ctx.error(reason)
        ctx.reject(rel, reason)

    try:
        st = path.stat()
        if st.st_size > MAX_NOTE_BYTES:
            refuse(f"is too large for a note ({st.st_size // (1024 * 1024)} MB)")
            return
        raw = path.read_bytes()
    except OSError as exc:
        refuse(f"cannot be read ({exc.strerror or exc})")
        return
    if b"\x00" in raw:
        refuse("is not a text file (it holds binary data)")
        return
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        refuse(f"is not UTF-8 text (invalid byte at offset {exc.start})")
        return
    time = min(max(st.st_mtime, MIN_TIME), MAX_TIME)
    conversation = ctx.options.conversation or rel
    sections = split_sections(text)
    if not sections:
        ctx.skip("empty note")
        return
    for i, section in enumerate(sections):
        digest = hashlib.sha256(section.encode("utf-8", "surrogatepass")).hexdigest()
        ident = hashlib.sha256(f"{rel}\x1f{i}\x1f{digest}".encode("utf-8", "surrogatepass"))
        yield ImportedMessage(
            external_id=ident.hexdigest(),
            time=time,
            author=None,
            text=section,
            conversation=conversation,
            role=None,
        )


def split_sections(text: str) -> list[str]:
    """A short note whole; a long one cut at headings (each section starts with the headings
    above it, for context), and any section still too long cut at blank lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").strip()
    if not text:
        return []
    if len(text) <= WHOLE_NOTE_CHARS:
        return [text]
    sections: list[tuple[list[str], list[str]]] = []  # (heading trail, body lines)
    trail: list[tuple[int, str]] = []
    body: list[str] = []
    in_fence = False
    for line in text.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
        m = None if in_fence else _HEADING.fullmatch(line)
        if m:
            sections.append(([t for _lvl, t in trail], body))
            level = len(m.group(1))
            trail = [(lvl, t) for lvl, t in trail if lvl < level] + [(level, line.strip())]
            body = []
        else:
            body.append(line)
    sections.append(([t for _lvl, t in trail], body))
    out: list[str] = []
    for headings, lines in sections:
        content = "\n".join(lines).strip()
        if not content:
            continue  # a heading alone lives on in its subsections' context
        prefix = "\n".join(headings)
        for chunk in _chunks(content, MAX_SECTION_CHARS - len(prefix) - 1):
            out.append(f"{prefix}\n{chunk}" if prefix else chunk)
    return out


def _chunks(content: str, limit: int) -> Iterator[str]:
    limit = max(limit, 500)
    if len(content) <= limit:
        yield content
        return
    current = ""
    for para in re.split(r"\n\s*\n", content):
        para = para.strip()
        if not para:
            continue
        while len(para) > limit:  # one enormous paragraph: cut it hard
            if current:
                yield current
                current = ""
            yield para[:limit]
            para = para[limit:]
        if current and len(current) + 2 + len(para) > limit:
            yield current
            current = para
        else:
            current = f"{current}\n\n{para}" if current else para
    if current:
        yield current


FORMAT = Format(
    name=NAME,
    description="a folder of Markdown/text notes (or one .md/.txt note)",
    read=read,
    looks_like=looks_like,
    zip_member=None,
)

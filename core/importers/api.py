"""The importers' entry point: `parse(path, fmt="auto")` checks the file, picks its format and
returns a ParsedFile whose `.messages` stream ImportedMessage objects one at a time."""

from __future__ import annotations

import zipfile
from collections import Counter
from collections.abc import Iterator
from datetime import tzinfo
from pathlib import Path, PurePosixPath
from typing import Any

from core.errors import BadInput
from core.importers.base import (
    HEAD_BYTES,
    MAX_LINE_BYTES,
    MAX_UNZIPPED_BYTES,
    Context,
    Format,
    Head,
    ImportFileError,
    Options,
    Rejected,
    Source,
)
from core.importers.base import resolve_tz as _resolve_tz
from core.importers.detect import FORMATS, SNIFF_ORDER, read_head, supported, zip_contents
from core.importers.notes import note_files
from core.types import ImportedMessage, NewMemory, import_kind


class ParsedFile:
    """One file (or notes folder) being parsed.

    `messages` is a single-pass iterator; `rejected` (items that could not be parsed, with
    where and why; the first 1,000 are kept, `rejected_total` counts all) and `skipped`
    (reason -> count of items left out on purpose: system notices, media placeholders, hidden
    or tool messages) fill in while it is consumed. Iterating may raise ImportFileError when the
    file turns out to be damaged part-way (e.g. truncated JSON): the caller should then drop
    everything it took from this file (imports are transactional per file)."""

    def __init__(self, path: Path, fmt: Format, source: Source, ctx: Context) -> None:
        self.path = path
        self.format = fmt.name
        self.kind = import_kind(fmt.name)  # the memories' source kind: "import:<format>"
        self.source_label = source.label  # "chat.txt", "export.zip (conversations.json)"
        self.member = source.member  # the member read inside a zip, if any
        self.count = 0  # messages yielded so far
        self._ctx = ctx
        self.messages: Iterator[ImportedMessage] = self._stream(fmt, source)

    @property
    def rejected(self) -> list[Rejected]:
        return self._ctx.rejected

    @property
    def rejected_total(self) -> int:
        return self._ctx.rejected_total

    @property
    def skipped(self) -> Counter[str]:
        return self._ctx.skipped

    def __iter__(self) -> Iterator[ImportedMessage]:
        return self.messages

    def close(self) -> None:
        """Stops parsing (on cancel) and releases the file."""
        close = getattr(self.messages, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> ParsedFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _stream(self, fmt: Format, source: Source) -> Iterator[ImportedMessage]:
        try:
            for msg in fmt.read(source, self._ctx):
                self.count += 1
                yield msg
        except RecursionError as exc:  # absurdly nested JSON
            raise self._ctx.error("is nested too deeply to be a chat export") from exc
        except MemoryError as exc:
            raise self._ctx.error("holds an item too large to import") from exc

    def as_new_memory(self, msg: ImportedMessage) -> NewMemory:
        """The NewMemory for one parsed message, with its provenance."""
        return NewMemory(
            kind=self.kind,
            text=msg.text,
            time=msg.time,
            title=msg.conversation,
            author=msg.author,
            conversation=msg.conversation,
            file=self.source_label,
            external_id=msg.external_id,
        )

    def report(self) -> dict[str, Any]:
        """Counts so far, for the per-file import report."""
        return {
            "file": self.source_label,
            "format": self.format,
            "messages": self.count,
            "rejected": self.rejected_total,
            "rejections": [{"where": r.where, "reason": r.reason} for r in self.rejected],
            "skipped": dict(self.skipped),
        }


def parse(
    path: str | Path,
    fmt: str = "auto",
    *,
    tz: str | tzinfo | None = None,
    dayfirst: bool | None = None,
    strict: bool | None = None,
    conversation: str | None = None,
) -> ParsedFile:
    """Open an export for import.

    fmt: "auto" (detected from the content) or one of FORMATS.
    tz: zone of times written without one (WhatsApp, some Telegram/JSONL); default local.
    dayfirst: WhatsApp date order; None decides from the file (ambiguous -> day-first).
    strict: one bad item refuses the whole file; default on for jsonl, off otherwise.
    conversation: conversation name for WhatsApp chats and notes (default from the file name).

    Raises ImportFileError (a BadInput) naming the file when it is missing, empty, unreadable,
    or not in the format; BadInput for an unknown `fmt` or `tz`."""
    if fmt != "auto" and fmt not in FORMATS:
        raise BadInput(
            f"Unknown import format {fmt!r}. Use one of: auto, {', '.join(sorted(FORMATS))}."
        )
    p = Path(path)
    label = p.name or str(p)
    if not p.exists():
        raise ImportFileError(
            label, "does not exist", "Check the path and try again.", code="not_found"
        )
    if p.is_dir():
        if fmt not in ("auto", "markdown"):
            raise ImportFileError(label, f"is a folder; the {fmt} format needs a file")
        if not any(True for _ in note_files(p)):
            raise ImportFileError(label, "has no .md or .txt notes in it")
        source = Source(p)
        chosen = FORMATS["markdown"]
    elif not p.is_file():
        raise ImportFileError(label, "is not a file or a folder Mnemo can read")
    else:
        source, chosen = _locate(p, label, fmt)
    options = Options(
        tz=_resolve_tz(tz),
        dayfirst=dayfirst,
        strict=chosen.strict_default if strict is None else strict,
        conversation=conversation,
    )
    return ParsedFile(p, chosen, source, Context(source.label, options))


def iter_messages(path: str | Path, fmt: str = "auto", **options: Any) -> Iterator[ImportedMessage]:
    """Just the messages (rejections are dropped); see `parse` for the options."""
    return parse(path, fmt, **options).messages


def _locate(p: Path, label: str, fmt: str) -> tuple[Source, Format]:
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise ImportFileError(label, f"cannot be read ({exc.strerror or exc})") from exc
    if size == 0:
        raise ImportFileError(label, "is empty", "Export it again.")
    if zipfile.is_zipfile(p):
        found = zip_contents(p, None if fmt == "auto" else fmt)
        if found is None:
            # Say what is wrong with a member that has an export's name, not only "none".
            why = explain_zip(p)
            if why:
                raise ImportFileError(label, why, "Export it again from the app it came from.")
            if fmt == "auto":
                raise ImportFileError(
                    label,
                    "is a zip archive with no chat export Mnemo recognises in it "
                    "(looked for conversations.json, result.json, a WhatsApp .txt, a .jsonl)",
                )
            raise ImportFileError(
                label, f"is a zip archive without a {FORMATS[fmt].description} in it"
            )
        return Source(p, found[1]), FORMATS[found[0]]
    source = Source(p)
    head = read_head(source)
    if head.raw.startswith(b"PK\x03\x04"):
        raise ImportFileError(label, "is a damaged zip archive", "Export it again.")
    head = _whole_first_line(source, head, size)
    if fmt == "auto":
        if head.long_line:
            raise ImportFileError(label, _LONG_LINE, "Nothing from it was imported.")
        for name in SNIFF_ORDER:
            if FORMATS[name].looks_like(head):
                return source, FORMATS[name]
        raise ImportFileError(label, _not_recognised(head.text, head.bad_offset, size))
    chosen = FORMATS[fmt]
    if head.text is None:
        raise ImportFileError(label, _not_recognised(None, head.bad_offset, size))
    if fmt == "jsonl" and head.long_line:
        raise ImportFileError(label, _LONG_LINE, "Nothing from it was imported.")
    if not chosen.looks_like(head):
        problem = f"is not a {chosen.description}"
        if fmt == "whatsapp":
            problem = "is not a WhatsApp export: no line starts with a date"
        other = next((n for n in SNIFF_ORDER if FORMATS[n].looks_like(head)), None)
        if other and other != "markdown":
            problem += f" (it looks like a {FORMATS[other].description})"
        raise ImportFileError(label, problem, "Choose the format 'auto' or the right one.")
    return source, chosen


_LONG_LINE = (
    f"has a first line longer than {MAX_LINE_BYTES // (1024 * 1024)} MB: a JSONL file holds one "
    "message per line, and a line that long is damage or not a message"
)


def _whole_first_line(source: Source, head: Head, size: int) -> Head:
    """A first line longer than the 64 KB head: read it whole (up to 1 MB) so a JSONL file with
    a long first message is still recognised, and one longer than 1 MB is called that."""
    if head.text is None or size <= len(head.raw):
        return head
    if "\n" in head.text.lstrip("\ufeff\r\n \t") or not head.text.lstrip().startswith("{"):
        return head
    with source.open() as fh:
        line = fh.readline(MAX_LINE_BYTES + 1)
    if len(line) > MAX_LINE_BYTES:
        return Head(head.name, head.raw, head.text, long_line=True)
    whole = Head.of(head.name, line, complete=True)
    return whole if whole.text is not None else head


def explain_zip(path: Path) -> str | None:
    """Why a member named like an export (conversations.json, result.json, *.jsonl) is not
    one: too large unzipped, blank, not JSON. None when the zip has no such member."""
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                base = PurePosixPath(info.filename).name
                if base not in ("conversations.json", "result.json") and not base.endswith(
                    ".jsonl"
                ):
                    continue
                with zf.open(info) as fh:
                    raw = fh.read(HEAD_BYTES)
                unzipped = _size_text(info.file_size)
                if info.file_size > MAX_UNZIPPED_BYTES:
                    return (
                        f"holds {info.filename}, which is {unzipped} unzipped, more than the "
                        f"{_size_text(MAX_UNZIPPED_BYTES)} Mnemo reads from one export"
                    )
                if not raw.strip():
                    return (
                        f"holds {info.filename} ({unzipped} unzipped), but it is blank: only "
                        "spaces and line breaks, no JSON"
                    )
                head = Head.of(info.filename, raw, complete=len(raw) < HEAD_BYTES)
                if head.text is None:
                    return f"holds {info.filename}, which is not text (binary data)"
                if not head.text.lstrip("\ufeff \t\r\n").startswith(("[", "{")):
                    return f"holds {info.filename}, which is not JSON (it starts with text)"
                return f"holds {info.filename}, which is JSON but not a chat export Mnemo knows"
    except (zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError, OSError):
        return None
    return None


def _size_text(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def _not_recognised(text: str | None, bad_offset: int | None, size: int = 0) -> str:
    if text is None and bad_offset is None:
        return "is not a chat export or a text file (it holds binary data)"
    if text is None:
        return f"is not UTF-8 text (invalid byte at offset {bad_offset}); save it as UTF-8"
    if not text.strip():
        return "is blank (only spaces and line breaks)"
    return f"is not in a format Mnemo can import. Supported: {supported()}"

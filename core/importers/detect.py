"""Which format a file is in, by its content (zip members, the JSON's top-level shape in the first
KBs, WhatsApp's dated lines), not only its name; and the source to read inside a zip."""

from __future__ import annotations

import codecs
import zipfile
from pathlib import Path

from core.importers import chatgpt, claude, jsonl, notes, telegram, whatsapp
from core.importers.base import HEAD_BYTES, Format, Head, ImportFileError, Source

FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        chatgpt.FORMAT,
        claude.FORMAT,
        whatsapp.FORMAT,
        telegram.FORMAT,
        jsonl.FORMAT,
        notes.FORMAT,
    )
}
# Most specific first: a JSONL line is JSON too, and any text file could be a note.
SNIFF_ORDER = ("jsonl", "chatgpt", "claude", "telegram", "whatsapp", "markdown")


def supported() -> str:
    return "; ".join(f.description for f in FORMATS.values())


def detect(path: str | Path) -> str | None:
    """The format name of a file or folder, or None when it is none Mnemo can import.
    Raises ImportFileError only when the path cannot be read at all."""
    p = Path(path)
    if p.is_dir():
        return notes.NAME if any(True for _ in notes.note_files(p)) else None
    _check_readable(p)
    if zipfile.is_zipfile(p):
        found = zip_contents(p)
        return found[0] if found else None
    head = read_head(Source(p))
    for name in SNIFF_ORDER:
        if FORMATS[name].looks_like(head):
            return name
    return None


def zip_contents(path: Path, fmt: str | None = None) -> tuple[str, str] | None:
    """(format, member) of the export inside a zip; `fmt` limits the search to one format."""
    names = [fmt] if fmt else [n for n in SNIFF_ORDER if FORMATS[n].zip_member]
    label = path.name
    try:
        with zipfile.ZipFile(path) as zf:
            for name in names:
                pick = FORMATS[name].zip_member
                member = pick(zf) if pick else None
                if member:
                    return name, member
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as exc:
        raise ImportFileError(label, "is a damaged zip archive", "Export it again.") from exc
    except RuntimeError as exc:
        raise ImportFileError(label, "is a password-protected zip", "Unzip it first.") from exc
    except OSError as exc:
        raise ImportFileError(label, f"cannot be read ({exc.strerror or exc})") from exc
    return None


def read_head(source: Source) -> Head:
    raw = source.head(HEAD_BYTES)
    complete = len(raw) < HEAD_BYTES
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Text re-saved as UTF-16 (Windows Notepad): only WhatsApp lines are read that way.
        text = raw.decode("utf-16", "ignore")
        return Head(source.label, raw, text.lstrip("\ufeff"))
    return Head.of(source.label, raw, complete=complete)


def _check_readable(p: Path) -> None:
    label = p.name or str(p)
    if not p.exists():
        raise ImportFileError(
            label, "does not exist", "Check the path and try again.", code="not_found"
        )
    if not p.is_file():
        raise ImportFileError(label, "is not a file or a folder Mnemo can read")

"""Importing chats and notes: the one path from export files (core.importers) into the memory
engine (MemoryService.import_file), one transaction per file, with a per-file report. The CLI,
the Import page and the tray all go through ImportService."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import BadInput, UserFacingError
from core.importers import FORMATS, ImportFileError, detect, parse
from core.importers.notes import note_files
from core.ingest import Cancelled
from core.types import IMPORT_PREFIX

if TYPE_CHECKING:
    from app.memory_service import MemoryService

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ImportProgress:
    """Where an import is: the file being read (1-based of `files_total`), the messages stored
    or checked so far in it, and in all files."""

    file: str
    file_number: int
    files_total: int
    files_done: int
    messages: int  # in the current file
    messages_total: int  # in every file so far, the current one included


@dataclass(slots=True)
class FileReport:
    """What happened to one file (or notes folder). `error` is a sentence for the user when the
    file was refused: then nothing from it was stored."""

    file: str  # the label: "chat.txt", "export.zip (conversations.json)"
    path: str
    format: str | None
    imported: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejections: list[dict[str, str]] = field(default_factory=list)  # {"where", "reason"}
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count
    seconds: float = 0.0
    error: str | None = None
    error_code: str | None = None  # core.errors.ERROR_CODES of the refusal
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.cancelled

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["seconds"] = round(self.seconds, 3)
        doc["ok"] = self.ok
        return doc


@dataclass(slots=True)
class ImportResult:
    files: list[FileReport]

    @property
    def failed(self) -> list[FileReport]:
        return [f for f in self.files if f.error is not None]

    @property
    def cancelled(self) -> bool:
        return any(f.cancelled for f in self.files)

    def totals(self) -> dict[str, int]:
        return {
            "files": len(self.files),
            "imported": sum(f.imported for f in self.files),
            "duplicates": sum(f.duplicates for f in self.files),
            "rejected": sum(f.rejected for f in self.files),
            "failed": len(self.failed),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "files": [f.to_json() for f in self.files],
            "totals": self.totals(),
            "cancelled": self.cancelled,
        }


@dataclass(slots=True)
class ImportOptions:
    fmt: str = "auto"
    tz: str | tzinfo | None = None


@dataclass(slots=True)
class Conversation:
    """One imported conversation, for the Import page's list."""

    kind: str
    file: str | None
    conversation: str | None
    messages: int
    first: float
    last: float
    first_id: int


Progress = Callable[[ImportProgress], None]
Cancel = Callable[[], bool]
# A format handled by another feature (the capture helper's "screenshots"): it imports one path
# and returns its report; it must honour cancel and store nothing from a failed or cancelled
# file. Register with `FILE_IMPORTERS["screenshots"] = fn`.
FileImporter = Callable[
    ["ImportService", Path, ImportOptions, Callable[[int], None], Cancel], FileReport
]
FILE_IMPORTERS: dict[str, FileImporter] = {}


def format_names() -> list[str]:
    """Every format the user may choose, "auto" first."""
    return ["auto", *FORMATS, *(n for n in FILE_IMPORTERS if n not in FORMATS)]


class ImportService:
    """Alive while the store is unlocked (`services.imports`)."""

    def __init__(self, memory: MemoryService) -> None:
        self.memory = memory

    # -- what to import ----------------------------------------------------------------------
    def expand(self, paths: Iterable[str | Path], fmt: str = "auto") -> list[Path]:
        """The "files" to import, each one transaction: a file; a folder of notes (one); or,
        for a folder holding chat exports (or with a chat format chosen), each file in it."""
        out: list[Path] = []
        for raw in paths:
            p = Path(raw).expanduser()
            if p.is_dir() and fmt not in FILE_IMPORTERS and not self._is_notes_folder(p, fmt):
                inside = sorted(
                    c for c in p.iterdir() if c.is_file() and not c.name.startswith(".")
                )
                # An empty folder is still reported (the parser says what is missing).
                out.extend(inside or [p])
            else:
                out.append(p)
        return out

    @staticmethod
    def _is_notes_folder(folder: Path, fmt: str) -> bool:
        if fmt == "markdown":
            return True
        if fmt != "auto":
            return False
        for child in folder.iterdir():
            if not child.is_file() or child.name.startswith("."):
                continue
            try:
                found = detect(child)
            except ImportFileError:
                continue
            if found is not None and found != "markdown":
                return False  # holds exports: import each one
        return any(True for _ in note_files(folder))

    # -- importing ---------------------------------------------------------------------------
    def import_paths(
        self,
        paths: Iterable[str | Path],
        fmt: str = "auto",
        tz: str | tzinfo | None = None,
        *,
        progress: Progress | None = None,
        cancelled: Cancel | None = None,
    ) -> ImportResult:
        """Import each file in its own transaction. A refused file is reported (with a message
        naming it) and the others still import; a cancel stops at once and stores nothing from
        the file being read (earlier files stay imported)."""
        if fmt not in format_names():
            raise BadInput(
                f"Unknown import format {fmt!r}. Use one of: {', '.join(format_names())}."
            )
        files = self.expand(paths, fmt)
        if not files:
            raise BadInput("There is nothing to import in what was chosen.")
        options = ImportOptions(fmt, tz)
        is_cancelled = cancelled or (lambda: False)
        reports: list[FileReport] = []
        total = 0
        for number, path in enumerate(files, 1):
            if is_cancelled():
                break

            def on_count(
                n: int, _path: Path = path, _number: int = number, _before: int = total
            ) -> None:
                if progress is not None:
                    progress(
                        ImportProgress(_path.name, _number, len(files), _number - 1, n, _before + n)
                    )

            on_count(0)
            report = self.import_one(path, options, on_count, is_cancelled)
            reports.append(report)
            total += report.imported + report.duplicates
            if report.cancelled:
                break
        if progress is not None and reports:
            progress(
                ImportProgress(reports[-1].file, len(reports), len(files), len(reports), 0, total)
            )
        return ImportResult(reports)

    def import_one(
        self,
        path: Path,
        options: ImportOptions,
        progress: Callable[[int], None] | None = None,
        cancelled: Cancel | None = None,
    ) -> FileReport:
        """One file, all or nothing. Errors the user can act on become the report's `error`."""
        t0 = time.perf_counter()
        custom = FILE_IMPORTERS.get(options.fmt)
        if custom is not None:
            return custom(
                self, path, options, progress or (lambda n: None), cancelled or (lambda: False)
            )
        label = path.name or str(path)
        report = FileReport(file=label, path=str(path), format=None)
        try:
            parsed = parse(path, options.fmt, tz=options.tz)
        except UserFacingError as e:
            report.error, report.error_code = str(e), e.code
            report.seconds = time.perf_counter() - t0
            log.info("import refused before reading: %s", type(e).__name__)  # no file names
            return report
        report.file, report.format = parsed.source_label, parsed.format
        engine_rejects: list[dict[str, str]] = []
        with parsed:
            memories = (parsed.as_new_memory(m) for m in parsed.messages)
            try:
                done = self.memory.import_file(
                    path, parsed.format, memories, progress=progress, cancelled=cancelled
                )
            except Cancelled:
                report.cancelled = True
            except UserFacingError as e:
                # A damaged file found part-way (truncated JSON, a bad JSONL line): rolled back.
                report.error, report.error_code = str(e), e.code
            else:
                report.imported = done["imported"]
                report.duplicates = done["duplicates"]
                engine_rejects = [
                    {"where": r["where"], "reason": r["reason"]} for r in done["rejected"]
                ]
        if report.ok:
            parsed_report = parsed.report()
            report.rejections = parsed_report["rejections"] + engine_rejects
            report.rejected = parsed.rejected_total + len(engine_rejects)
            report.skipped = dict(parsed_report["skipped"])
        report.seconds = time.perf_counter() - t0
        log.info(
            "import %s: %s, %d imported, %d duplicates, %d rejected in %.1f s",
            parsed.format,
            "cancelled" if report.cancelled else ("failed" if report.error else "ok"),
            report.imported,
            report.duplicates,
            report.rejected,
            report.seconds,
        )
        return report

    # -- browsing ----------------------------------------------------------------------------
    def conversations(self, limit: int = 500) -> list[Conversation]:
        """Imported conversations by file, newest first, with message counts and date range."""
        conn = self.memory.store.reader()
        rows = conn.execute(
            "SELECT kind, file, conversation, count(*), min(time), max(time) FROM memories "
            "WHERE hidden = 0 AND status != 'rejected' AND kind >= ? AND kind < ? "
            "GROUP BY kind, file, conversation ORDER BY max(time) DESC LIMIT ?",
            (IMPORT_PREFIX, IMPORT_PREFIX[:-1] + chr(ord(IMPORT_PREFIX[-1]) + 1), limit),
        ).fetchall()
        out = []
        for kind, file, conv, n, first, last in rows:
            (first_id,) = conn.execute(
                "SELECT id FROM memories WHERE hidden = 0 AND status != 'rejected' AND kind = ? "
                "AND file IS ? AND conversation IS ? ORDER BY time, id LIMIT 1",
                (kind, file, conv),
            ).fetchone()
            out.append(Conversation(kind, file, conv, int(n), float(first), float(last), first_id))
        return out


def iter_reports(result: ImportResult) -> Iterator[str]:
    """The report in plain words, one line per file (CLI and the Import page)."""
    for f in result.files:
        yield describe(f)


def describe(f: FileReport) -> str:
    if f.cancelled:
        return f"{f.file}: cancelled, nothing from this file was stored."
    if f.error is not None:
        return f"{f.file}: not imported. {f.error}"
    parts = [f"{f.imported} imported"]
    if f.duplicates:
        parts.append(f"{f.duplicates} already there")
    if f.rejected:
        parts.append(f"{f.rejected} rejected")
    if f.skipped:
        parts.append(f"{sum(f.skipped.values())} skipped")
    return f"{f.file}: {', '.join(parts)} ({f.seconds:.1f} s)"

"""The one path every memory takes into the store (notes, screens, chats, imports, answers):
normalise the text, skip duplicates by (kind, external_id), embed off the writer thread in
batches, then write memory rows (+ FTS by trigger) and vectors in one transaction on the writer,
and only after the commit add the vectors to the in-memory index."""

from __future__ import annotations

import functools
import logging
import re
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from core import embedded
from core.db import Connection
from core.errors import BadInput, MnemoError
from core.interfaces import Embedder
from core.memories import insert_memory
from core.spill import EncryptedSpill
from core.types import HL_END, HL_START, NOTE, REVIEW_STATUSES, NewMemory

log = logging.getLogger(__name__)

EMBED_BATCH = 64
# Memories embedded in one call, in EMBED_BATCH steps for progress, cancel and (without
# one_transaction) transactions: the embedder sorts a call's texts by length into batches that
# pad little, and the more texts it can sort, the less padding (measured: a window of 64
# mixed-length messages costs ~15 % more CPU per memory than a window of 256).
EMBED_WINDOW = 256
# A one-transaction ingest (an imported file) keeps at most this many embedded memories in
# memory; beyond that they wait in an encrypted spill file until the commit (bounded memory
# for exports of any size).
SPILL_CHUNK = 4096
MAX_TEXT_CHARS = 200_000
DEFAULT_TRUST = 0.5
# What the user typed themselves is theirs: it starts fully trusted.
KIND_TRUST = {NOTE: 1.0}

# Highlight markers, NUL and other C0 controls except tab/newline are not text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BLANK_LINES = re.compile(r"\n{3,}")
_SPACES = re.compile(r"[ \t\u00a0]+")


_NO_VEC = np.zeros(0, dtype=np.float32)


class Cancelled(MnemoError):
    """The caller asked to stop; nothing from the batch or file was stored."""


@dataclass(slots=True)
class Provenance:
    """What a trust inspector decides for one memory before it is written."""

    source_id: int | None = None
    trust: float = DEFAULT_TRUST
    # Called in the same transaction right after the memory's row is inserted, with its id:
    # trust evidence that must name the memory (a flag, a burst) is recorded here.
    after_insert: Callable[[Connection, int], None] | None = None


class Inspector(Protocol):
    """The trust seam: called on the writer thread, inside the ingest transaction, once per
    memory, before its row is written. It may set `memory.status` and `memory.reasons`
    (quarantine) and returns the memory's source and trust. It may write its own rows (sources,
    trust events) on `conn`; they commit or roll back with the memories. What needs the new
    memory's id goes in `Provenance.after_insert`, run in the same transaction after the row."""

    def __call__(self, conn: Connection, memory: NewMemory) -> Provenance: ...


def default_inspector(conn: Connection, memory: NewMemory) -> Provenance:
    return Provenance(None, KIND_TRUST.get(memory.kind, DEFAULT_TRUST))


@dataclass(slots=True)
class IngestReport:
    added: int = 0
    duplicates: int = 0
    ids: list[int] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)


def normalise_text(text: str) -> str:
    """Text as stored: NFC, no control characters or highlight markers, tidy whitespace."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace(HL_START, "").replace(HL_END, "")
    text = _CONTROL.sub("", text)
    text = _SPACES.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


def normalise(memory: NewMemory) -> NewMemory:
    """A clean copy, or BadInput saying what is wrong with it."""
    if not isinstance(memory.text, str):
        raise BadInput("A memory's text must be text.")
    text = normalise_text(memory.text)
    if not text:
        raise BadInput("The text is empty.")
    if len(text) > MAX_TEXT_CHARS:
        raise BadInput(f"The text is too long ({len(text)} characters; at most {MAX_TEXT_CHARS}).")
    if memory.status not in REVIEW_STATUSES:
        raise BadInput(f"Unknown review status {memory.status!r}.")
    if not (memory.time == memory.time and abs(memory.time) < 1e11):
        raise BadInput("The time is not a valid date.")

    def tidy(v: str | None) -> str | None:
        if v is None:
            return None
        v = _SPACES.sub(" ", _CONTROL.sub("", v.replace(HL_START, "").replace(HL_END, "")))
        return v.strip()[:1000] or None

    return replace(
        memory,
        text=text,
        app=tidy(memory.app),
        title=tidy(memory.title),
        domain=tidy(memory.domain),
        author=tidy(memory.author),
        conversation=tidy(memory.conversation),
        external_id=(memory.external_id.strip() or None) if memory.external_id else None,
        reasons=list(memory.reasons),
    )


def vector_blob(vec: np.ndarray) -> bytes:
    return np.ascontiguousarray(vec, dtype=np.float32).tobytes()


class IndexSink(Protocol):
    def add(self, ids: list[int], vectors: np.ndarray) -> None: ...


class Ingestor:
    """Wires normalise -> dedup -> embed -> one write transaction -> index."""

    def __init__(
        self,
        *,
        write: Callable[[Callable[[Connection], Any]], Any],
        read_conn: Callable[[], Connection],
        embedder: Embedder,
        model_name: str,
        index: Callable[[], IndexSink | None],
        now: Callable[[], float],
        inspect: Inspector | None = None,
        batch_size: int = EMBED_BATCH,
        spill_dir: Path | None = None,
    ) -> None:
        self._write = write
        self._read_conn = read_conn
        self._embedder = embedder
        self._model = model_name
        self._reads_vectors = embedded.reads(model_name)
        self._index = index
        self._now = now
        self.inspect: Inspector = inspect or default_inspector
        self._batch = batch_size
        self._spill_dir = spill_dir

    def _known(self, memories: list[NewMemory]) -> set[tuple[str, str]]:
        """Which (kind, external_id) pairs already exist (read side, before embedding)."""
        keyed = [(m.kind, m.external_id) for m in memories if m.external_id]
        if not keyed:
            return set()
        conn = self._read_conn()
        found: set[tuple[str, str]] = set()
        for i in range(0, len(keyed), 400):
            part = keyed[i : i + 400]
            where = " OR ".join("(kind = ? AND external_id = ?)" for _ in part)
            args = [x for pair in part for x in pair]
            found.update(
                (k, e)
                for k, e in conn.execute(
                    f"SELECT kind, external_id FROM memories WHERE {where}", args
                )
            )
        return found

    def _prepare(
        self,
        window: list[NewMemory],
        seen: set[tuple[str, str]],
        report: IngestReport,
    ) -> list[tuple[NewMemory, np.ndarray] | None]:
        """Each memory of the window with its vector, or None for a duplicate."""
        known = self._known(window)
        fresh: list[int] = []
        for n, m in enumerate(window):
            key = (m.kind, m.external_id) if m.external_id else None
            if key is not None and (key in known or key in seen):
                report.duplicates += 1
                continue
            if key is not None:
                seen.add(key)
            fresh.append(n)
        vecs = self._embedder.embed([window[n].text for n in fresh])
        if vecs.shape != (len(fresh), self._embedder.dim):
            raise RuntimeError("the embedder returned vectors of the wrong shape")
        out: list[tuple[NewMemory, np.ndarray] | None] = [None] * len(window)
        for n, vec in zip(fresh, vecs):
            out[n] = (window[n], vec)
        return out

    def _write_rows(
        self, conn: Connection, items: list[tuple[NewMemory, np.ndarray]], report: IngestReport
    ) -> list[tuple[int, np.ndarray]]:
        now = self._now()
        written: list[tuple[int, np.ndarray]] = []
        for m, vec in items:
            if m.external_id is not None:
                # Checked again on the writer: another ingest may have raced us since the read.
                dup = conn.execute(
                    "SELECT 1 FROM memories WHERE kind = ? AND external_id = ?",
                    (m.kind, m.external_id),
                ).fetchone()
                if dup:
                    report.duplicates += 1
                    continue
            if self._reads_vectors:  # the inspector's embedding poison model reads it
                m.vector = vec
            prov = self.inspect(conn, m)
            m.vector = None
            trust = min(1.0, max(0.0, float(prov.trust)))
            mid = insert_memory(conn, m, source_id=prov.source_id, trust=trust, now=now)
            conn.execute(
                "INSERT INTO vectors(memory_id, model, vec) VALUES (?, ?, ?)",
                (mid, self._model, vector_blob(vec)),
            )
            if prov.after_insert is not None:
                prov.after_insert(conn, mid)
            written.append((mid, vec))
        return written

    def _index_from_store(self, ids: list[int]) -> None:
        """Add committed memories to the index, reading their vectors back in chunks."""
        index = self._index()
        if index is None:
            return
        conn = self._read_conn()
        for i in range(0, len(ids), SPILL_CHUNK):
            part = ids[i : i + SPILL_CHUNK]
            marks = ",".join("?" * len(part))
            rows = conn.execute(
                f"SELECT memory_id, vec FROM vectors WHERE memory_id IN ({marks})", part
            ).fetchall()
            if rows:
                index.add(
                    [r[0] for r in rows],
                    np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows]),
                )

    def _to_index(self, written: list[tuple[int, np.ndarray]]) -> None:
        index = self._index()
        if index is None or not written:
            return
        ids = [mid for mid, _ in written]
        index.add(ids, np.stack([v for _, v in written]))

    def add_many(
        self,
        memories: Iterable[NewMemory],
        *,
        one_transaction: bool = True,
        progress: Callable[[int], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
        in_transaction: Callable[[Connection, IngestReport], None] | None = None,
    ) -> IngestReport:
        """Add memories. With one_transaction, everything lands in a single transaction (all or
        nothing: an invalid memory, a cancel or an error stores none of them); otherwise one
        transaction per EMBED_BATCH memories (an error stores the windows of EMBED_WINDOW
        memories before it). `progress(n)` gets the number processed so far, in EMBED_BATCH
        steps; `in_transaction(conn, report)` runs in the (last) transaction, e.g. to record an
        import.
        """
        t0 = time.perf_counter()
        report = IngestReport()
        seen: set[tuple[str, str]] = set()
        pending: list[tuple[NewMemory, np.ndarray]] = []
        spill: EncryptedSpill | None = None
        done = 0

        window_size = max(self._batch, EMBED_WINDOW)

        def windows() -> Iterator[list[NewMemory]]:
            window: list[NewMemory] = []
            for m in memories:
                window.append(normalise(m))
                if len(window) >= window_size:
                    yield window
                    window = []
            if window:
                yield window

        def batches() -> Iterator[tuple[int, list[tuple[NewMemory, np.ndarray]]]]:
            """(memories taken, the fresh ones with vectors) per EMBED_BATCH step."""
            for window in windows():
                if cancelled is not None and cancelled():
                    raise Cancelled("The import was cancelled; nothing from it was stored.")
                prepared = self._prepare(window, seen, report)
                for i in range(0, len(prepared), self._batch):
                    step = prepared[i : i + self._batch]
                    yield len(step), [x for x in step if x is not None]

        try:
            for taken, items in batches():
                if cancelled is not None and cancelled():
                    raise Cancelled("The import was cancelled; nothing from it was stored.")
                done += taken
                if one_transaction:
                    pending.extend(items)
                    if self._spill_dir is not None and len(pending) >= SPILL_CHUNK:
                        if spill is None:
                            spill = EncryptedSpill(self._spill_dir)
                        spill.append(pending)
                        pending = []
                else:
                    written = self._write(
                        functools.partial(self._write_rows, items=items, report=report)
                    )
                    report.ids.extend(mid for mid, _ in written)
                    self._to_index(written)
                if progress is not None:
                    progress(done)
            if cancelled is not None and cancelled():
                raise Cancelled("The import was cancelled; nothing from it was stored.")

            def chunks() -> Iterator[list[tuple[NewMemory, np.ndarray]]]:
                if spill is not None:
                    yield from spill
                if pending:
                    yield pending

            def final(conn: Connection) -> list[tuple[int, np.ndarray]]:
                written: list[tuple[int, np.ndarray]] = []
                if one_transaction:
                    for chunk in chunks():
                        rows = self._write_rows(conn, chunk, report)
                        # Spilled vectors are not kept: they are read back after the commit.
                        written.extend(rows if spill is None else [(m, _NO_VEC) for m, _ in rows])
                report.added = len(report.ids) + len(written)
                if in_transaction is not None:
                    in_transaction(conn, report)
                return written

            if one_transaction or in_transaction is not None:
                written = self._write(final)
                report.ids.extend(mid for mid, _ in written)
                if spill is None:
                    self._to_index(written)
                else:
                    self._index_from_store([mid for mid, _ in written])
        finally:
            if spill is not None:
                spill.close()
        report.added = len(report.ids)
        log.info(
            "ingested %d memories (%d duplicates) in %.0f ms",
            report.added,
            report.duplicates,
            (time.perf_counter() - t0) * 1000,
        )
        return report

"""Erasure that can be proven. An erase is journalled, then carried out in steps:

1. durable first step: the items (and assistant answers that cited them) are marked hidden in
   one transaction, so every search path stops returning them at once;
2. rows, FTS entries (secure-delete), vectors and media keys are deleted in one transaction;
3. media files are removed, the index slots overwritten and the snapshot rewritten, the WAL is
   checkpointed (TRUNCATE) and space reclaimed;
4. the job is closed with a receipt; the audit log keeps what kind of erase and the counts.

A crash anywhere leaves a job that `resume_pending` finishes on the next unlock."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Protocol

from core import audit
from core.db import Connection
from core.errors import BadInput
from core.media import MediaStore
from core.memories import retitle_conversations
from core.store import Store
from core.trust import USER_IDENTITY
from core.types import CHAT

log = logging.getLogger(__name__)

# VACUUM rewrites the whole file; below this size it is cheap enough to do after every erase.
VACUUM_MAX_BYTES = 64 * 1024 * 1024
BATCH = 500
# FTS5's secure-delete rewrites, for every token of a deleted row, the index pages holding it:
# cheap for a few rows, slow for thousands (8.6 s for 3,400 rows at 100k memories). From this
# many rows on, the rows are deleted plainly and the index is then merged into one segment
# ('optimize', 0.5 s at 100k), which drops the erased entries just as completely. Both run in
# the erase's delete transaction, so a crash leaves secure-delete on.
FTS_BULK_ROWS = 200


class ErasableIndex(Protocol):
    def remove(self, ids: list[int]) -> int:
        """Overwrite and mark deleted; returns how many slots were touched."""
        ...

    def after_erase(self) -> None:
        """Compact if worth it and rewrite the snapshot."""
        ...


@dataclass(slots=True)
class EraseSpec:
    """What to erase. Exactly one selector kind, or `everything`."""

    ids: list[int] | None = None
    since: float | None = None
    until: float | None = None
    app: str | None = None
    title_pattern: str | None = None  # * and ? wildcards, case-insensitive
    domain: str | None = None
    source: str | None = None  # a source kind, "import" for every import, or "import:<fmt>"
    file: str | None = None  # an imported file's path
    everything: bool = False

    def kind(self) -> str:
        if self.everything:
            return "everything"
        if self.ids is not None:
            return "ids"
        for name in ("app", "title_pattern", "domain", "source", "file"):
            if getattr(self, name) is not None:
                return name
        if self.since is not None or self.until is not None:
            return "range"
        raise BadInput(
            "Say what to erase: memory ids, a time range, an app, a window title, "
            "a domain, a source, a file, or everything."
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @staticmethod
    def from_json(text: str) -> EraseSpec:
        return EraseSpec(**json.loads(text))


@dataclass(slots=True)
class Preview:
    memories: int
    by_source: dict[str, int]
    by_app: dict[str, int]
    media_items: int
    derived_answers: int
    oldest: float | None
    newest: float | None
    examples: list[dict[str, Any]] = field(default_factory=list)  # id, time, app, short text

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class Receipt:
    job_id: int
    kind: str
    memories: int = 0
    fts_rows: int = 0
    vectors: int = 0
    media_items: int = 0
    media_files: int = 0
    derived_answers: int = 0
    index_slots: int = 0
    sources: int = 0  # source records (app + window title, import file) left with no memory
    took_ms: float = 0.0
    resumed: bool = False
    phases_ms: dict[str, float] = field(default_factory=dict)  # where the time went

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["took_ms"] = round(self.took_ms, 1)
        d["phases_ms"] = {k: round(v, 1) for k, v in self.phases_ms.items()}
        return d


class _Laps:
    """Records the milliseconds since the previous lap under a name."""

    def __init__(self, into: dict[str, float]) -> None:
        self.into = into
        self.t = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.into[name] = (now - self.t) * 1000
        self.t = now


def _where(spec: EraseSpec) -> tuple[str, list[Any]]:
    """SQL condition selecting the memories of a spec (hidden ones too: resuming needs them)."""
    spec.kind()
    clauses: list[str] = []
    params: list[Any] = []
    if spec.everything:
        return "1", []
    if spec.ids is not None:
        if not spec.ids:
            return "0", []
        clauses.append(f"id IN ({','.join('?' * len(spec.ids))})")
        params.extend(int(i) for i in spec.ids)
    if spec.since is not None or spec.until is not None:
        # A window memory is updated as the window changes: it is in the range when its
        # latest state or any of its earlier versions is.
        lo = -1e18 if spec.since is None else spec.since
        hi = 1e18 if spec.until is None else spec.until
        clauses.append(
            "((time >= ? AND time < ?) OR id IN (SELECT memory_id FROM memory_versions "
            "WHERE time >= ? AND time < ?))"
        )
        params.extend([lo, hi, lo, hi])
    if spec.app is not None:
        clauses.append("lower(app) = lower(?)")
        params.append(spec.app)
    if spec.domain is not None:
        d = spec.domain.lower().strip().lstrip(".")
        clauses.append("(lower(domain) = ? OR lower(domain) LIKE ?)")
        params.extend([d, "%." + d])
    if spec.source is not None:
        if spec.source == "import":
            clauses.append("kind LIKE 'import:%'")
        else:
            clauses.append("kind = ?")
            params.append(spec.source)
    if spec.file is not None:
        clauses.append("file = ?")
        params.append(spec.file)
    if not clauses:  # a title pattern alone is matched in Python, over every memory
        return ("1" if spec.title_pattern is not None else "0"), params
    return " AND ".join(clauses), params


def select_ids(conn: Connection, spec: EraseSpec) -> list[int]:
    where, params = _where(spec)
    ids = [r[0] for r in conn.execute(f"SELECT id FROM memories WHERE {where}", params)]
    if spec.title_pattern is not None:
        pattern = spec.title_pattern.lower()
        if "*" not in pattern and "?" not in pattern:
            pattern = f"*{pattern}*"
        titles = dict(
            conn.execute(
                f"SELECT id, lower(coalesce(title, '')) FROM memories WHERE {where}", params
            )
        )
        ids = [i for i in ids if fnmatchcase(titles.get(i, ""), pattern)]
    return ids


def _derived_citing(conn: Connection, ids: list[int]) -> list[int]:
    out: set[int] = set()
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        out.update(
            r[0]
            for r in conn.execute(
                f"SELECT DISTINCT answer_id FROM citations WHERE memory_id IN ({marks})", chunk
            )
        )
    return sorted(out - set(ids))


def _chunks(ids: list[int], n: int = BATCH) -> list[list[int]]:
    return [ids[i : i + n] for i in range(0, len(ids), n)]


def preview(conn: Connection, spec: EraseSpec, examples: int = 5) -> Preview:
    ids = select_ids(conn, spec)
    visible: list[tuple[Any, ...]] = []
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        visible.extend(
            conn.execute(
                f"SELECT id, kind, app, time, media_id FROM memories "
                f"WHERE hidden = 0 AND id IN ({marks})",
                chunk,
            ).fetchall()
        )
    by_source: dict[str, int] = {}
    by_app: dict[str, int] = {}
    media: set[int] = set()
    for _, kind, app, _, media_id in visible:
        by_source[kind] = by_source.get(kind, 0) + 1
        if app:
            by_app[app] = by_app.get(app, 0) + 1
        if media_id is not None:
            media.add(media_id)
    visible.sort(key=lambda r: r[3], reverse=True)
    times = [r[3] for r in visible]
    shown = visible[:examples]
    # Only the few examples' text is read: a preview of "everything" stays cheap.
    texts: dict[int, str] = {}
    if shown:
        marks = ",".join("?" * len(shown))
        texts = dict(
            conn.execute(
                f"SELECT id, substr(text, 1, 120) FROM memories WHERE id IN ({marks})",
                [r[0] for r in shown],
            ).fetchall()
        )
    return Preview(
        memories=len(visible),
        by_source=by_source,
        by_app=by_app,
        media_items=len(media),
        derived_answers=len(_derived_citing(conn, [r[0] for r in visible])),
        oldest=min(times) if times else None,
        newest=max(times) if times else None,
        examples=[
            {"id": r[0], "time": r[3], "app": r[2], "source": r[1], "text": texts.get(r[0], "")}
            for r in shown
        ],
    )


class Eraser:
    def __init__(
        self, store: Store, media: MediaStore, index: Callable[[], ErasableIndex | None]
    ) -> None:
        self.store = store
        self.media = media
        self.index = index  # the live index, if loaded

    def erase(self, spec: EraseSpec) -> Receipt:
        kind = spec.kind()
        t0 = time.perf_counter()
        now = self.store.now()

        def hide(conn: Connection) -> int:
            ids = select_ids(conn, spec)
            ids += _derived_citing(conn, ids)
            cur = conn.execute(
                "INSERT INTO erase_jobs(created_at, kind, spec, state) VALUES (?,?,?,'hidden')",
                (now, kind, spec.to_json()),
            )
            job = int(cur.lastrowid)
            conn.executemany(
                "INSERT OR IGNORE INTO erase_items(job_id, memory_id) VALUES (?,?)",
                [(job, i) for i in ids],
            )
            for chunk in _chunks(ids):
                conn.execute(
                    f"UPDATE memories SET hidden = 1 WHERE id IN ({','.join('?' * len(chunk))})",
                    chunk,
                )
            return job

        job = self.store.write(hide)
        hidden_ms = (time.perf_counter() - t0) * 1000
        receipt = self._finish(job, kind)
        receipt.phases_ms = {"hide": hidden_ms, **receipt.phases_ms}
        receipt.took_ms = (time.perf_counter() - t0) * 1000
        self._close(job, receipt)
        return receipt

    def resume_pending(self) -> list[Receipt]:
        """Finish erases a crash interrupted (called on unlock, before anything is shown)."""
        rows = (
            self.store.reader()
            .execute("SELECT id, kind FROM erase_jobs WHERE state != 'done' ORDER BY id")
            .fetchall()
        )
        receipts = []
        for job, kind in rows:
            t0 = time.perf_counter()
            receipt = self._finish(job, kind)
            receipt.resumed = True
            receipt.took_ms = (time.perf_counter() - t0) * 1000
            self._close(job, receipt)
            log.info("resumed interrupted erase job %d", job)
            receipts.append(receipt)
        return receipts

    def _finish(self, job: int, kind: str) -> Receipt:
        receipt = Receipt(job_id=job, kind=kind)
        ids = [
            r[0]
            for r in self.store.reader().execute(
                "SELECT memory_id FROM erase_items WHERE job_id = ?", (job,)
            )
        ]

        def delete(conn: Connection) -> list[tuple[str, str | None]]:
            files: list[tuple[str, str | None]] = []
            derived = 0
            source_ids: set[int] = set()
            files_imported: set[str] = set()
            chats: set[int] = set()  # conversations of the chat window that lose a message
            bulk = len(ids) >= FTS_BULK_ROWS
            if bulk:
                _fts_secure_delete(conn, False)
            for chunk in _chunks(ids):
                marks = ",".join("?" * len(chunk))
                derived += conn.execute(
                    f"SELECT count(*) FROM memories WHERE derived = 1 AND id IN ({marks})", chunk
                ).fetchone()[0]
                media_ids = [
                    r[0]
                    for r in conn.execute(
                        f"SELECT media_id FROM memories WHERE media_id IS NOT NULL "
                        f"AND id IN ({marks}) UNION SELECT media_id FROM memory_versions "
                        f"WHERE media_id IS NOT NULL AND memory_id IN ({marks})",
                        chunk + chunk,
                    )
                ]
                files += MediaStore.destroy_keys(conn, media_ids)
                receipt.media_items += len(media_ids)
                receipt.vectors += conn.execute(
                    f"DELETE FROM vectors WHERE memory_id IN ({marks})", chunk
                ).rowcount
                conn.execute(f"DELETE FROM citations WHERE memory_id IN ({marks})", chunk)
                for (conv,) in conn.execute(
                    f"SELECT DISTINCT conversation FROM memories WHERE kind = ? "
                    f"AND id IN ({marks})",
                    [CHAT, *chunk],
                ):
                    if conv is not None and str(conv).isdigit():
                        chats.add(int(conv))
                for sid, path in conn.execute(
                    f"SELECT DISTINCT source_id, file FROM memories WHERE id IN ({marks})", chunk
                ):
                    if sid is not None:
                        source_ids.add(int(sid))
                    if path is not None:
                        files_imported.add(str(path))
                n = conn.execute(f"DELETE FROM memories WHERE id IN ({marks})", chunk).rowcount
                receipt.memories += n
                receipt.fts_rows += n  # the delete trigger removes exactly one FTS row each
            if bulk:
                # Merge every segment into one: the deleted rows' entries cancel out and the
                # old segments' pages are freed (and zeroed: secure_delete is on), so no token
                # of an erased memory is left, as secure-delete would have done row by row.
                conn.execute("INSERT INTO memories_fts(memories_fts) VALUES ('optimize')")
                _fts_secure_delete(conn, True)
            receipt.derived_answers = derived
            retitle_conversations(conn, chats)
            receipt.sources = _drop_orphans(conn, source_ids, files_imported)
            conn.execute(
                "UPDATE erase_jobs SET state = 'deleted', receipt = ? WHERE id = ?",
                (json.dumps({"files": files}), job),
            )
            return files

        state = (
            self.store.reader()
            .execute("SELECT state FROM erase_jobs WHERE id = ?", (job,))
            .fetchone()
        )
        lap = _Laps(receipt.phases_ms)
        if state is not None and state[0] == "hidden":
            self.store.write(delete)
        lap("delete")
        # Only now, with the rows gone, are the index slots overwritten: an index compaction
        # (a rebuild from the vectors table) running meanwhile can no longer bring them back.
        index = self.index()
        if index is not None and ids:
            receipt.index_slots = index.remove(ids)
        lap("index_slots")
        # Files are named in the job until removed, so a crash here is finished on resume.
        row = (
            self.store.reader()
            .execute("SELECT receipt FROM erase_jobs WHERE id = ?", (job,))
            .fetchone()
        )
        pending = json.loads(row[0])["files"] if row and row[0] else []
        receipt.media_files = self.media.remove_files([(a, b) for a, b in pending])
        lap("media_files")
        if index is not None:
            index.after_erase()
        lap("index_snapshot")
        self._reclaim()
        lap("checkpoint_vacuum")
        return receipt

    def _reclaim(self) -> None:
        self.store.checkpoint()
        size = self.store.db_path.stat().st_size
        if size <= VACUUM_MAX_BYTES:
            self.store.write(lambda c: c.execute("VACUUM"), transactional=False)
            self.store.checkpoint()

    def _close(self, job: int, receipt: Receipt) -> None:
        now = self.store.now()

        def close(conn: Connection) -> None:
            conn.execute("DELETE FROM erase_items WHERE job_id = ?", (job,))
            conn.execute(
                # The spec may name an app, a window title or a file: once done, the job keeps
                # only its kind and counts (the audit promise: never content).
                "UPDATE erase_jobs SET state = 'done', spec = '{}', receipt = ? WHERE id = ?",
                (json.dumps(receipt.to_json()), job),
            )
            audit.record(
                conn,
                "erase",
                now,
                kind=receipt.kind,
                memories=receipt.memories,
                vectors=receipt.vectors,
                media=receipt.media_items,
                derived=receipt.derived_answers,
                sources=receipt.sources,
                resumed=receipt.resumed,
                took_ms=round(receipt.took_ms, 1),
            )

        self.store.write(close)
        # The closing write goes through the WAL too: leave it empty, as the erase found it.
        self.store.checkpoint()


def _fts_secure_delete(conn: Connection, on: bool) -> None:
    conn.execute(
        "INSERT INTO memories_fts(memories_fts, rank) VALUES ('secure-delete', ?)", (int(on),)
    )


def _drop_orphans(conn: Connection, source_ids: set[int], files: set[str]) -> int:
    """Source records name the app and window title (or the imported file and conversation)
    the erased memories came from: a source none of whose memories remain goes too, with its
    trust history, unless the user pinned it or it carries evidence against it (flagged,
    rejected, bursts): forgetting that would let a poisoning source start afresh at its prior.
    The same for the record of an imported file."""
    dropped = 0
    for sid in sorted(source_ids):
        dropped += conn.execute(
            "DELETE FROM sources WHERE id = ? AND identity != ? AND pinned IS NULL "
            "AND NOT EXISTS (SELECT 1 FROM memories WHERE source_id = ?) "
            "AND NOT EXISTS (SELECT 1 FROM trust_events WHERE source_id = ? "
            "AND evidence IN ('suspicious', 'rejected', 'burst'))",
            (sid, USER_IDENTITY, sid, sid),
        ).rowcount
    for path in sorted(files):
        conn.execute(
            "DELETE FROM imports WHERE path = ? AND NOT EXISTS "
            "(SELECT 1 FROM memories WHERE file = ?)",
            (path, path),
        )
    return dropped


def retention_cutoff(now: float, max_age_days: int) -> float | None:
    """Memories older than this are past the age limit (None: no age limit)."""
    return now - max_age_days * 86400 if max_age_days > 0 else None


def storage_cutoff(conn: Connection, used_bytes: int, max_bytes: int) -> float | None:
    """The time before which the oldest memories must go to bring usage under the cap.
    Bytes are attributed to memories by time (media by its item, text by its length)."""
    if max_bytes <= 0 or used_bytes <= max_bytes:
        return None
    excess = used_bytes - max_bytes
    freed = 0
    rows = conn.execute(
        "SELECT m.time, length(m.text) + coalesce(md.bytes, 0) + 1600 "
        "FROM memories m LEFT JOIN media md ON md.id = m.media_id "
        "WHERE m.hidden = 0 ORDER BY m.time"
    )
    for t, size in rows:
        freed += size
        if freed >= excess:
            return float(t) + 1e-6
    return float("inf")

"""The memory service: one object, alive while the store is unlocked, that adds memories
(core.ingest), keeps the vector index (core.vector_index) and searches (core.search). The CLI,
the search window and, later, capture, imports and the assistant all go through it."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from datetime import tzinfo
from pathlib import Path
from typing import Any

import numpy as np

from core import audit, units
from core.db import Connection
from core.errors import BadInput, StoreLocked, StoreReadOnly
from core.ingest import MAX_TEXT_CHARS, Cancelled, Ingestor, IngestReport, Inspector
from core.interfaces import Embedder
from core.lanes import LANES, Lane
from core.memories import MEMORY_COLUMNS, get_memory, row_to_memory
from core.search import FusionParams, Searcher
from core.spill import remove_leftovers
from core.store import Store
from core.types import ImportedMessage, Memory, NewMemory, SearchFilters, SearchResults, import_kind
from core.vector_index import IndexHealth, PersistentIndex, VectorIndex

log = logging.getLogger(__name__)

__all__ = ["Cancelled", "IngestReport", "MemoryService"]


class MemoryService:
    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        *,
        inspect: Inspector | None = None,
        tz: tzinfo | None = None,
        fusion: FusionParams | None = None,
        on_added: Callable[[int], None] | None = None,
        background: bool = True,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.model_name = str(getattr(embedder, "name", type(embedder).__name__))
        self._on_added = on_added
        self._ready = threading.Event()
        # Set once the index can answer searches (before it is reconciled; see open()).
        self._searchable = threading.Event()
        self._open_error: BaseException | None = None
        # The open waits on the load lane behind other loads; closed before it started, it
        # never starts (so a lock right after unlock does not wait for other sessions' loads).
        self._life = threading.Lock()
        self._open_started = False
        self._closed = False
        self.health: IndexHealth | None = None
        self.index = PersistentIndex(
            dim=embedder.dim,
            path=store.index_path,
            key=store.key.derive("index"),
            read_conn=store.reader,
            write=store.write,
            background=background,
        )
        self.ingestor = Ingestor(
            write=store.write,
            read_conn=store.reader,
            embedder=embedder,
            model_name=self.model_name,
            index=self._ready_index_sink,
            now=store.now,
            inspect=inspect,
            spill_dir=store.data_dir / "spill",
        )
        remove_leftovers(store.data_dir / "spill")  # a crash's spill files: their key is gone
        self.searcher = Searcher(
            read_conn=store.reader,
            index=self._ready_index,
            embed=lambda texts: embedder.embed(texts),
            now=store.now,
            tz=tz,
            fusion=fusion,
        )

    # -- index life cycle ---------------------------------------------------------------------
    def open(self, *, wait: bool = True) -> None:
        """Load (or rebuild) the index. With wait=False it happens on the load lane; searches
        and inserts wait for it."""
        self._opened = True
        if wait:
            self._open_index()
        else:
            # The lane builds the search fields after the index (_open_index): a search made
            # meanwhile reads rows instead of building them in the user's wait.
            self.searcher.defer_fields()
            LANES.submit(Lane.LOAD, self._open_index, label="vector index open")

    def _open_index(self) -> None:
        with self._life:
            if self._closed:
                return
            self._open_started = True
        try:
            self.health = self.index.open(on_loaded=self._searchable.set)
        except BaseException as e:
            self._open_error = e
            log.exception("the vector index could not be opened")
        finally:
            self._searchable.set()
            # Before inserts may start: units of memories added, changed or orphaned while the
            # units were not kept (a crash between a write and its refresh, an upgrade).
            try:
                self.refresh_units()
            except (StoreLocked, StoreReadOnly):
                # Locked while opening (the next unlock refreshes), or a damaged store open
                # read-only (already said): searches find every memory by itself.
                pass
            except Exception:
                # Searches still find every memory by itself; the next add tries again.
                log.exception("the retrieval units could not be brought up to date")
            # The fields search ranks by, held in memory (core.search_fields): built here so
            # the first search does not pay for it (about 5 s of CPU at 1M memories).
            try:
                self.searcher.warm_fields()
            except StoreLocked:
                pass  # locked while opening: the next session builds its own
            except Exception:
                # Searches bring them up to date themselves (or read rows without them).
                log.exception("the search fields could not be built")
            self._ready.set()

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    def _ready_index(self) -> VectorIndex | None:
        self._searchable.wait()
        return None if self._open_error else self.index.index

    def _ready_index_sink(self) -> PersistentIndex | None:
        self._ready.wait()
        return None if self._open_error else self.index

    def index_health(self) -> dict[str, Any]:
        if not self._ready.is_set():
            return {"count": None, "deleted": None, "generation": None, "snapshot": "loading"}
        doc = self.index.health().to_json()
        if self.health is not None and self.health.snapshot != "ok":
            doc["snapshot"] = self.health.snapshot  # what happened at open: rebuilt / missing
        return doc

    def save_index(self) -> None:
        self._ready.wait()
        self.index.save()

    def close(self, *, save: bool = True) -> None:
        """Before the store locks: save the index snapshot if it changed, drop it from memory."""
        if not getattr(self, "_opened", False):
            return  # never opened (an unlock that failed before): nothing to save or wait for
        with self._life:
            self._closed = True
            if not self._open_started:
                # Still waiting for its turn on the load lane: it will not start now.
                self._open_error = StoreLocked()
                self._searchable.set()
                self._ready.set()
                return
        self._ready.wait()
        self.index.close(save=save and self._open_error is None)

    # -- adding ----------------------------------------------------------------------------------
    def add(self, memories: list[NewMemory]) -> list[int]:
        return self.add_many(memories).ids

    def add_many(
        self,
        memories: Iterable[NewMemory],
        *,
        one_transaction: bool = True,
        progress: Callable[[int], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
        in_transaction: Callable[[Connection, IngestReport], None] | None = None,
    ) -> IngestReport:
        report = self.ingestor.add_many(
            memories,
            one_transaction=one_transaction,
            progress=progress,
            cancelled=cancelled,
            in_transaction=in_transaction,
        )
        if report.added:
            self.refresh_units()
        if report.added and self._on_added is not None:
            self._on_added(report.added)
        return report

    def refresh_units(self, max_steps: int | None = None) -> int:
        """Build the retrieval units and event times of new, changed and orphaned-neighbour
        memories (core.units), one write transaction per chunk; returns how many were done."""
        done = steps = 0
        while max_steps is None or steps < max_steps:
            n = int(self.store.write(units.refresh_step))
            if n == 0:
                break
            done, steps = done + n, steps + 1
        return done

    def set_inspector(self, inspect: Inspector | None) -> None:
        """The trust seam (see core.ingest.Inspector)."""
        from core.ingest import default_inspector

        self.ingestor.inspect = inspect or default_inspector

    def import_file(
        self,
        path: Path,
        fmt: str,
        messages: Iterable[ImportedMessage | NewMemory],
        *,
        progress: Callable[[int], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> dict[str, Any]:
        """Import one parsed file (or notes folder) in one transaction, recorded in the imports
        table. Messages may be ImportedMessage or ready NewMemory (core.importers'
        `as_new_memory`, which carries the provenance). Any error from the parser (a bad line,
        a truncated file) or a cancel rolls the whole file back."""
        path = Path(path)
        digest = hashlib.sha256()
        for part in sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]:
            with open(part, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
        kind = import_kind(fmt)
        rejected: list[dict[str, Any]] = []

        def to_memories() -> Iterator[NewMemory]:
            for n, msg in enumerate(messages, 1):
                if not msg.text or not msg.text.strip():
                    rejected.append(
                        {
                            "external_id": msg.external_id,
                            "n": n,
                            "where": f"message {n}",
                            "reason": "empty",
                        }
                    )
                    continue
                if len(msg.text) > MAX_TEXT_CHARS:
                    rejected.append(
                        {
                            "external_id": msg.external_id,
                            "n": n,
                            "where": f"message {n}",
                            "reason": f"longer than {MAX_TEXT_CHARS} characters",
                        }
                    )
                    continue
                if isinstance(msg, NewMemory):
                    yield msg
                    continue
                yield NewMemory(
                    kind=kind,
                    text=msg.text,
                    time=msg.time,
                    author=msg.author,
                    conversation=msg.conversation,
                    title=msg.conversation,
                    file=str(path),
                    external_id=msg.external_id,
                )

        now = self.store.now()

        def record(conn: Connection, report: IngestReport) -> None:
            conn.execute(
                "INSERT INTO imports(path, format, sha256, time, imported, duplicates, rejected) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    str(path),
                    fmt,
                    digest.hexdigest(),
                    now,
                    report.added,
                    report.duplicates,
                    len(rejected),
                ),
            )
            audit.record(
                conn,
                "imported",
                now,
                format=fmt,
                added=report.added,
                duplicates=report.duplicates,
                rejected=len(rejected),
            )

        report = self.add_many(
            to_memories(),
            one_transaction=True,
            progress=progress,
            cancelled=cancelled,
            in_transaction=record,
        )
        return {
            "path": str(path),
            "format": fmt,
            "imported": report.added,
            "duplicates": report.duplicates,
            "rejected": rejected,
        }

    # -- removing (the erase service builds on these) ---------------------------------------------
    def remove_from_index(self, ids: Iterable[int]) -> int:
        """After the rows are deleted: overwrite and drop their vectors from the index."""
        self._ready.wait()
        return self.index.remove(ids)

    def delete(self, ids: list[int]) -> int:
        """Delete memories (rows, FTS by trigger, vectors by cascade), then the index slots."""
        if not ids:
            return 0

        def run(conn: Connection) -> int:
            n = 0
            for i in range(0, len(ids), 500):
                part = ids[i : i + 500]
                marks = ",".join("?" * len(part))
                n += conn.execute(f"DELETE FROM memories WHERE id IN ({marks})", part).rowcount
            return n

        n = int(self.store.write(run))
        self.remove_from_index(ids)
        self.refresh_units()
        return n

    # -- reading -----------------------------------------------------------------------------------
    def search(
        self,
        query: str,
        filters: SearchFilters | None = None,
        k: int = 20,
        *,
        wait_for_model: bool = True,
        fallback: bool = True,
    ) -> SearchResults:
        """With wait_for_model=False, a search made while the embedding model is still loading
        (seconds after unlock, on a cold start) ranks by words only instead of waiting; the
        caller can search again once `model_ready()`.

        With `fallback` (the search window, the CLI), filters that leave nothing give way to
        an unfiltered search and `SearchResults.fallback` says so; callers that act on the
        results (erase by query) pass fallback=False."""
        mode = "hybrid" if wait_for_model or self.model_ready() else "fts"
        return self.searcher.search(query, filters, k, mode=mode, fallback=fallback)

    def model_ready(self) -> bool:
        return bool(getattr(self.embedder, "loaded", True))

    def warm_up(self) -> Future[None] | None:
        """Load the embedding model on the load lane now, so that the first search does not
        pay for it; None when there is nothing to load."""
        load = getattr(self.embedder, "load", None)
        if load is None or self.model_ready():
            return None

        def run() -> None:
            if self._closed:
                return  # locked before its turn came: the next unlock loads it
            try:
                load()
            except Exception:
                # The first embed raises the same error where the user sees it.
                log.exception("the embedding model could not be loaded ahead of time")

        return LANES.submit(Lane.LOAD, run, label="embedding model load")

    def get(self, memory_id: int) -> Memory | None:
        return get_memory(self.store.reader(), memory_id)

    def neighbours(self, memory_id: int, before: int = 5, after: int = 5) -> list[Memory]:
        """The memory in its context, in time order: the same conversation for chats and
        imports, the same app (or kind) around that time for screens and notes."""
        conn = self.store.reader()
        m = get_memory(conn, memory_id)
        if m is None:
            return []
        if m.conversation:
            scope, args = "conversation = ? AND kind = ?", [m.conversation, m.kind]
        elif m.app:
            scope, args = "app = ?", [m.app]
        else:
            scope, args = "kind = ? AND app IS NULL", [m.kind]
        base = f"SELECT {MEMORY_COLUMNS} FROM memories WHERE hidden = 0 AND {scope} AND "
        earlier = conn.execute(
            base + "(time < ? OR (time = ? AND id < ?)) ORDER BY time DESC, id DESC LIMIT ?",
            [*args, m.time, m.time, m.id, before],
        ).fetchall()
        later = conn.execute(
            base + "(time > ? OR (time = ? AND id > ?)) ORDER BY time, id LIMIT ?",
            [*args, m.time, m.time, m.id, after],
        ).fetchall()
        return (
            [row_to_memory(r) for r in reversed(earlier)] + [m] + [row_to_memory(r) for r in later]
        )

    def day_histogram(self, day_start: float, day_end: float) -> list[tuple[float, int]]:
        """Memories per hour over a day (24 buckets from day_start; on a day with a clock
        change the buckets are day_length / 24 long)."""
        if day_end <= day_start:
            raise BadInput("The day ends before it starts.")
        step = (day_end - day_start) / 24
        counts = [0] * 24
        for bucket, n in self.store.reader().execute(
            "SELECT CAST((time - ?) / ? AS INTEGER) AS b, count(*) FROM memories "
            "WHERE hidden = 0 AND status != 'rejected' AND time >= ? AND time < ? GROUP BY b",
            (day_start, step, day_start, day_end),
        ):
            if 0 <= bucket < 24:
                counts[int(bucket)] += int(n)
        return [(day_start + i * step, counts[i]) for i in range(24)]

    def list_between(self, since: float, until: float, limit: int = 200) -> list[Memory]:
        rows = (
            self.store.reader()
            .execute(
                f"SELECT {MEMORY_COLUMNS} FROM memories WHERE hidden = 0 AND status != 'rejected' "
                "AND time >= ? AND time < ? ORDER BY time DESC, id DESC LIMIT ?",
                (since, until, limit),
            )
            .fetchall()
        )
        return [row_to_memory(r) for r in rows]

    def apps(self) -> list[str]:
        rows = (
            self.store.reader()
            .execute(
                "SELECT DISTINCT app FROM memories WHERE app IS NOT NULL AND hidden = 0 "
                "ORDER BY app"
            )
            .fetchall()
        )
        return [r[0] for r in rows]

    def count(self) -> int:
        return int(
            self.store.reader()
            .execute("SELECT count(*) FROM memories WHERE hidden = 0")
            .fetchone()[0]
        )

    def vector_of(self, memory_id: int) -> np.ndarray | None:
        row = (
            self.store.reader()
            .execute("SELECT vec FROM vectors WHERE memory_id = ?", (memory_id,))
            .fetchone()
        )
        return None if row is None else np.frombuffer(row[0], dtype=np.float32).copy()

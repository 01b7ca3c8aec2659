"""The erase service: previews and erases by ids, range, app, window title, domain, search
query, source, import file or everything (core.erase does the journalled work), announces what
went, enforces retention (age and storage cap) and reports storage usage for Settings."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from core.erase import Eraser, EraseSpec, Preview, Receipt, preview, retention_cutoff
from core.erase import storage_cutoff as _storage_cutoff
from core.errors import BadInput
from core.media import MediaStore
from core.settings import Settings
from core.store import Store
from core.types import SearchFilters, SearchResults

if TYPE_CHECKING:
    from app.memory_service import MemoryService

log = logging.getLogger(__name__)

GB = 1_000_000_000
# What one memory costs besides its text and media: its vector (384 float32) and row overhead.
PER_MEMORY_BYTES = 1600
# A search shows at most this many hits (core.search caps k); "erase what the search shows"
# erases every memory those hits group together.
QUERY_K = 500
# Search always fills its list with the nearest meanings, however far; an erase by query takes
# the hits that match the query's words (`match == "words"`) and lists the meaning-only ones
# as left out, so the preview shows exactly what goes.


class LiveIndex:
    """The memory engine's persistent index, as the Eraser's index protocol: `remove` (called
    once the rows are deleted) overwrites and marks the slots deleted; `after_erase` compacts
    when deleted slots pass the threshold and rewrites the encrypted snapshot, before the erase
    returns (so the snapshot on disk no longer holds the erased vectors)."""

    def __init__(self, memory: MemoryService) -> None:
        self.memory = memory

    def remove(self, ids: list[int]) -> int:
        return int(self.memory.remove_from_index(ids))

    def after_erase(self) -> None:
        self.memory.wait_ready()
        index = self.memory.index
        # A compaction that started before the rows were deleted rebuilt from what was there
        # then: drop whatever the index holds that the vectors table no longer does.
        _, extra = index.reconcile()
        if getattr(index, "_thread", None) is None:
            if index.index.needs_compaction():
                index.compact()  # rebuilds and saves
            elif index.dirty or extra:
                index.save()
            return
        # With the index thread running, a compaction `remove` asked for happens there (a full
        # rebuild: ~35 s at 100k memories); it is about memory and speed, not privacy, since
        # the slots are already overwritten. The snapshot on disk, which still holds the
        # erased vectors, is rewritten now, before the receipt (~1.5 s at 100k). Without a
        # compaction, a snapshot the thread is already writing is waited for, not repeated.
        compacting = index.index.needs_compaction() or getattr(index, "_compact_wanted", False)
        if not compacting:
            index.wait_idle(timeout=600)
        if compacting or index.dirty or extra:
            index.save()


@dataclass(slots=True)
class Usage:
    database: int
    media: int
    index: int
    max_bytes: int
    max_age_days: int

    @property
    def total(self) -> int:
        return self.database + self.media + self.index

    def to_json(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "media": self.media,
            "index": self.index,
            "total": self.total,
            "max_bytes": self.max_bytes,
            "max_age_days": self.max_age_days,
        }


def spec_for_results(results: SearchResults) -> tuple[EraseSpec, list[int]]:
    """Erase exactly what a search showed: every hit in its order, with the near-identical
    captures grouped under it (the "+N alike" it shows). Left out, and returned beside the
    spec so a preview lists them: hits that only resemble the query in meaning, weakly (the
    filler a search always ends with; none of the query's words are in them)."""
    ids: list[int] = []
    left_out: list[int] = []
    seen: set[int] = set()
    for hit in results.hits:
        if hit.match == "meaning":
            left_out.append(hit.id)
            continue
        for mid in hit.group_ids or [hit.id]:
            if mid not in seen:
                seen.add(mid)
                ids.append(mid)
    if not results.query.strip():
        raise BadInput("Type the words to search for; the matching memories are erased.")
    return EraseSpec(ids=ids), left_out


class ErasureService:
    """Alive while unlocked (services.erase). Every method may block: call it off the GUI
    thread."""

    def __init__(
        self,
        store: Store,
        media: MediaStore,
        settings: Settings,
        memory: Callable[[], MemoryService | None],
        announce: Callable[[int], None] | None = None,
        tz: tzinfo | None = None,
    ) -> None:
        self.store = store
        self.media = media
        self.settings = settings
        self._memory = memory
        self._announce = announce
        self.tz = tz
        # One erase at a time: two erases over the same rows would each count them.
        self._lock = threading.Lock()
        self.eraser = Eraser(store, media, self._index)

    def _index(self) -> LiveIndex | None:
        memory = self._memory()
        return LiveIndex(memory) if memory is not None else None

    # -- specs ---------------------------------------------------------------------------------
    def spec_for_query(
        self, query: str, filters: SearchFilters | None = None, k: int = QUERY_K
    ) -> EraseSpec:
        """What a search for `query` (with these filters and k) shows; see spec_for_results."""
        if not query.strip():
            raise BadInput("Type the words to search for; the matching memories are erased.")
        memory = self._memory()
        if memory is None:
            from core.errors import StoreLocked

            raise StoreLocked()
        # Never widened: erasing by query must stay within the filters given.
        return spec_for_results(memory.search(query, filters, k, fallback=False))[0]

    def spec_for_last(self, seconds: float) -> EraseSpec:
        now = self.store.now()
        return EraseSpec(since=now - seconds, until=now + 1.0)

    # -- preview and erase -----------------------------------------------------------------
    def preview(self, spec: EraseSpec, examples: int = 5) -> Preview:
        return preview(self.store.reader(), spec, examples)

    def erase(self, spec: EraseSpec) -> Receipt:
        spec.kind()  # refuse an empty spec before anything is journalled
        with self._lock:
            receipt = self.eraser.erase(spec)
            if spec.everything or spec.kind() == "range":
                # Screen changes still waiting to be read from that time go too.
                from core.capture.backlog import FrameBacklog

                FrameBacklog(self.store).erase_range(
                    None if spec.everything else spec.since,
                    None if spec.everything else spec.until,
                )
        log.info(
            "erase job %d (%s): %d memories, %d media items in %.0f ms",
            receipt.job_id,
            receipt.kind,
            receipt.memories,
            receipt.media_items,
            receipt.took_ms,
        )
        if receipt.memories and self._announce is not None:
            self._announce(receipt.memories)
        return receipt

    def erase_ids(self, ids: list[int]) -> Receipt:
        return self.erase(EraseSpec(ids=[int(i) for i in ids]))

    def erase_query(self, query: str, filters: SearchFilters | None = None) -> Receipt:
        return self.erase(self.spec_for_query(query, filters))

    def forget_last(self, seconds: float) -> Receipt:
        return self.erase(self.spec_for_last(seconds))

    def resume_pending(self, *, with_index: bool = True) -> list[Receipt]:
        """Finish erases a crash interrupted. On unlock this runs before the index loads
        (with_index=False): the rows go first, and the index's reconciliation on open then
        overwrites and drops the vectors whose rows are gone."""
        eraser = self.eraser if with_index else Eraser(self.store, self.media, lambda: None)
        with self._lock:
            receipts = eraser.resume_pending()
        removed = sum(r.memories for r in receipts)
        if removed and self._announce is not None:
            self._announce(removed)
        return receipts

    # -- usage and retention -------------------------------------------------------------------
    def usage(self) -> Usage:
        data = self.store.data_dir
        db = sum(p.stat().st_size for p in (data / "mnemo.db", data / "mnemo.db-wal") if p.exists())
        # Free pages left by an erase (the database is only rewritten when small) are reused
        # by new memories: they are not usage, or retention would erase again and again.
        conn = self.store.reader()
        free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
        page = int(conn.execute("PRAGMA page_size").fetchone()[0])
        db = max(0, db - free * page)
        index = self.store.index_path.stat().st_size if self.store.index_path.exists() else 0
        return Usage(
            database=db,
            media=self.media.total_bytes(),
            index=index,
            max_bytes=int(float(self.settings.get("storage.max_gb")) * GB),
            max_age_days=int(self.settings.get("storage.max_age_days")),
        )

    def usage_by_day(self, days: int = 30) -> list[dict[str, Any]]:
        """Memories and estimated bytes per local day, oldest first, ending today."""
        now = datetime.fromtimestamp(self.store.now(), self.tz).astimezone(self.tz)
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        starts = [(today - timedelta(days=days - 1 - i)).timestamp() for i in range(days)]
        end = (today + timedelta(days=1)).timestamp()
        counts = [0] * days
        sizes = [0] * days

        def bucket(t: float) -> int:
            lo, hi = 0, days - 1
            while lo < hi:  # the last start <= t (days vary in length around clock changes)
                mid = (lo + hi + 1) // 2
                if starts[mid] <= t:
                    lo = mid
                else:
                    hi = mid - 1
            return lo

        conn = self.store.reader()
        for t, size in conn.execute(
            "SELECT time, length(text) FROM memories WHERE hidden = 0 AND time >= ? AND time < ?",
            (starts[0], end),
        ):
            b = bucket(t)
            counts[b] += 1
            sizes[b] += int(size) + PER_MEMORY_BYTES
        for t, size in conn.execute(
            "SELECT time, bytes FROM media WHERE time >= ? AND time < ?", (starts[0], end)
        ):
            sizes[bucket(t)] += int(size)
        return [{"day": starts[i], "memories": counts[i], "bytes": sizes[i]} for i in range(days)]

    def usage_by_app(self, top: int = 10) -> list[dict[str, Any]]:
        """The apps (or, for chats, notes and imports, the source) holding the most memories."""
        rows = (
            self.store.reader()
            .execute(
                "SELECT coalesce(m.app, m.kind) AS who, count(*), "
                "sum(length(m.text)) + count(*) * ? FROM memories m WHERE m.hidden = 0 "
                "GROUP BY who ORDER BY count(*) DESC, who LIMIT ?",
                (PER_MEMORY_BYTES, top),
            )
            .fetchall()
        )
        media = dict(
            self.store.reader()
            .execute("SELECT app, sum(bytes) FROM media WHERE app IS NOT NULL GROUP BY app")
            .fetchall()
        )
        return [
            {"app": who, "memories": int(n), "bytes": int(size or 0) + int(media.get(who) or 0)}
            for who, n, size in rows
        ]

    def retention_specs(self) -> list[EraseSpec]:
        """What the retention settings say must go now (oldest first), without erasing."""
        specs: list[EraseSpec] = []
        conn = self.store.reader()
        cutoff = retention_cutoff(self.store.now(), int(self.settings.get("storage.max_age_days")))
        if cutoff is not None and _any_before(conn, cutoff):
            specs.append(EraseSpec(until=cutoff))
        usage = self.usage()
        cut = _storage_cutoff(conn, usage.total, usage.max_bytes)
        if cut is not None and (cutoff is None or cut > cutoff) and _any_before(conn, cut):
            specs.append(
                EraseSpec(everything=True) if cut == float("inf") else EraseSpec(until=cut)
            )
        return specs

    def enforce_retention(self) -> list[Receipt]:
        """Erase what is past the age limit, then the oldest memories until storage is under
        the cap; through the same journalled path as every erase."""
        receipts = []
        for spec in self.retention_specs():
            receipts.append(self.erase(spec))
        if receipts:
            log.info(
                "retention erased %d memories in %d jobs",
                sum(r.memories for r in receipts),
                len(receipts),
            )
        return receipts


def _any_before(conn: Any, cutoff: float) -> bool:
    return (
        conn.execute("SELECT 1 FROM memories WHERE time < ? LIMIT 1", (cutoff,)).fetchone()
        is not None
    )

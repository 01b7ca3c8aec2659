"""Trust review as a service (DESIGN.md "Trust review"): the ingest inspector that gives every
memory its source and trust and quarantines suspicious ones, and the review queue, approve /
reject, pins, sources and their history that the panel and `mnemo trust` use."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from core import suspicion as su
from core import trust as tr
from core.clock import utc_iso
from core.db import Connection
from core.erase import Eraser, EraseSpec, Receipt
from core.errors import BadInput
from core.ingest import DEFAULT_TRUST, KIND_TRUST, Provenance
from core.settings import declaration
from core.types import OK, QUARANTINED, REJECTED, NewMemory

if TYPE_CHECKING:
    from app.memory_service import MemoryService
    from app.session import Session

log = logging.getLogger(__name__)

QUARANTINE_KEY = "trust.quarantine"
PREVIEW_CHARS = 600
# Flags set before ingest (the capture step judges hidden text from the pixels) arrive as
# readable reasons only; these prefixes recover their codes so trust events name them.
_PRESET_CODES = (
    ("Contains text too small", su.HIDDEN_TINY),
    ("Contains text nearly the same colour", su.HIDDEN_LOW_CONTRAST),
)
PRESET_CODE = "flagged_at_capture"
PRESET_REASON = "Flagged as suspicious when it was captured."


# ---------------------------------------------------------------- the ingest inspector
def quarantine_enabled(conn: Connection) -> bool:
    """The trust.quarantine setting, read on the given connection (the writer's, inside the
    ingest transaction, so a change applies from the next memory on)."""
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (QUARANTINE_KEY,)).fetchone()
    d = declaration(QUARANTINE_KEY)
    if row is None:
        return bool(d.default)
    try:
        return bool(d.validate(json.loads(row[0])))
    except (BadInput, ValueError):
        return bool(d.default)


def preset_flags(memory: NewMemory) -> list[su.Flag]:
    """Flags a caller set before ingest (status quarantined and/or reasons), as Flag values."""
    if memory.status != QUARANTINED and not memory.reasons:
        return []
    flags = []
    for reason in memory.reasons or [PRESET_REASON]:
        code = next((c for prefix, c in _PRESET_CODES if reason.startswith(prefix)), PRESET_CODE)
        flags.append(su.Flag(code, reason, su.QUARANTINE_SEVERITY))
    return flags


def sync_source_trust(
    conn: Connection, source_id: int, score: float, now: float | None = None
) -> int:
    """Keep memories.trust in step with the source (core.trust.TrustRepository.sync_memories):
    unflagged memories carry its score, a flagged one its own lower score, so a neighbour's
    flags never sink a memory further than they sink the source."""
    return tr.TrustRepository(conn).sync_memories(source_id, score, now)


def sync_all_trust(conn: Connection, now: float) -> int:
    """Every source's memories to its current score (idle decay included)."""
    repo = tr.TrustRepository(conn)
    return sum(sync_source_trust(conn, s.id, s.score, now) for s in repo.list_sources(now))


class TrustInspector:
    """The core.ingest.Inspector for the app: source identity, suspicion flags, quarantine and
    trust evidence, all in the ingest transaction. Assistant answers (derived) skip all of it:
    they are never evidence."""

    def __init__(self, now: Callable[[], float], bursts: tr.BurstTracker | None = None) -> None:
        # Trust bookkeeping runs on the wall clock, not the memory's own time: an import of
        # 2019 messages is written now, and dating its evidence 2019 would decay it away.
        self._now = now
        self.bursts = bursts or tr.BurstTracker()
        su.ready()  # a missing or damaged detector weights file stops startup with a clear error

    def __call__(self, conn: Connection, memory: NewMemory) -> Provenance:
        if memory.derived:
            return Provenance(None, KIND_TRUST.get(memory.kind, DEFAULT_TRUST))
        now = self._now()
        repo = tr.TrustRepository(conn)
        key, label = tr.source_identity(
            memory.kind,
            memory.app,
            memory.domain,
            memory.title,
            memory.file,
            memory.conversation,
            author=memory.author,
        )
        source_id, _ = repo.get_or_create(key, memory.kind, label, now)
        if memory.flags is not None:  # inspected by the caller (a screen, with its picture)
            flags = list(memory.flags)
            if not su.should_quarantine(flags):
                # The rules ran before the vector existed; the embedding model reads it now.
                flags += su.model_flags(memory.text, vector=memory.vector)
        else:
            flags = preset_flags(memory)
            have = {f.code for f in flags}
            found = su.inspect(
                memory.text, boxes=memory.boxes, image=None, kind=memory.kind, vector=memory.vector
            )
            flags += [f for f in found if f.code not in have]
        flagged = su.should_quarantine(flags)
        if flagged:
            reasons = list(memory.reasons)
            reasons += [r for r in su.reasons(flags) if r not in reasons]
            memory.reasons = reasons
        # Quarantine stays on for "always" sources too: a pinned site can still be hijacked.
        # With the setting off, flags are still evidence against the source.
        if flagged and quarantine_enabled(conn):
            memory.status = QUARANTINED
        elif memory.status == QUARANTINED:
            memory.status = OK
        before = repo.get(source_id, now).score

        def after_insert(c: Connection, memory_id: int) -> None:
            r = tr.TrustRepository(c)
            r.note_write(source_id, now)
            if flagged:
                r.record(source_id, tr.suspicious(flags, memory_id), now)
            burst = self.bursts.note_write(source_id, memory.kind, now)
            if burst is not None:
                r.record(source_id, burst, now)
            score = r.get(source_id, now).score
            # A flagged memory also gets its own, lower score (even when the source's did not
            # move, e.g. a pinned source).
            if flagged or abs(score - before) > 1e-9:
                sync_source_trust(c, source_id, score, now)

        return Provenance(source_id, before, after_insert)


# ---------------------------------------------------------------- what the panel shows
@dataclass(slots=True)
class ReviewItem:
    """One quarantined memory in the review queue. `preview` is plain text (never HTML)."""

    id: int
    time: float
    kind: str
    source_id: int | None
    source: str
    source_trust: float | None
    reasons: list[str]
    preview: str
    app: str | None = None
    title: str | None = None
    media_id: int | None = None
    region: dict[str, int] | None = None

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["time"] = utc_iso(self.time)
        if self.source_trust is not None:
            doc["source_trust"] = round(self.source_trust, 4)
        return doc


@dataclass(slots=True)
class SourceInfo:
    id: int
    kind: str
    identity: str
    label: str
    trust: float  # effective score: the mean, or 1 / 0 when pinned
    mean: float
    alpha: float
    beta: float
    pinned: str | None
    writes: int
    last_write: float | None
    quarantined: int = 0

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        for k in ("trust", "mean", "alpha", "beta"):
            doc[k] = round(doc[k], 4)
        doc["last_write"] = utc_iso(self.last_write) if self.last_write else None
        return doc


@dataclass(slots=True)
class ReviewResult:
    done: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    receipt: Receipt | None = None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"done": self.done, "skipped": self.skipped}
        if self.receipt is not None:
            doc["receipt"] = self.receipt.to_json()
        return doc


class _EraseIndex:
    """The live vector index as core.erase wants it."""

    def __init__(self, memory: MemoryService) -> None:
        self.memory = memory

    def remove(self, ids: list[int]) -> int:
        return self.memory.remove_from_index(ids)

    def after_erase(self) -> None:
        self.memory.save_index()


def _preview(text: str) -> str:
    text = text.strip()
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1].rstrip() + "…"


def _chunks(ids: list[int], n: int = 500) -> Iterable[list[int]]:
    for i in range(0, len(ids), n):
        yield ids[i : i + n]


# ---------------------------------------------------------------- the service
class TrustService:
    """Alive while unlocked (services.trust). Every method may block: call it off the GUI
    thread."""

    def __init__(self, services: Session) -> None:
        self.services = services
        self.inspector = TrustInspector(services.clock.now)

    def attach(self) -> None:
        """Become the memory service's inspector and bring memories.trust up to date (idle
        decay since the last session)."""
        self.services.require_memory().set_inspector(self.inspector)
        now = self.services.clock.now()

        def synced(fut: Any) -> None:
            if fut.exception() is None and fut.result():
                log.info("trust of %d memories brought up to date", fut.result())

        # Queued, not awaited: writes wait for the integrity check that every unlock starts,
        # and a damaged store (read-only) refuses it.
        self.services.store.submit_write(lambda c: sync_all_trust(c, now)).add_done_callback(synced)

    def _announce(self, removed: int = 0) -> None:
        from app.session import Changes

        self.services.announce(Changes(memories_removed=removed, trust=True))

    # -- reading
    def pending_count(self) -> int:
        self.services.require_unlocked()
        row = (
            self.services.store.reader()
            .execute(
                "SELECT count(*) FROM memories WHERE status = ? AND hidden = 0", (QUARANTINED,)
            )
            .fetchone()
        )
        return int(row[0])

    def queue(self, limit: int = 500) -> list[ReviewItem]:
        """Quarantined memories, newest first, with their source and reasons."""
        self.services.require_unlocked()
        conn = self.services.store.reader()
        rows = conn.execute(
            "SELECT m.id, m.time, m.kind, m.source_id, s.label, m.reasons, m.text, m.app, "
            "m.title, m.media_id, m.region FROM memories m LEFT JOIN sources s "
            "ON s.id = m.source_id WHERE m.status = ? AND m.hidden = 0 "
            "ORDER BY m.time DESC, m.id DESC LIMIT ?",
            (QUARANTINED, limit),
        ).fetchall()
        scores = tr.TrustRepository(conn).scores(
            [r[3] for r in rows if r[3] is not None], self.services.clock.now()
        )
        items = []
        for mid, t, kind, sid, label, reasons, text, app, title, media_id, region in rows:
            items.append(
                ReviewItem(
                    id=mid,
                    time=t,
                    kind=kind,
                    source_id=sid,
                    source=label or kind,
                    source_trust=scores.get(sid) if sid is not None else None,
                    reasons=json.loads(reasons) if reasons else [],
                    preview=_preview(text),
                    app=app,
                    title=title,
                    media_id=media_id,
                    region=json.loads(region) if region else None,
                )
            )
        return items

    def sources(self) -> list[SourceInfo]:
        """Every source, lowest trust first, with how many of its memories wait for review."""
        self.services.require_unlocked()
        conn = self.services.store.reader()
        waiting = dict(
            conn.execute(
                "SELECT source_id, count(*) FROM memories WHERE status = ? AND hidden = 0 "
                "GROUP BY source_id",
                (QUARANTINED,),
            ).fetchall()
        )
        return [
            SourceInfo(
                id=s.id,
                kind=s.kind,
                identity=s.identity,
                label=s.label,
                trust=s.score,
                mean=s.trust.mean,
                alpha=s.trust.alpha,
                beta=s.trust.beta,
                pinned=s.pinned,
                writes=s.writes,
                last_write=s.last_write_at,
                quarantined=int(waiting.get(s.id, 0)),
            )
            for s in tr.TrustRepository(conn).list_sources(self.services.clock.now())
        ]

    def history(self, source_id: int) -> list[dict[str, Any]]:
        """The source's trust events, oldest first (codes and counts, never content)."""
        self.services.require_unlocked()
        events = tr.TrustRepository(self.services.store.reader()).history(source_id)
        return [
            {
                "time": utc_iso(e.time),
                "t": e.time,
                "evidence": e.evidence,
                "detail": e.detail,
                "memory_id": e.memory_id,
                "d_alpha": round(e.d_alpha, 4),
                "d_beta": round(e.d_beta, 4),
                "alpha": round(e.alpha, 4),
                "beta": round(e.beta, 4),
                "trust": round(e.alpha / (e.alpha + e.beta), 4),
            }
            for e in events
        ]

    @staticmethod
    def usable_for_answers(hit: Any) -> bool:
        """May this search hit (or Memory) be evidence for an answer? Only approved content
        (status ok) from a source trusted at least trust.ANSWER_MIN_TRUST; never answers."""
        if getattr(hit, "status", OK) != OK or getattr(hit, "derived", False):
            return False
        return tr.usable_in_answers(float(hit.trust))

    # -- deciding
    def _sources_of(self, conn: Connection, ids: list[int]) -> dict[int, tuple[int | None, str]]:
        out: dict[int, tuple[int | None, str]] = {}
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            for mid, sid, status in conn.execute(
                f"SELECT id, source_id, status FROM memories WHERE hidden = 0 AND derived = 0 "
                f"AND id IN ({marks})",
                chunk,
            ):
                out[mid] = (sid, status)
        return out

    def approve(self, ids: Iterable[int]) -> ReviewResult:
        """Quarantined memories become ordinary ones; each approval raises its source (taking
        back what its flags cost). Ids that are not waiting for review are skipped."""
        self.services.require_unlocked()
        wanted = list(dict.fromkeys(int(i) for i in ids))
        result = ReviewResult()
        now = self.services.clock.now()

        def run(conn: Connection) -> None:
            repo = tr.TrustRepository(conn)
            found = self._sources_of(conn, wanted)
            touched: set[int] = set()
            for mid in wanted:
                sid, status = found.get(mid, (None, ""))
                if status != QUARANTINED:
                    result.skipped.append(mid)
                    continue
                conn.execute("UPDATE memories SET status = ? WHERE id = ?", (OK, mid))
                if sid is not None:
                    repo.record(sid, tr.approved(mid), now)
                    touched.add(sid)
                result.done.append(mid)
            for sid in touched:
                sync_source_trust(conn, sid, repo.get(sid, now).score, now)

        self.services.store.write(run)
        log.info("approved %d memories (%d skipped)", len(result.done), len(result.skipped))
        if result.done:
            self._announce()
        return result

    def reject(self, ids: Iterable[int]) -> ReviewResult:
        """Lower each memory's source strongly, then erase the memories through the erasure
        path (rows, FTS, vectors, media, answers that cited them). Works on quarantined and
        ordinary memories alike: the user may reject anything they find."""
        self.services.require_unlocked()
        wanted = list(dict.fromkeys(int(i) for i in ids))
        result = ReviewResult()
        now = self.services.clock.now()

        def run(conn: Connection) -> None:
            repo = tr.TrustRepository(conn)
            found = self._sources_of(conn, wanted)
            touched: set[int] = set()
            for mid in wanted:
                if mid not in found or found[mid][1] == REJECTED:
                    result.skipped.append(mid)
                    continue
                sid = found[mid][0]
                # Rejected at once, so it leaves the queue and every search even if the erase
                # below is interrupted (it then resumes from its journal on the next unlock).
                conn.execute("UPDATE memories SET status = ? WHERE id = ?", (REJECTED, mid))
                if sid is not None:
                    repo.record(sid, tr.rejected(mid), now)
                    touched.add(sid)
                result.done.append(mid)
            for sid in touched:
                sync_source_trust(conn, sid, repo.get(sid, now).score, now)

        self.services.store.write(run)
        if result.done:
            t0 = time.perf_counter()
            result.receipt = self._erase(result.done)
            log.info(
                "rejected and erased %d memories in %.0f ms",
                len(result.done),
                (time.perf_counter() - t0) * 1000,
            )
            self._announce(removed=len(result.done))
        return result

    def _erase(self, ids: list[int]) -> Receipt:
        spec = EraseSpec(ids=list(ids))
        erase = getattr(self.services, "erase", None)
        if erase is not None and callable(getattr(erase, "erase", None)):
            return erase.erase(spec)  # type: ignore[no-any-return]
        memory = self.services.require_memory()
        media = self.services.media
        assert media is not None
        return Eraser(self.services.store, media, lambda: _EraseIndex(memory)).erase(spec)

    def set_pinned(self, source_id: int, pinned: str | None) -> None:
        """'always' / 'never' trust this source, or None to go back to its computed score."""
        self.services.require_unlocked()
        if pinned is not None and pinned not in tr.PINS:
            raise BadInput("Choose 'always', 'never', or clear the choice.")
        now = self.services.clock.now()

        def run(conn: Connection) -> None:
            repo = tr.TrustRepository(conn)
            try:
                repo.set_pinned(source_id, pinned, now)
            except KeyError:
                raise BadInput(f"There is no source {source_id}.") from None
            sync_source_trust(conn, source_id, repo.get(source_id, now).score, now)

        self.services.store.write(run)
        log.info("source %d pinned: %s", source_id, pinned or "cleared")
        self._announce()

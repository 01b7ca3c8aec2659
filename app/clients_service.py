"""Connected apps as a service: the gate every local AI client goes through (search, get_memory,
timeline, remember, each checked against the client's consent, scope and trust, each read
logged), and what the user does about clients (allow, scope, cut off, read log, confirm or reject
a write, erase a client with everything it wrote). The MCP server and the CLI both call this."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from core import audit
from core import clients as cl
from core import trust as tr
from core.capture.exclusions import ExclusionRules
from core.clock import utc_iso
from core.db import Connection
from core.erase import EraseSpec
from core.errors import BadInput
from core.ingest import IngestReport, normalise_text
from core.memories import get_memories, get_memory
from core.redaction import RedactionSettings, redact
from core.types import API, HL_END, HL_START, QUARANTINED, Memory, NewMemory, SearchFilters

if TYPE_CHECKING:
    from app.services import Services

log = logging.getLogger(__name__)

MAX_WRITE_CHARS = 20_000
MAX_K = 50
# A search asks the engine for this many times k (capped) so that what the scope filters out
# rarely leaves the client short; the scope is applied after, on the rows themselves.
OVERFETCH = 4
TIMELINE_MAX_MEMORIES = 2000
TIMELINE_MAX_SPAN_S = 31 * 86400.0
EXCERPT_CHARS = 240
# Writes per client per minute, counted in the store (so every server process and the CLI see
# the same count). An assistant that files a note per exchange writes a few a minute; beyond
# RATE_HOLD a minute its writes wait for review (a flood is held, not lost), beyond RATE_REFUSE
# they are refused. The trust machinery's own burst evidence (core.trust.BURST_LIMITS) comes
# on top and lowers the client's trust.
RATE_WINDOW_S = 60.0
RATE_HOLD = 10
RATE_REFUSE = 30
# Probation: while a note of the client that the detector flagged waits for review (and was
# flagged less than a day ago), everything else it writes waits too. A client caught writing an
# injection may also be writing what the detector cannot see (quiet misinformation), and its
# trust, banked over weeks, only collapses once the user rejects. Approving the flagged note
# (a false positive) ends probation at once; a day bounds what one false positive costs.
PROBATION_S = 86400.0


@dataclass(slots=True)
class ClientView:
    """A client as the Connected apps page and `mnemo clients list` show it."""

    name: str
    status: str
    scope: cl.Scope
    trust: float | None
    alpha: float | None
    beta: float | None
    writes: int
    waiting: int  # its writes waiting in the review queue
    reads: int
    declared_name: str | None
    created_at: float
    last_seen_at: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "scope": self.scope.to_json(),
            "trust": None if self.trust is None else round(self.trust, 4),
            "alpha": None if self.alpha is None else round(self.alpha, 4),
            "beta": None if self.beta is None else round(self.beta, 4),
            "writes": self.writes,
            "waiting_review": self.waiting,
            "reads": self.reads,
            "declared_name": self.declared_name,
            "created": utc_iso(self.created_at),
            "last_seen": utc_iso(self.last_seen_at) if self.last_seen_at else None,
        }


def _clean(text: str | None, secrets: RedactionSettings) -> str | None:
    """Outgoing text: secrets redacted again (defence in depth: capture redacts before storage,
    but typed notes and older imports may hold one)."""
    if text is None:
        return None
    return redact(text, secrets).text


class ClientsService:
    """Alive while unlocked (services.clients). Every method may block (SQL): never call it on
    the GUI thread."""

    def __init__(self, services: Services) -> None:
        self.services = services

    # ------------------------------------------------------------------ plumbing
    def _now(self) -> float:
        return self.services.clock.now()

    def _write(self, fn: Any) -> Any:
        self.services.require_unlocked()
        return self.services.store.write(fn)

    def _reader(self) -> Connection:
        self.services.require_unlocked()
        return self.services.store.reader()

    def _privacy(self) -> ExclusionRules:
        get = self.services.settings.get
        try:
            return ExclusionRules.from_user(
                get("privacy.excluded_apps"),
                get("privacy.excluded_titles"),
                get("privacy.excluded_domains"),
            )
        except BadInput:
            # Fail closed, as capture does: exclusions that do not parse let nothing out.
            raise cl.ClientRefused(
                "Mnemo's excluded apps or windows cannot be read, so nothing is shared with "
                "connected apps. Fix them in Settings → Privacy."
            ) from None

    def _secrets(self) -> RedactionSettings:
        return RedactionSettings.from_settings(self.services.settings.get)

    def _audit(self, event: str, client: cl.Client, **detail: Any) -> None:
        now = self._now()
        self._write(lambda c: audit.record(c, event, now, client=client.id, **detail))

    # ------------------------------------------------------------------ the gate
    def connect(self, name: str, token: str | None, declared_name: str | None = None) -> cl.Client:
        """The client, checked afresh (a cut-off applies at the very next call). An unknown
        name is remembered as pending, so the user can allow it from the Connected apps page."""
        name = cl.normalise_name(name)
        now = self._now()

        def run(conn: Connection) -> tuple[cl.Client | None, str | None]:
            repo = cl.ClientRepository(conn)
            known = repo.get(name) or repo.request(name, declared_name, now)
            try:
                client = repo.verify(name, token)
            except cl.ClientRefused as e:
                repo.seen(known.id, declared_name, now)  # the user sees it knocked, and when
                return None, str(e)
            repo.seen(client.id, declared_name, now)
            return client, None

        client, refusal = self._write(run)
        if client is None:
            log.info("connected app %s refused", name)
            raise cl.ClientRefused(refusal or "refused")
        return client

    def _rule(self, client: cl.Client) -> cl.ReadRule:
        return cl.ReadRule(client, self._privacy())

    def _log(self, client: cl.Client, tool: str, ids: Iterable[int]) -> None:
        ids = list(ids)
        if not ids:
            return
        now = self._now()
        self._write(lambda c: cl.ClientRepository(c).log_reads(client.id, tool, ids, now))

    def search(
        self,
        client: cl.Client,
        query: str,
        *,
        k: int = 10,
        since: float | None = None,
        until: float | None = None,
        app: str | None = None,
        source: str | None = None,
    ) -> dict[str, Any]:
        """Search as the app does (same filters, same hit fields), narrowed to the client's
        scope memory by memory. Hits it may not see are dropped before anything is logged."""
        if not 1 <= k <= MAX_K:
            raise BadInput(f"k must be between 1 and {MAX_K}.")
        memory = self.services.require_memory()
        rule = self._rule(client)
        filters = SearchFilters(since=since, until=until, app=app, source=source)
        results = memory.search(query, filters, min(500, k * OVERFETCH))
        rows = {m.id: m for m in get_memories(self._reader(), [h.id for h in results.hits])}
        secrets = self._secrets()
        hits = []
        for h in results.hits:
            m = rows.get(h.id)
            if m is None or not rule.allows(m):
                continue
            doc = h.to_json()
            doc["snippet"] = (
                (_clean(h.snippet, secrets) or "").replace(HL_START, "").replace(HL_END, "")
            )
            doc["title"] = _clean(h.title, secrets)
            hits.append(doc)
            if len(hits) == k:
                break
        self._log(client, "search", [h["id"] for h in hits])
        f = results.filters
        return {
            "query": results.query,
            "filters": {
                "since": utc_iso(f.since) if f.since is not None else None,
                "until": utc_iso(f.until) if f.until is not None else None,
                "app": f.app,
                "source": f.source,
            },
            "hits": hits,
        }

    def _visible(self, client: cl.Client, memory_id: int) -> Memory:
        m = get_memory(self._reader(), int(memory_id))
        if m is None or not self._rule(client).allows(m):
            # The same answer whether it never existed, was erased or is out of scope: a client
            # must not learn that something it may not see exists.
            raise BadInput(f"There is no memory {memory_id} this app may read.")
        return m

    def get_memory(
        self, client: cl.Client, memory_id: int, *, screenshot: bool = False
    ) -> tuple[dict[str, Any], tuple[bytes, str] | None]:
        """The memory's text, time, source and provenance; with `screenshot`, its image bytes
        and type too, when the client's scope allows screenshots."""
        m = self._visible(client, memory_id)
        secrets = self._secrets()
        conn = self._reader()
        source = None
        if m.source_id is not None:
            row = conn.execute("SELECT label FROM sources WHERE id = ?", (m.source_id,)).fetchone()
            source = row[0] if row else None
        doc = {
            "id": m.id,
            "time": utc_iso(m.time),
            "source": m.kind,
            "text": _clean(m.text, secrets),
            "provenance": {
                "source": source,
                "app": m.app,
                "title": _clean(m.title, secrets),
                "domain": m.domain,
                "author": m.author,
                "conversation": m.conversation,
                "external_id": m.external_id,
                "trust": round(m.trust, 4),
            },
            "has_screenshot": m.media_id is not None,
        }
        image = None
        if screenshot:
            if not client.scope.screenshots:
                raise cl.ClientRefused(
                    f"{client.name} may not see screenshots. The user can allow that in "
                    "Settings → Connected apps."
                )
            if m.media_id is not None and self.services.media is not None:
                data = self.services.media.load(m.media_id)
                mime = conn.execute("SELECT mime FROM media WHERE id = ?", (m.media_id,)).fetchone()
                if data is not None and mime is not None:
                    image = (data, str(mime[0]))
        self._log(client, "get_memory", [m.id])
        return doc, image

    def timeline(self, client: cl.Client, since: float, until: float) -> dict[str, Any]:
        """What was on screen (and said, and noted) between two times, as segments: one per
        stretch of the same app and window, with its time span, count and an excerpt of its
        stored text. No model is involved: the summary is the stored text itself, shortened."""
        if not until > since:
            raise BadInput("The timeline must end after it starts.")
        if until - since > TIMELINE_MAX_SPAN_S:
            raise BadInput("Ask for at most 31 days at a time.")
        memory = self.services.require_memory()
        rule = self._rule(client)
        found = memory.list_between(since, until, TIMELINE_MAX_MEMORIES)
        truncated = len(found) >= TIMELINE_MAX_MEMORIES
        shown = sorted((m for m in found if rule.allows(m)), key=lambda m: (m.time, m.id))
        secrets = self._secrets()
        segments: list[dict[str, Any]] = []
        ids: list[list[int]] = []
        texts: list[list[str]] = []
        for m in shown:
            where = (m.kind, m.app or m.conversation or "", m.title or "")
            last = segments[-1] if segments else None
            if last is not None and last["_key"] == where:
                last["until"] = m.time
                last["count"] += 1
            else:
                segments.append(
                    {
                        "_key": where,
                        "since": m.time,
                        "until": m.time,
                        "source": m.kind,
                        "app": m.app,
                        "title": _clean(m.title, secrets),
                        "conversation": m.conversation,
                        "count": 1,
                    }
                )
                ids.append([])
                texts.append([])
            ids[-1].append(m.id)
            texts[-1].append(m.text)
        for seg, seg_ids, seg_texts in zip(segments, ids, texts, strict=True):
            del seg["_key"]
            seg["since"] = utc_iso(seg["since"])
            seg["until"] = utc_iso(seg["until"])
            seg["memory_ids"] = seg_ids
            seg["summary"] = _clean(_excerpt(seg_texts), secrets)
        self._log(client, "timeline", [i for seg_ids in ids for i in seg_ids])
        return {
            "since": utc_iso(since),
            "until": utc_iso(until),
            "segments": segments,
            "truncated": truncated,
        }

    def remember(self, client: cl.Client, text: str, title: str | None = None) -> dict[str, Any]:
        """Store a note from the client, with the client as its source: secrets redacted, the
        suspicion check and quarantine of every memory, plus the client's own trust: below
        core.clients.QUARANTINE_BELOW it waits for review, below REFUSE_BELOW it is refused."""
        if not client.scope.may_write:
            raise cl.ClientRefused(
                f"{client.name} may read but not write. The user can allow writing in "
                "Settings → Connected apps."
            )
        clean = normalise_text(text or "")
        if not clean:
            raise BadInput("The note is empty.")
        if len(clean) > MAX_WRITE_CHARS:
            raise BadInput(f"The note is too long (at most {MAX_WRITE_CHARS} characters).")
        clean = redact(clean, self._secrets()).text
        memory = self.services.require_memory()
        score = self.trust_of(client)
        decision = cl.write_decision(score)
        recent = self._recent_writes(client)
        if decision == cl.WRITE_REFUSE:
            self._audit("client_write_refused", client, why="trust")
            raise cl.ClientRefused(
                f"{client.name}'s trust is too low for Mnemo to accept what it writes. The user "
                "can review it in Settings → Connected apps."
            )
        if recent >= RATE_REFUSE:
            self._audit("client_write_refused", client, why="rate")
            raise cl.ClientRefused(
                f"{client.name} is writing too fast ({recent} notes in the last minute). "
                "Wait a minute and write less often."
            )
        from app.trust_service import quarantine_enabled

        reason = cl.LOW_TRUST_REASON
        if decision == cl.WRITE_OK and recent >= RATE_HOLD:
            decision, reason = cl.WRITE_QUARANTINE, cl.BURST_REASON
        if decision == cl.WRITE_OK and self._on_probation(client):
            decision, reason = cl.WRITE_QUARANTINE, cl.PROBATION_REASON
        hold = decision == cl.WRITE_QUARANTINE
        held: list[bool] = []

        def hold_for_review(conn: Connection, report: IngestReport) -> None:
            # In the ingest transaction: the note is never visible unreviewed. Not trust
            # evidence (the low trust is the reason, counting it again would be circular).
            if not hold or not quarantine_enabled(conn):
                return
            row = conn.execute(
                "SELECT id, reasons FROM memories WHERE source_id = ? AND kind = ? "
                "ORDER BY id DESC LIMIT 1",
                (client.source_id, API),
            ).fetchone()
            if row is None:
                return
            import json

            reasons = json.loads(row[1]) if row[1] else []
            if reason not in reasons:
                reasons.append(reason)
            conn.execute(
                "UPDATE memories SET status = ?, reasons = ? WHERE id = ?",
                (QUARANTINED, json.dumps(reasons), row[0]),
            )
            held.append(True)

        note = NewMemory(
            kind=API,
            text=clean,
            time=self._now(),
            app=client.name,
            author=client.name,
            title=(title or "").strip()[:200] or None,
        )
        report = memory.add_many([note], in_transaction=hold_for_review)
        (mid,) = report.ids
        row = self._reader().execute("SELECT status FROM memories WHERE id = ?", (mid,)).fetchone()
        status = str(row[0]) if row else QUARANTINED
        log.info("connected app %d wrote memory %d (%s)", client.id, mid, status)
        return {
            "id": mid,
            "status": "stored" if status == "ok" else "waiting for the user's review",
        }

    def _on_probation(self, client: cl.Client) -> bool:
        if client.source_id is None:
            return False
        row = (
            self._reader()
            .execute(
                "SELECT 1 FROM trust_events e JOIN memories m ON m.id = e.memory_id "
                "WHERE e.source_id = ? AND e.evidence = ? AND e.time > ? AND m.status = ? "
                "AND m.hidden = 0 LIMIT 1",
                (client.source_id, tr.SUSPICIOUS, self._now() - PROBATION_S, QUARANTINED),
            )
            .fetchone()
        )
        return row is not None

    def _recent_writes(self, client: cl.Client) -> int:
        if client.source_id is None:
            return 0
        row = (
            self._reader()
            .execute(
                "SELECT count(*) FROM memories WHERE source_id = ? AND created_at > ?",
                (client.source_id, self._now() - RATE_WINDOW_S),
            )
            .fetchone()
        )
        return int(row[0])

    # ------------------------------------------------------------------ what the user does
    def trust_of(self, client: cl.Client) -> float:
        if client.source_id is None:
            return tr.PRIOR_API.mean
        src = tr.TrustRepository(self._reader()).get(client.source_id, self._now())
        return src.score

    def views(self) -> list[ClientView]:
        conn = self._reader()
        repo = cl.ClientRepository(conn)
        trust = tr.TrustRepository(conn)
        now = self._now()
        out = []
        for c in repo.all():
            src = None
            waiting = 0
            if c.source_id is not None:
                try:
                    src = trust.get(c.source_id, now)
                except KeyError:
                    src = None
                waiting = int(
                    conn.execute(
                        "SELECT count(*) FROM memories WHERE source_id = ? AND status = ? "
                        "AND hidden = 0",
                        (c.source_id, QUARANTINED),
                    ).fetchone()[0]
                )
            out.append(
                ClientView(
                    name=c.name,
                    status=c.status,
                    scope=c.scope,
                    trust=src.score if src else None,
                    alpha=src.trust.alpha if src else None,
                    beta=src.trust.beta if src else None,
                    writes=src.writes if src else 0,
                    waiting=waiting,
                    reads=repo.read_count(c.id),
                    declared_name=c.declared_name,
                    created_at=c.created_at,
                    last_seen_at=c.last_seen_at,
                )
            )
        return out

    def get(self, name: str) -> cl.Client:
        return cl.ClientRepository(self._reader()).require(name)

    def allow(self, name: str, scope: cl.Scope | None = None) -> tuple[cl.Client, str]:
        """Allow a client (or give it a new token); the token is shown to the user once and
        only its hash is kept."""
        now = self._now()
        client, token = self._write(lambda c: cl.ClientRepository(c).allow(name, scope, now))
        self._audit("client_allowed", client)
        self._announce()
        return client, token

    def set_scope(self, name: str, scope: cl.Scope) -> cl.Client:
        client = self._write(lambda c: cl.ClientRepository(c).set_scope(name, scope))
        self._audit("client_scope", client)
        self._announce()
        return client

    def update_scope(self, name: str, **changes: Any) -> cl.Client:
        return self.set_scope(name, replace(self.get(name).scope, **changes))

    def cut_off(self, name: str) -> cl.Client:
        now = self._now()
        client = self._write(lambda c: cl.ClientRepository(c).cut_off(name, now))
        self._audit("client_cut_off", client)
        log.info("connected app %d cut off", client.id)
        self._announce()
        return client

    def restore(self, name: str) -> cl.Client:
        client = self._write(lambda c: cl.ClientRepository(c).restore(name))
        self._audit("client_restored", client)
        self._announce()
        return client

    def reads(self, name: str, limit: int = 500) -> list[dict[str, Any]]:
        """What did this app read? Time, tool and memory id, and for the user's own view where
        that memory came from (its kind, app and window; the log itself holds ids only, and
        content is never shown here: open the memory to see it)."""
        conn = self._reader()
        client = cl.ClientRepository(conn).require(name)
        rows = cl.ClientRepository(conn).reads(client.id, limit)
        alive = {m.id: m for m in get_memories(conn, sorted({r[2] for r in rows}))}
        out = []
        for t, tool, mid in rows:
            m = alive.get(mid)
            where = None
            if m is not None:
                where = " — ".join(x for x in (m.app or m.kind, m.title or m.conversation) if x)
            out.append(
                {"time": utc_iso(t), "tool": tool, "memory_id": mid, "exists": m is not None,
                 "from": where}
            )  # fmt: skip
        return out

    def written(self, name: str, limit: int = 500) -> list[dict[str, Any]]:
        """The memories this app wrote, newest first, with their review status."""
        client = self.get(name)
        if client.source_id is None:
            return []
        rows = (
            self._reader()
            .execute(
                "SELECT id, time, status FROM memories WHERE source_id = ? AND hidden = 0 "
                "ORDER BY id DESC LIMIT ?",
                (client.source_id, limit),
            )
            .fetchall()
        )
        return [{"id": i, "time": utc_iso(t), "status": s} for i, t, s in rows]

    def confirm(self, name: str, memory_id: int) -> bool:
        """The user says a note this app wrote is right: one approval for its trust (waiting
        notes go through the review queue's approve, which also releases them). False when
        it was confirmed before (one note counts once)."""
        client = self.get(name)
        now = self._now()

        def run(conn: Connection) -> bool:
            row = conn.execute(
                "SELECT status FROM memories WHERE id = ? AND source_id = ? AND hidden = 0",
                (memory_id, client.source_id),
            ).fetchone()
            if row is None or client.source_id is None:
                raise BadInput(f"Memory {memory_id} was not written by {client.name}.")
            if row[0] == QUARANTINED:
                return False
            done = conn.execute(
                "SELECT 1 FROM trust_events WHERE source_id = ? AND memory_id = ? AND evidence = ?",
                (client.source_id, memory_id, tr.APPROVED),
            ).fetchone()
            if done:
                return False
            repo = tr.TrustRepository(conn)
            repo.record(client.source_id, tr.approved(memory_id), now)
            from app.trust_service import sync_source_trust

            sync_source_trust(conn, client.source_id, repo.get(client.source_id, now).score)
            return True

        changed = bool(self._write(run))
        if changed:
            self._announce()
        return changed

    def erase(self, name: str) -> dict[str, Any]:
        """Erase the client: everything it wrote (through the erasure path), its read log, its
        trust source and history, and the client itself (a new allow starts afresh)."""
        client = self.get(name)
        ids: list[int] = []
        if client.source_id is not None:
            ids = [
                int(r[0])
                for r in self._reader().execute(
                    "SELECT id FROM memories WHERE source_id = ?", (client.source_id,)
                )
            ]
        receipt = None
        if ids:
            erase = self.services.erase
            if erase is None:
                from core.errors import StoreLocked

                raise StoreLocked()
            receipt = erase.erase(EraseSpec(ids=ids))

        def run(conn: Connection) -> None:
            cl.ClientRepository(conn).delete(client.name)
            if client.source_id is not None:
                conn.execute("DELETE FROM sources WHERE id = ?", (client.source_id,))

        self._write(run)
        self._audit_erased(len(ids))
        log.info("connected app %d erased with %d memories", client.id, len(ids))
        self._announce()
        return {
            "name": client.name,
            "memories_erased": len(ids),
            "receipt": receipt.to_json() if receipt is not None else None,
        }

    def _audit_erased(self, n: int) -> None:
        now = self._now()
        self._write(lambda c: audit.record(c, "client_erased", now, memories=n))

    def _announce(self) -> None:
        from app.services import Changes

        self.services.announce(Changes(trust=True))


def _excerpt(texts: list[str]) -> str:
    """The distinct lines of a stretch, most repeated first, shortened to EXCERPT_CHARS."""
    counts: dict[str, int] = {}
    for t in texts:
        for line in t.splitlines():
            line = line.strip()
            if len(line) >= 3:
                counts[line] = counts.get(line, 0) + 1
    ordered = sorted(counts, key=lambda s: (-counts[s], -len(s)))
    out = ""
    for line in ordered:
        piece = line if not out else " · " + line
        if len(out) + len(piece) > EXCERPT_CHARS:
            if not out:
                out = line[: EXCERPT_CHARS - 1] + "…"
            break
        out += piece
    return out

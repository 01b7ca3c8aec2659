"""Bayesian source trust: who wrote a memory, a Beta(alpha, beta) belief in that source, the
evidence that moves it, and the audit records every change leaves behind."""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from core.types import API, CHAT, IMPORT_PREFIX, NOTE, SCREEN

# ---------------------------------------------------------------- evidence kinds
# There is deliberately no evidence kind for "retrieved" or "cited": being found by a search or
# used in an answer says nothing about a source's honesty, and letting it raise trust would let
# a poisoned memory reinforce itself the more it is (mis)used.
SUSPICIOUS = "suspicious"  # the detector flagged content from this source
REJECTED = "rejected"  # the user rejected one of its memories in the review panel
APPROVED = "approved"  # the user approved one of its quarantined memories
BURST = "burst"  # it wrote far more memories in a short window than it plausibly could
IDLE_DECAY = "idle_decay"  # time passed with the source idle: drift back toward the prior
PINNED = "pinned"  # the user chose "always" / "never" / cleared it (audit only, no change)
EVIDENCE_KINDS = (SUSPICIOUS, REJECTED, APPROVED, BURST, IDLE_DECAY, PINNED)

# Benign content is NOT evidence either. We considered a small raise per clean memory and
# rejected it: (1) the volume of clean content is under the attacker's control (a page can write
# a thousand harmless lines to bank trust, the "sleeper" pattern); (2) "no flag" is weak evidence,
# since the detector misses some poison; (3) it would make trust a function of how much a source
# writes, so chatty sources would outrank careful ones. Trust therefore only rises through the
# user's own approvals (and through idle decay back up to the prior after a penalty).

# ---------------------------------------------------------------- weights (pseudo-counts)
# One high-severity flag adds 3 to beta: it takes a neutral Beta(2, 2) screen source to
# Beta(2, 5), mean 0.29, clearly below neutral after a single clear injection.
# Low-severity flags (notes that do not quarantine, e.g. a long binary blob in a terminal)
# weigh nothing: a developer's terminal must not sink for showing keys and hashes.
SEVERITY_WEIGHT = {1: 0.0, 2: 1.5, 3: 3.0}
# A single memory cannot add more than this: a page that stuffs fifty copies of one phrase is
# one act, and an unbounded weight would make trust hostage to the detector's counting.
MAX_SUSPICION_WEIGHT = 8.0
# A rejection is the user's own judgement, stronger than any automatic flag.
REJECT_WEIGHT = 6.0
# Approving a quarantined memory says the detector was wrong about it: the beta its flags added
# is taken back (undo_beta) and alpha gains one observation. Undoing rather than adding a big
# alpha matters: with "flag +3 beta, approval +3 alpha", a source with a steady trickle of
# false positives (a developer's terminal, the user's own chats about prompt injection) would be
# dragged toward 0.5 whatever its prior; with the undo it ends where it started, plus a little.
APPROVE_WEIGHT = 1.0
# A burst is a weak signal on its own (a busy page is not a hostile one).
BURST_WEIGHT = 1.0
# When the user rejects a source's memory, half of the positive evidence it banked above its
# prior is forfeited: a long good record is exactly what a sleeper invests in. Only on the user's
# confirmation, not on a flag alone: approved false positives would otherwise keep eroding the
# alpha of sources that merely look odd.
SLEEPER_DISCOUNT = 0.5

# Idle drift back toward the prior, so old verdicts fade (a site changes hands, a fixed
# false-positive). Slow: a month to halve the distance. Only idle time counts (see idle_gap).
HALF_LIFE_S = 30 * 86400.0
# A source counts as idle only after a week without writes, and only the time beyond that week
# decays: a site the user visits daily or weekly (including a malicious one that keeps writing)
# never drifts back up; one unseen for 37 days has moved half-way back to its prior.
IDLE_AFTER_S = 7 * 86400.0

ALWAYS = "always"
NEVER = "never"
PINS = (ALWAYS, NEVER)


@dataclass(frozen=True, slots=True)
class Trust:
    """A Beta(alpha, beta) belief that memories from a source are honest; mean is the score."""

    alpha: float
    beta: float

    def __post_init__(self) -> None:
        if not (self.alpha > 0 and self.beta > 0 and math.isfinite(self.alpha + self.beta)):
            raise ValueError("trust parameters must be positive and finite")

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)


# ---------------------------------------------------------------- priors, with their reasons
# The user's own typing (chat window, notes): they wrote it. Strong (20 pseudo-observations) so
# an odd flag on something they pasted does not crater their own source.
PRIOR_USER = Trust(19.0, 1.0)
# Screens of a web domain: any page, email or ad the user merely looks at. We know nothing, so
# neutral and weak (4 pseudo-observations): evidence moves it quickly either way.
PRIOR_WEB = Trust(2.0, 2.0)
# Screens of local apps with no domain (editor, terminal, file manager): mostly the user's own
# work, but mail and messaging clients show other people's words, so only slightly above neutral.
PRIOR_LOCAL_APP = Trust(3.0, 2.0)
# Imports: the user chose the file on purpose (a deliberate act), but it holds other people's
# messages and model outputs. Medium.
PRIOR_IMPORT = Trust(6.0, 3.0)
# API clients (later): a program the user connected, but which writes unattended. Neutral.
PRIOR_API = Trust(2.0, 2.0)

USER_IDENTITY = "chat"


def prior_for(kind: str, identity: str) -> Trust:
    """The prior of a source, from its kind and identity key (see source_identity)."""
    if kind in (CHAT, NOTE) or identity == USER_IDENTITY:
        return PRIOR_USER
    if kind == SCREEN:
        return PRIOR_WEB if identity.startswith("web:") else PRIOR_LOCAL_APP
    if kind.startswith(IMPORT_PREFIX):
        return PRIOR_IMPORT
    if kind == API:
        return PRIOR_API
    return PRIOR_WEB


# ---------------------------------------------------------------- identity
_COUNTER = re.compile(r"^\s*(\(\d+\+?\)|\[\d+\]|\*)\s*|\s*[\*•●]\s*$")
_SPACE = re.compile(r"\s+")


def _norm(part: str | None, limit: int = 80) -> str:
    """Stable form of a name: lower-case, single spaces, without unread counters or the
    'modified' star that window titles gain and lose."""
    if not part:
        return ""
    text = _COUNTER.sub("", part)
    text = _SPACE.sub(" ", text).strip().lower()
    return text[:limit]


def _basename(path: str | None) -> str:
    if not path:
        return ""
    return re.split(r"[\\/]", path.rstrip("\\/"))[-1]


def source_identity(
    kind: str,
    app: str | None = None,
    domain: str | None = None,
    title: str | None = None,
    file: str | None = None,
    conversation: str | None = None,
    author: str | None = None,
) -> tuple[str, str]:
    """(identity key, label for people) of the source a memory comes from.

    Screens of a web domain are app + domain (the page's origin is what vouches for the text);
    other screens are app + window title; imports are one participant of one conversation
    (file + conversation + author; file + conversation when the export names no author); the
    user's own chat typing and notes share one source, the user.

    Why the participant and not the conversation: a conversation is written by several people,
    and judging it as one source let one participant's injections (or a spam bot in a group)
    silence everyone else's messages. The participant is who vouches for a message; a
    participant who injects still loses standing for all of their messages (the sleeper case)."""
    if kind in (CHAT, NOTE):
        return USER_IDENTITY, "You (chat and notes)"
    if kind == SCREEN:
        app_n = _norm(app) or "unknown app"
        dom = _norm(domain)
        if dom:
            dom = dom.removeprefix("www.")
            return f"web:{app_n}/{dom}", f"{dom} (in {app_n})"
        win = _norm(title) or "untitled window"
        return f"app:{app_n}/{win}", f"{app_n}: {win}"
    if kind.startswith(IMPORT_PREFIX):
        fmt = kind[len(IMPORT_PREFIX) :] or "unknown"
        name = _basename(file) or "unknown file"
        conv = _norm(conversation, 120)
        who = _norm(author)
        label = f"{name} — {conversation.strip()}" if conv and conversation else name
        if who and author:
            # A participant of a named conversation is the same person in every export of it:
            # a later export (another file name) must not hand a caught participant a fresh start.
            key = f"import:{fmt}:" + (f"#{conv}" if conv else name) + f"@{who}"
            return key, f"Import ({fmt}): {author.strip()} in {label}"
        key = f"import:{fmt}:{name}" + (f"#{conv}" if conv else "")
        return key, f"Import ({fmt}): {label}"
    if kind == API:
        client = _norm(app) or "unknown client"
        return f"api:{client}", f"API client {client}"
    return f"other:{_norm(kind)}:{_norm(app)}", f"{kind} {app or ''}".strip()


# ---------------------------------------------------------------- evidence and events
@dataclass(frozen=True, slots=True)
class Evidence:
    """One reason to change a source's trust. `detail` holds codes and counts only, never text."""

    kind: str
    weight: float = 0.0  # pseudo-count for SUSPICIOUS / BURST; ignored by the others
    detail: str | None = None
    memory_id: int | None = None
    undo_beta: float = 0.0  # APPROVED: the beta this memory's flags added, to take back

    def __post_init__(self) -> None:
        if self.kind not in EVIDENCE_KINDS:
            raise ValueError(f"unknown evidence kind {self.kind!r}")
        if not (self.weight >= 0 and math.isfinite(self.weight)):
            raise ValueError("evidence weight must be non-negative and finite")
        if not (self.undo_beta >= 0 and math.isfinite(self.undo_beta)):
            raise ValueError("undo_beta must be non-negative and finite")


def suspicious(flags: Iterable[Any], memory_id: int | None = None) -> Evidence:
    """Evidence from detector flags (anything with .code and .severity): the weight grows with
    the number and severity of flags, capped per memory."""
    flags = list(flags)
    weight = min(
        MAX_SUSPICION_WEIGHT, sum(SEVERITY_WEIGHT.get(int(f.severity), 1.5) for f in flags)
    )
    counts: dict[str, int] = {}
    for f in flags:
        counts[f.code] = counts.get(f.code, 0) + 1
    detail = ",".join(f"{code}:{n}" for code, n in sorted(counts.items()))
    return Evidence(SUSPICIOUS, weight=weight, detail=detail, memory_id=memory_id)


def rejected(memory_id: int | None = None) -> Evidence:
    return Evidence(REJECTED, memory_id=memory_id, detail="user")


def approved(memory_id: int | None = None, undo_beta: float = 0.0) -> Evidence:
    """The user approved a quarantined memory; `undo_beta` is what its flags added (the
    repository looks it up from the audit table when given 0 and a memory id)."""
    return Evidence(APPROVED, memory_id=memory_id, detail="user", undo_beta=undo_beta)


def burst(count: int, window_s: float) -> Evidence:
    return Evidence(BURST, weight=BURST_WEIGHT, detail=f"writes:{count}/{int(window_s)}s")


@dataclass(frozen=True, slots=True)
class TrustEvent:
    """An audit record of one trust change (the trust_events table)."""

    source_key: str
    time: float
    evidence: str
    d_alpha: float
    d_beta: float
    alpha: float
    beta: float
    memory_id: int | None = None
    detail: str | None = None


def apply(
    trust: Trust, evidence: Evidence, now: float, *, prior: Trust, source_key: str = ""
) -> tuple[Trust, TrustEvent]:
    """The trust after `evidence`, and its audit event. Pure and deterministic.

    Only APPROVED can raise the mean (alpha grows, beta can only shrink back toward the prior);
    SUSPICIOUS, REJECTED and BURST only lower it (beta grows,
    alpha can only shrink toward the prior); PINNED changes nothing (the pin is a separate
    override, recorded for the audit trail)."""
    alpha, beta = trust.alpha, trust.beta
    kind = evidence.kind
    if kind == APPROVED:
        alpha += APPROVE_WEIGHT
        # Never below the prior's beta: the undo takes back this memory's penalty, nothing more.
        beta = max(min(beta, prior.beta), beta - evidence.undo_beta)
    elif kind in (SUSPICIOUS, REJECTED, BURST):
        if kind == REJECTED:
            excess = alpha - prior.alpha
            if excess > 0:
                alpha = prior.alpha + excess * SLEEPER_DISCOUNT
        beta += REJECT_WEIGHT if kind == REJECTED else evidence.weight
    elif kind == IDLE_DECAY:
        raise ValueError("idle decay is applied with decay(), not apply()")
    new = Trust(alpha, beta)
    event = TrustEvent(
        source_key=source_key,
        time=now,
        evidence=kind,
        d_alpha=alpha - trust.alpha,
        d_beta=beta - trust.beta,
        alpha=alpha,
        beta=beta,
        memory_id=evidence.memory_id,
        detail=evidence.detail,
    )
    return new, event


def idle_gap(updated_at: float, last_write_at: float | None, now: float) -> float:
    """Seconds of idleness not yet decayed for: the time since the source's last write or last
    trust change, whichever is later, beyond the first IDLE_AFTER_S (which count as activity)."""
    since = max(updated_at, last_write_at or updated_at)
    return max(0.0, now - since - IDLE_AFTER_S)


def decay(trust: Trust, prior: Trust, idle_s: float, half_life_s: float = HALF_LIFE_S) -> Trust:
    """Move alpha and beta toward the prior by half the distance every half-life of idleness."""
    if idle_s <= 0:
        return trust
    f = 0.5 ** (idle_s / half_life_s)
    return Trust(
        prior.alpha + (trust.alpha - prior.alpha) * f, prior.beta + (trust.beta - prior.beta) * f
    )


def effective(trust: Trust, pinned: str | None) -> float:
    """The score search and answers use: the mean, unless the user pinned the source."""
    if pinned == ALWAYS:
        return 1.0
    if pinned == NEVER:
        return 0.0
    return trust.mean


def message_score(trust: Trust, pinned: str | None, own_weight: float = 0.0) -> float:
    """The score of one memory: its source's, lowered by the memory's own suspicion.

    A flagged memory is judged as if its flags were evidence against a copy of its source that
    only it belongs to: Beta(alpha, beta + own_weight). So a flagged message sits below its
    honest neighbours from the same source even with quarantine off, and its flags never lower
    a neighbour by more than they lower the source itself. An "always" pin does not lift a
    flagged memory (a trusted site can still be hijacked); "never" keeps it at 0."""
    if own_weight <= 0:
        return effective(trust, pinned)
    if pinned == NEVER:
        return 0.0
    return Trust(trust.alpha, trust.beta + own_weight).mean


# How search should use trust. A hit's fused score is multiplied by search_weight(trust):
# an unknown web page (0.5) keeps ~70 % of its score, the user's own notes ~97 %, a source caught
# injecting (~0.1) ~45 %. A floor keeps low-trust memories findable by exact words (the user may
# be looking for exactly that page) while pushing them below honest ones.
SEARCH_FLOOR = 0.4
# Answers are stricter: evidence from sources below this is left out of the prompt.
ANSWER_MIN_TRUST = 0.2


def search_weight(trust_score: float) -> float:
    return SEARCH_FLOOR + (1.0 - SEARCH_FLOOR) * min(1.0, max(0.0, trust_score))


def usable_in_answers(trust_score: float) -> bool:
    return trust_score >= ANSWER_MIN_TRUST


# ---------------------------------------------------------------- bursts
@dataclass(frozen=True, slots=True)
class BurstLimit:
    window_s: float
    max_writes: int


# Per-kind ceilings, not learned "usual rates": a learned rate can be trained upward by an
# attacker who ramps slowly, and each kind's honest rate has a physical bound we know.
# - screens: capture emits at most a few regions per interval (seconds), and dedup drops
#   repeats, so even a user scrolling a long page writes well under one memory per second
#   on average. 200 in 5 minutes means the source changed its text on nearly every frame for
#   minutes: rotating/streaming text built to flood memory.
# - the user's own typing: nobody sends 30 chat messages or notes a minute.
# - API clients: generous, they batch.
# - imports: exempt. An import writes thousands of memories at once by design, at the user's
#   request; its volume says nothing about honesty.
BURST_LIMITS: dict[str, BurstLimit] = {
    SCREEN: BurstLimit(300.0, 200),
    CHAT: BurstLimit(60.0, 30),
    NOTE: BurstLimit(60.0, 30),
    API: BurstLimit(60.0, 60),
}


def burst_limit(kind: str) -> BurstLimit | None:
    return BURST_LIMITS.get(kind)


def is_burst(write_times: Sequence[float], now: float, limit: BurstLimit) -> bool:
    """More than limit.max_writes writes in the window ending at now (inclusive)."""
    start = now - limit.window_s
    return sum(1 for t in write_times if start < t <= now) > limit.max_writes


@dataclass
class BurstTracker:
    """Sliding windows of recent write times per source (in memory only: after a restart the
    windows start empty, which can only miss a burst, never invent one). Fires at most once per
    window per source, so one flood counts as one piece of evidence, not hundreds."""

    _times: dict[Any, deque[float]] = field(default_factory=dict)
    _last_fired: dict[Any, float] = field(default_factory=dict)

    def note_write(self, source: Any, kind: str, now: float) -> Evidence | None:
        limit = burst_limit(kind)
        if limit is None:
            return None
        times = self._times.setdefault(source, deque())
        times.append(now)
        while times and times[0] <= now - limit.window_s:
            times.popleft()
        if len(times) <= limit.max_writes:
            return None
        fired = self._last_fired.get(source)
        if fired is not None and now - fired < limit.window_s:
            return None
        self._last_fired[source] = now
        return burst(len(times), limit.window_s)


# ---------------------------------------------------------------- persistence
@dataclass(frozen=True, slots=True)
class Source:
    """A row of the sources table, with its trust decayed to `now` (not yet persisted)."""

    id: int
    kind: str
    identity: str
    label: str
    trust: Trust
    pinned: str | None
    created_at: float
    updated_at: float
    last_write_at: float | None
    writes: int

    @property
    def score(self) -> float:
        return effective(self.trust, self.pinned)


_SOURCE_COLS = (
    "id, kind, identity, label, alpha, beta, pinned, created_at, updated_at, last_write_at, writes"
)


class TrustRepository:
    """Sources and their trust events over a DB-API connection (sqlite3 or sqlcipher3).

    It never commits: the caller owns the transaction, so a memory, its source's trust change
    and the audit event are written together or not at all."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    # -- reading
    def _row(self, row: Sequence[Any], now: float | None) -> Source:
        sid, kind, identity, label, a, b, pinned, created, updated, last_write, writes = row
        trust = Trust(float(a), float(b))
        if now is not None:
            gap = idle_gap(updated, last_write, now)
            trust = decay(trust, prior_for(kind, identity), gap)
        return Source(
            sid, kind, identity, label, trust, pinned, created, updated, last_write, int(writes)
        )

    def get(self, source_id: int, now: float | None = None) -> Source:
        """The source with trust decayed to `now` (None: as stored)."""
        row = self.conn.execute(
            f"SELECT {_SOURCE_COLS} FROM sources WHERE id = ?", (source_id,)
        ).fetchone()
        if row is None:
            raise KeyError(source_id)
        return self._row(row, now)

    def find(self, identity: str, now: float | None = None) -> Source | None:
        row = self.conn.execute(
            f"SELECT {_SOURCE_COLS} FROM sources WHERE identity = ?", (identity,)
        ).fetchone()
        return None if row is None else self._row(row, now)

    def list_sources(self, now: float | None = None) -> list[Source]:
        """Every source, lowest effective trust first (what the review panel shows on top)."""
        rows = self.conn.execute(f"SELECT {_SOURCE_COLS} FROM sources ORDER BY id").fetchall()
        sources = [self._row(r, now) for r in rows]
        return sorted(sources, key=lambda s: (s.score, s.id))

    def scores(self, source_ids: Iterable[int], now: float) -> dict[int, float]:
        """Effective trust per source id, for weighting search hits."""
        ids = sorted(set(source_ids))
        out: dict[int, float] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.conn.execute(
                f"SELECT {_SOURCE_COLS} FROM sources WHERE id IN ({marks})", chunk
            ).fetchall()
            for r in rows:
                s = self._row(r, now)
                out[s.id] = s.score
        return out

    def message_penalties(self, source_id: int) -> dict[int, float]:
        """The beta each memory's own flags added to this source, for memories whose flags still
        stand (an approval takes them back). Memories never flagged are not listed."""
        rows = self.conn.execute(
            "SELECT memory_id, COALESCE(SUM(CASE WHEN evidence = ? THEN d_beta END), 0), "
            "MAX(evidence = ?) FROM trust_events WHERE source_id = ? AND memory_id IS NOT NULL "
            "GROUP BY memory_id",
            (SUSPICIOUS, APPROVED, source_id),
        ).fetchall()
        return {int(mid): float(w) for mid, w, was_approved in rows if w > 0 and not was_approved}

    def history(self, source_id: int) -> list[TrustEvent]:
        """The source's trust events, oldest first."""
        rows = self.conn.execute(
            "SELECT s.identity, e.time, e.evidence, e.d_alpha, e.d_beta, e.alpha, e.beta, "
            "e.memory_id, e.detail FROM trust_events e JOIN sources s ON s.id = e.source_id "
            "WHERE e.source_id = ? ORDER BY e.time, e.id",
            (source_id,),
        ).fetchall()
        return [TrustEvent(*r) for r in rows]

    # -- writing
    def get_or_create(self, identity: str, kind: str, label: str, now: float) -> tuple[int, Trust]:
        """The source's id and current (decayed) trust, creating it at its prior if new."""
        existing = self.find(identity, now)
        if existing is not None:
            return existing.id, existing.trust
        prior = prior_for(kind, identity)
        cur = self.conn.execute(
            "INSERT INTO sources(kind, identity, label, alpha, beta, pinned, created_at, "
            "updated_at, last_write_at, writes) VALUES (?, ?, ?, ?, ?, NULL, ?, ?, NULL, 0)",
            (kind, identity, label, prior.alpha, prior.beta, now, now),
        )
        return int(cur.lastrowid), prior

    def _insert_event(self, source_id: int, ev: TrustEvent) -> None:
        self.conn.execute(
            "INSERT INTO trust_events(source_id, time, evidence, detail, d_alpha, d_beta, alpha, "
            "beta, memory_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                source_id,
                ev.time,
                ev.evidence,
                ev.detail,
                ev.d_alpha,
                ev.d_beta,
                ev.alpha,
                ev.beta,
                ev.memory_id,
            ),
        )

    def _materialise_decay(self, src: Source, now: float) -> Trust:
        """Persist idle decay accrued up to now (with its audit event) and return the trust."""
        stored = self.get(src.id)
        if (
            abs(stored.trust.alpha - src.trust.alpha) + abs(stored.trust.beta - src.trust.beta)
            < 1e-9
        ):
            return stored.trust
        ev = TrustEvent(
            src.identity,
            now,
            IDLE_DECAY,
            src.trust.alpha - stored.trust.alpha,
            src.trust.beta - stored.trust.beta,
            src.trust.alpha,
            src.trust.beta,
            None,
            f"idle_days:{int(idle_gap(stored.updated_at, stored.last_write_at, now) // 86400)}",
        )
        self._insert_event(src.id, ev)
        self.conn.execute(
            "UPDATE sources SET alpha = ?, beta = ?, updated_at = ? WHERE id = ?",
            (src.trust.alpha, src.trust.beta, now, src.id),
        )
        return src.trust

    def note_write(self, source_id: int, now: float) -> None:
        """Count one memory written by the source (after settling any idle decay, so that the
        time it was idle is not forgotten by the new last_write_at)."""
        self._materialise_decay(self.get(source_id, now), now)
        self.conn.execute(
            "UPDATE sources SET writes = writes + 1, "
            "last_write_at = MAX(COALESCE(last_write_at, ?), ?) WHERE id = ?",
            (now, now, source_id),
        )

    def record(self, source_id: int, evidence: Evidence, now: float) -> tuple[Trust, TrustEvent]:
        """Apply evidence to the source, persist the new trust and its audit event. An approval
        of a memory takes back the beta that memory's suspicion events added."""
        src = self.get(source_id, now)
        if evidence.kind == APPROVED and evidence.memory_id is not None and not evidence.undo_beta:
            row = self.conn.execute(
                "SELECT COALESCE(SUM(d_beta), 0) FROM trust_events WHERE source_id = ? AND "
                "memory_id = ? AND evidence = ?",
                (source_id, evidence.memory_id, SUSPICIOUS),
            ).fetchone()
            evidence = replace(evidence, undo_beta=float(row[0]))
        current = self._materialise_decay(src, now)
        new, ev = apply(
            current,
            evidence,
            now,
            prior=prior_for(src.kind, src.identity),
            source_key=src.identity,
        )
        self._insert_event(source_id, ev)
        self.conn.execute(
            "UPDATE sources SET alpha = ?, beta = ?, updated_at = ? WHERE id = ?",
            (new.alpha, new.beta, now, source_id),
        )
        return new, ev

    def sync_memories(self, source_id: int, score: float, now: float | None = None) -> int:
        """Bring memories.trust (what search weights by and answers gate on) in step with the
        source: unflagged memories carry its score, a flagged one the lower message_score of its
        own standing flags. `now` decays the source as `score` was (None: as stored). Returns
        the rows changed."""
        n = int(
            self.conn.execute(
                "UPDATE memories SET trust = ? WHERE source_id = ? AND reasons IS NULL "
                "AND abs(trust - ?) > 1e-9",
                (score, source_id, score),
            ).rowcount
        )
        flagged = [
            int(r[0])
            for r in self.conn.execute(
                "SELECT id FROM memories WHERE source_id = ? AND reasons IS NOT NULL", (source_id,)
            )
        ]
        if not flagged:
            return n
        penalties = self.message_penalties(source_id)
        src = self.get(source_id, now)
        for mid in flagged:
            own = penalties.get(mid, 0.0)
            value = message_score(src.trust, src.pinned, own) if own > 0 else score
            n += int(
                self.conn.execute(
                    "UPDATE memories SET trust = ? WHERE id = ? AND abs(trust - ?) > 1e-9",
                    (value, mid, value),
                ).rowcount
            )
        return n

    def set_pinned(self, source_id: int, pinned: str | None, now: float) -> None:
        """'always', 'never' or None (back to the computed score); the choice is audited."""
        if pinned is not None and pinned not in PINS:
            raise ValueError(f"pinned must be one of {PINS} or None")
        src = self.get(source_id)
        ev = TrustEvent(
            src.identity,
            now,
            PINNED,
            0.0,
            0.0,
            src.trust.alpha,
            src.trust.beta,
            None,
            pinned or "cleared",
        )
        self._insert_event(source_id, ev)
        self.conn.execute("UPDATE sources SET pinned = ? WHERE id = ?", (pinned, source_id))

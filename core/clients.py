"""Connected apps: local AI clients the user lets read (and maybe write) their memory. A client's
consent state, its scope, the token that identifies it, the rule deciding which memories it may
see, the rule deciding what happens to its writes at a given trust, and its read log."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from core import trust as tr
from core.capture.exclusions import ExclusionRules
from core.errors import BadInput, UserFacingError
from core.interfaces import WindowInfo
from core.types import API, CHAT, IMPORT_PREFIX, NOTE, OK, SCREEN, Memory

PENDING = "pending"  # it asked (ran `mnemo mcp --client NAME`) but the user has not allowed it
ALLOWED = "allowed"
CUT_OFF = "cut_off"  # the user's kill switch: refused at its next call
STATUSES = (PENDING, ALLOWED, CUT_OFF)

# What a client may read, in the user's words (the Connected apps page shows these).
SCREENS = "screens"
CHATS = "chats"  # the chat window and imported conversations
NOTES = "notes"  # the user's own typed notes
APPS = "apps"  # notes written by connected apps (its own writes are always readable)
CATEGORIES = (SCREENS, CHATS, NOTES, APPS)
CATEGORY_LABELS = {
    SCREENS: "Screens",
    CHATS: "Chats and imports",
    NOTES: "Your notes",
    APPS: "Other apps' notes",
}
# Other clients' writes are off by default: a write from one client that another reads as
# memory is exactly how poisoning crosses from one tool to the next.
DEFAULT_READABLE = frozenset({SCREENS, CHATS, NOTES})

# Trust thresholds for a client's writes (its Beta mean, as core.trust computes it). A newly
# allowed client starts at the API prior (0.5) and writes normally. One clear injection
# (Beta(2, 5), 0.29) puts it below QUARANTINE_BELOW: from then on everything it writes waits for
# review, flagged or not (a sleeper's next poison may be one the detector misses). About four
# (Beta(2, 14), 0.13) put it below REFUSE_BELOW: its writes are refused outright. Trust rises
# only through the user's approvals, so a client climbs back only by the user's word.
QUARANTINE_BELOW = 0.35
REFUSE_BELOW = 0.15
WRITE_OK = "ok"
WRITE_QUARANTINE = "quarantine"
WRITE_REFUSE = "refuse"
LOW_TRUST_REASON = "Written by a connected app whose trust is low; waits for your review."
BURST_REASON = "One of a burst of notes from a connected app; waits for your review."
PROBATION_REASON = (
    "Written while another note from this app waits for review as suspicious; waits too."
)

MAX_NAME = 40
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
TOKEN_BYTES = 32


class ClientRefused(UserFacingError):
    """The client may not do this (unknown, not allowed yet, cut off, out of scope)."""


def normalise_name(name: str) -> str:
    """A client's name as stored and typed in its launch command: lower-case letters, digits,
    dot, dash and underscore (it becomes part of a command line and of a trust source key)."""
    n = (name or "").strip().lower()
    if not n or len(n) > MAX_NAME or not _NAME.match(n):
        raise BadInput(
            f"A connected app's name is 1 to {MAX_NAME} characters: letters, digits, '.', '-' "
            "or '_', starting with a letter or digit (e.g. claude-desktop)."
        )
    return n


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    # The token is 256 random bits, so a plain hash is enough (nothing to brute-force).
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def category_of(kind: str) -> str:
    if kind == SCREEN:
        return SCREENS
    if kind == CHAT or kind.startswith(IMPORT_PREFIX):
        return CHATS
    if kind == NOTE:
        return NOTES
    if kind == API:
        return APPS
    return APPS  # anything new is treated as the least trusted category


def parse_ranges(text: str | Iterable[str]) -> tuple[tuple[float, float], ...]:
    """Off-limits time ranges as the user writes them: START/END pairs (ISO dates or date-times
    in local time, a bare date being the whole day), separated by commas or given one by one."""
    from core.timeparse import parse_bound

    parts = text.split(",") if isinstance(text, str) else list(text)
    ranges = []
    for part in (p.strip() for p in parts):
        if not part:
            continue
        start, sep, end = part.partition("/")
        if not sep:
            raise BadInput(
                f"Off-limits range {part!r}: write START/END, e.g. 2026-03-01/2026-03-08."
            )
        try:
            ranges.append((parse_bound(start, 0, end=False), parse_bound(end, 0, end=True)))
        except ValueError:
            raise BadInput(
                f"Off-limits range {part!r}: START and END must be dates like 2026-03-01 or "
                "date-times like 2026-03-01T09:00."
            ) from None
    return tuple(ranges)


def format_ranges(ranges: Iterable[tuple[float, float]]) -> str:
    """The inverse of parse_ranges, in local time (whole days as bare dates)."""
    from datetime import datetime, timedelta

    out = []
    for a, b in ranges:
        start, end = datetime.fromtimestamp(a), datetime.fromtimestamp(b)
        if start.time() == end.time() == datetime.min.time() and end > start:
            out.append(f"{start:%Y-%m-%d}/{end - timedelta(days=1):%Y-%m-%d}")
        else:
            out.append(f"{start:%Y-%m-%dT%H:%M}/{end:%Y-%m-%dT%H:%M}")
    return ", ".join(out)


def trust_in_words(trust: float | None) -> str:
    """What a client's trust score means for its notes, in a sentence."""
    if trust is None:
        return "No trust record yet: its first notes are stored and checked like any other."
    if trust < REFUSE_BELOW:
        what = "its notes are refused"
    elif trust < QUARANTINE_BELOW:
        what = "every note it writes waits for your review"
    else:
        what = "its notes are stored (suspicious ones wait for your review)"
    return (
        f"Trust {trust:.2f}: {what}. Below {QUARANTINE_BELOW:.2f} its notes wait for review, "
        f"below {REFUSE_BELOW:.2f} they are refused; approving its notes raises it, rejecting "
        "them lowers it."
    )


@dataclass(frozen=True, slots=True)
class Scope:
    """What one client may do. Times are UTC seconds; a range is [start, end)."""

    readable: frozenset[str] = DEFAULT_READABLE
    excluded_apps: tuple[str, ...] = ()
    excluded_ranges: tuple[tuple[float, float], ...] = ()
    may_write: bool = False
    screenshots: bool = False

    def __post_init__(self) -> None:
        bad = set(self.readable) - set(CATEGORIES)
        if bad:
            raise BadInput(
                f"Unknown readable source {sorted(bad)[0]!r}: choose from {', '.join(CATEGORIES)}."
            )
        for a, b in self.excluded_ranges:
            if not b > a:
                raise BadInput("An off-limits time range must end after it starts.")

    def to_json(self) -> dict[str, Any]:
        return {
            "readable": sorted(self.readable),
            "excluded_apps": list(self.excluded_apps),
            "excluded_ranges": [list(r) for r in self.excluded_ranges],
            "may_write": self.may_write,
            "screenshots": self.screenshots,
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Scope:
        return cls(
            readable=frozenset(doc.get("readable", DEFAULT_READABLE)),
            excluded_apps=tuple(
                dict.fromkeys(a.strip().lower() for a in doc.get("excluded_apps", []) if a.strip())
            ),
            excluded_ranges=tuple((float(a), float(b)) for a, b in doc.get("excluded_ranges", [])),
            may_write=bool(doc.get("may_write", False)),
            screenshots=bool(doc.get("screenshots", False)),
        )

    @classmethod
    def loads(cls, text: str) -> Scope:
        return cls.from_json(json.loads(text))


@dataclass(frozen=True, slots=True)
class Client:
    id: int
    name: str
    status: str
    scope: Scope
    token_hash: str | None
    source_id: int | None
    declared_name: str | None
    created_at: float
    allowed_at: float | None
    cut_off_at: float | None
    last_seen_at: float | None

    @property
    def identity(self) -> str:
        """Its trust source key (core.trust.source_identity for kind api)."""
        return tr.source_identity(API, app=self.name)[0]


# ---------------------------------------------------------------- the read rule
@dataclass(frozen=True, slots=True)
class ReadRule:
    """Decides, memory by memory, whether a client may be given it. Applied to the rows
    themselves after any search, so no search shortcut or ranking change can widen it."""

    client: Client
    privacy: ExclusionRules = field(default_factory=ExclusionRules)

    def allows(self, m: Memory, *, hidden: bool = False) -> bool:
        s = self.client.scope
        if hidden or m.status != OK or m.derived:
            return False  # quarantined, rejected, assistant answers: never to any client
        own = m.kind == API and m.source_id is not None and m.source_id == self.client.source_id
        if not own and category_of(m.kind) not in s.readable:
            return False
        if not tr.usable_in_answers(float(m.trust)):
            return False  # the same bar as evidence for Mnemo's own answers
        app = (m.app or "").strip().lower()
        if app and app in s.excluded_apps:
            return False
        if any(a <= m.time < b for a, b in s.excluded_ranges):
            return False
        if m.app or m.title or m.domain:
            # What the user excludes from capture now also holds for what was stored before.
            window = WindowInfo(m.app or "", m.title or "", 0, 0, 0, 0, domain=m.domain)
            if self.privacy.excluded_because(window) is not None:
                return False
        return True


def write_decision(score: float) -> str:
    if score < REFUSE_BELOW:
        return WRITE_REFUSE
    if score < QUARANTINE_BELOW:
        return WRITE_QUARANTINE
    return WRITE_OK


# ---------------------------------------------------------------- persistence
_COLS = (
    "id, name, status, scope, token_hash, source_id, declared_name, created_at, allowed_at, "
    "cut_off_at, last_seen_at"
)


def _row(r: Sequence[Any]) -> Client:
    cid, name, status, scope, th, sid, declared, created, allowed, cut, seen = r
    return Client(
        cid, name, status, Scope.loads(scope), th, sid, declared, created, allowed, cut, seen
    )


class ClientRepository:
    """Clients and their read log over a DB-API connection; never commits (the caller owns the
    transaction)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def get(self, name: str) -> Client | None:
        row = self.conn.execute(
            f"SELECT {_COLS} FROM clients WHERE name = ?", (normalise_name(name),)
        ).fetchone()
        return None if row is None else _row(row)

    def by_id(self, client_id: int) -> Client | None:
        row = self.conn.execute(
            f"SELECT {_COLS} FROM clients WHERE id = ?", (client_id,)
        ).fetchone()
        return None if row is None else _row(row)

    def all(self) -> list[Client]:
        rows = self.conn.execute(f"SELECT {_COLS} FROM clients ORDER BY name").fetchall()
        return [_row(r) for r in rows]

    def request(self, name: str, declared_name: str | None, now: float) -> Client:
        """An unknown client knocked: remembered as pending so the user sees it and can allow
        it. A known client is returned as it is."""
        name = normalise_name(name)
        existing = self.get(name)
        if existing is not None:
            return existing
        self.conn.execute(
            "INSERT INTO clients(name, status, scope, declared_name, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (name, PENDING, Scope().dumps(), (declared_name or "")[:100] or None, now),
        )
        got = self.get(name)
        assert got is not None
        return got

    def allow(self, name: str, scope: Scope | None, now: float) -> tuple[Client, str]:
        """Allow (or re-allow) a client; returns it with a fresh token, shown to the user once.
        Its trust source is created at the API prior, or kept with its history if it exists."""
        name = normalise_name(name)
        client = self.request(name, None, now)
        token = new_token()
        key, label = tr.source_identity(API, app=name)
        source_id, _ = tr.TrustRepository(self.conn).get_or_create(key, API, label, now)
        self.conn.execute(
            "UPDATE clients SET status = ?, token_hash = ?, scope = ?, source_id = ?, "
            "allowed_at = ?, cut_off_at = NULL WHERE id = ?",
            (
                ALLOWED,
                token_hash(token),
                (scope or client.scope).dumps(),
                source_id,
                now,
                client.id,
            ),
        )
        got = self.by_id(client.id)
        assert got is not None
        return got, token

    def set_scope(self, name: str, scope: Scope) -> Client:
        client = self.require(name)
        self.conn.execute("UPDATE clients SET scope = ? WHERE id = ?", (scope.dumps(), client.id))
        return replace(client, scope=scope)

    def cut_off(self, name: str, now: float) -> Client:
        client = self.require(name)
        self.conn.execute(
            "UPDATE clients SET status = ?, cut_off_at = ? WHERE id = ?", (CUT_OFF, now, client.id)
        )
        return replace(client, status=CUT_OFF, cut_off_at=now)

    def restore(self, name: str) -> Client:
        """Undo a cut-off (the same token works again)."""
        client = self.require(name)
        if client.status == PENDING or client.token_hash is None:
            raise BadInput(f"{client.name} was never allowed; allow it first.")
        self.conn.execute(
            "UPDATE clients SET status = ?, cut_off_at = NULL WHERE id = ?", (ALLOWED, client.id)
        )
        return replace(client, status=ALLOWED, cut_off_at=None)

    def delete(self, name: str) -> Client:
        client = self.require(name)
        self.conn.execute("DELETE FROM clients WHERE id = ?", (client.id,))
        return client

    def require(self, name: str) -> Client:
        client = self.get(name)
        if client is None:
            raise BadInput(f"There is no connected app called {normalise_name(name)!r}.")
        return client

    def verify(self, name: str, token: str | None) -> Client:
        """The client, if it is allowed and `token` is its token; ClientRefused otherwise (the
        message says what the user must do)."""
        client = self.get(name)
        if client is None or client.status == PENDING:
            raise ClientRefused(
                f"Mnemo has not allowed the app {normalise_name(name)!r}. Allow it in Mnemo's "
                "Settings → Connected apps (or `mnemo clients allow NAME`), then put the token "
                "it shows in this app's MNEMO_CLIENT_TOKEN."
            )
        if (
            not token
            or client.token_hash is None
            or not hmac.compare_digest(token_hash(token), client.token_hash)
        ):
            raise ClientRefused(
                f"Wrong or missing token for {client.name}. Copy the token from Settings → "
                "Connected apps (or `mnemo clients token NAME`) into MNEMO_CLIENT_TOKEN."
            )
        # After the token: a caller without it learns nothing about the app's state.
        if client.status == CUT_OFF:
            raise ClientRefused(
                f"The user cut off {client.name}. Nothing is readable or writable until they "
                "allow it again in Settings → Connected apps."
            )
        return client

    def seen(self, client_id: int, declared_name: str | None, now: float) -> None:
        self.conn.execute(
            "UPDATE clients SET last_seen_at = ?, declared_name = COALESCE(?, declared_name) "
            "WHERE id = ?",
            (now, (declared_name or "")[:100] or None, client_id),
        )

    # -- the read log
    def log_reads(self, client_id: int, tool: str, memory_ids: Iterable[int], now: float) -> int:
        rows = [(client_id, now, tool, int(m)) for m in dict.fromkeys(memory_ids)]
        self.conn.executemany(
            "INSERT INTO client_reads(client_id, time, tool, memory_id) VALUES (?, ?, ?, ?)", rows
        )
        return len(rows)

    def reads(self, client_id: int, limit: int = 500) -> list[tuple[float, str, int]]:
        """(time, tool, memory id), newest first."""
        rows = self.conn.execute(
            "SELECT time, tool, memory_id FROM client_reads WHERE client_id = ? "
            "ORDER BY time DESC, id DESC LIMIT ?",
            (client_id, limit),
        ).fetchall()
        return [(float(t), str(tool), int(m)) for t, tool, m in rows]

    def read_count(self, client_id: int) -> int:
        row = self.conn.execute(
            "SELECT count(*) FROM client_reads WHERE client_id = ?", (client_id,)
        ).fetchone()
        return int(row[0])

"""The shapes that cross layers: memories going in, hits coming out, imported messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Source kinds (DESIGN.md "Memories"). Imports are "import:<format>".
SCREEN = "screen"
CHAT = "chat"
# The author of the user's own questions in the chat window (answers are by "Mnemo").
CHAT_QUESTION_AUTHOR = "me"
NOTE = "note"
API = "api"
IMPORT_PREFIX = "import:"

# Review status of a memory.
OK = "ok"
QUARANTINED = "quarantined"
REJECTED = "rejected"
REVIEW_STATUSES = (OK, QUARANTINED, REJECTED)


def import_kind(fmt: str) -> str:
    return IMPORT_PREFIX + fmt


@dataclass(slots=True)
class NewMemory:
    """One memory to ingest. Every path (notes, screens, chats, imports) builds these."""

    kind: str  # screen | chat | note | api | import:<format>
    text: str
    time: float  # seconds since the epoch, UTC
    app: str | None = None
    title: str | None = None
    domain: str | None = None
    author: str | None = None
    conversation: str | None = None
    file: str | None = None
    external_id: str | None = None
    media_id: int | None = None
    boxes: list[dict[str, Any]] | None = None  # OCR boxes [{"x","y","w","h","text"}] in media px
    region: dict[str, int] | None = None  # {"x","y","w","h"} of the region in the screenshot
    derived: bool = False  # assistant answers: stored, never used as evidence
    status: str = OK
    reasons: list[str] = field(default_factory=list)  # readable suspicion reasons
    # Suspicion flags (core.suspicion.Flag) when the caller already inspected the memory (a
    # screen, with its picture); None: ingest inspects it. Never stored: `reasons` is.
    flags: list[Any] | None = None
    # The memory's own embedding, set by core.ingest just before the trust inspector runs (the
    # embedding poison model reads it); callers leave it None. Never stored here: `vectors` is.
    vector: Any | None = field(default=None, repr=False, compare=False)


@dataclass(slots=True)
class Memory:
    """A stored memory as read back."""

    id: int
    kind: str
    text: str
    time: float
    app: str | None
    title: str | None
    domain: str | None
    author: str | None
    conversation: str | None
    file: str | None
    external_id: str | None
    media_id: int | None
    source_id: int | None
    trust: float
    status: str
    reasons: list[str]
    derived: bool


@dataclass(slots=True)
class ImportedMessage:
    """One message parsed from an export file (core/importers yield these, streaming)."""

    external_id: str  # the export's own id, or a stable hash of (conversation, time, author, text)
    time: float  # UTC seconds
    author: str | None
    text: str
    conversation: str | None  # conversation title or id
    role: str | None = None  # user | assistant | system, where the format has roles


@dataclass(slots=True)
class SearchFilters:
    since: float | None = None
    until: float | None = None
    app: str | None = None
    source: str | None = None  # a source kind, or "import" for every import:* kind
    include_quarantined: bool = False  # only the review panel sets this
    include_derived: bool = False


@dataclass(slots=True)
class SearchHit:
    """One search result; the fields of the CLI contract plus what the UI shows."""

    id: int
    external_id: str | None
    time: float
    source: str
    app: str | None
    title: str | None
    snippet: str  # matched words wrapped in HL_START / HL_END (also in the CLI JSON)
    score: float
    trust: float
    count: int = 1  # near-identical hits grouped into this one
    group_ids: list[int] = field(default_factory=list)
    author: str | None = None
    conversation: str | None = None
    media_id: int | None = None
    status: str = OK
    # "words": the memory's own text holds query words (they are highlighted in the snippet);
    # "meaning": found by meaning or through its neighbours' words only.
    match: str = "words"

    def to_json(self) -> dict[str, Any]:
        from core.clock import utc_iso

        return {
            "id": self.id,
            "external_id": self.external_id,
            "time": utc_iso(self.time),
            "source": self.source,
            "app": self.app,
            "title": self.title,
            "author": self.author,
            "conversation": self.conversation,
            "snippet": self.snippet,
            "score": round(self.score, 6),
            "trust": round(self.trust, 4),
            "count": self.count,
            "match": self.match,
        }


# Matched words in a snippet are wrapped in these two characters; views render them (bold in
# the GUI, [brackets] in the CLI). They cannot appear in stored text (ingest strips them).
HL_START = "\x02"
HL_END = "\x03"


@dataclass(slots=True)
class SearchResults:
    hits: list[SearchHit]
    query: str  # the words searched for, once time expressions were taken out
    filters: SearchFilters  # the filters applied (time words in the query only boost)
    took_ms: float = 0.0
    # The time range read from the query's words ("in May", "last year"), [since, until):
    # memories from then, or whose text speaks of then, rank higher; nothing is left out.
    time_hint: tuple[float | None, float | None] | None = None
    # Set when the chosen filters left nothing and the results come from an unfiltered search:
    # a sentence saying so.
    fallback: str | None = None

    @property
    def exact(self) -> bool:
        """Whether any hit matches the words (else: "No exact matches" above the results)."""
        return any(h.match == "words" for h in self.hits)

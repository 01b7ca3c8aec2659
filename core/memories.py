"""Rows of the memories table: insert with provenance, read back, count. The ingest path
(core.ingest) adds vectors and the index on top of this."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from core.db import Connection
from core.types import CHAT, CHAT_QUESTION_AUTHOR, SCREEN, Memory, NewMemory

_WS = re.compile(r"\s+")
_DIGITS = re.compile(r"\d")

MEMORY_COLUMNS = (
    "id, kind, text, time, app, title, domain, author, conversation, file, external_id, "
    "media_id, source_id, trust, status, reasons, derived"
)


def dedup_key(text: str, kind: str = SCREEN) -> str:
    """Key shared by near-identical texts: case and whitespace are ignored, and for screens also
    digits (the same screen captured again with a clock that ticked). In messages and notes
    digits carry meaning ("meet at 3" is not "meet at 5"), so they count there."""
    norm = _WS.sub(" ", text.strip().lower())
    if kind == SCREEN:
        norm = _DIGITS.sub("0", norm)
    return hashlib.blake2b(norm.encode("utf-8"), digest_size=12).hexdigest()


def insert_memory(
    conn: Connection, m: NewMemory, *, source_id: int | None, trust: float, now: float
) -> int:
    """Returns the new memory's id. Ids are never reused (AUTOINCREMENT since schema 2): it is
    larger than every id ever given, erased ones included, so an old reference cannot name it."""
    cur = conn.execute(
        "INSERT INTO memories(kind, source_id, time, text, app, title, domain, author, "
        "conversation, file, external_id, media_id, boxes, region, dedup_key, trust, status, "
        "reasons, derived, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            m.kind,
            source_id,
            m.time,
            m.text,
            m.app,
            m.title,
            m.domain,
            m.author,
            m.conversation,
            m.file,
            m.external_id,
            m.media_id,
            json.dumps(m.boxes) if m.boxes else None,
            json.dumps(m.region) if m.region else None,
            dedup_key(m.text, m.kind),
            trust,
            m.status,
            json.dumps(m.reasons) if m.reasons else None,
            1 if m.derived else 0,
            now,
        ),
    )
    return int(cur.lastrowid)


def row_to_memory(row: tuple[Any, ...]) -> Memory:
    (
        mid,
        kind,
        text,
        t,
        app,
        title,
        domain,
        author,
        conversation,
        file,
        external_id,
        media_id,
        source_id,
        trust,
        status,
        reasons,
        derived,
    ) = row
    return Memory(
        id=mid,
        kind=kind,
        text=text,
        time=t,
        app=app,
        title=title,
        domain=domain,
        author=author,
        conversation=conversation,
        file=file,
        external_id=external_id,
        media_id=media_id,
        source_id=source_id,
        trust=trust,
        status=status,
        reasons=json.loads(reasons) if reasons else [],
        derived=bool(derived),
    )


def get_memory(conn: Connection, memory_id: int) -> Memory | None:
    row = conn.execute(
        f"SELECT {MEMORY_COLUMNS} FROM memories WHERE id = ? AND hidden = 0", (memory_id,)
    ).fetchone()
    return row_to_memory(row) if row else None


def get_memories(conn: Connection, ids: list[int]) -> list[Memory]:
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    rows = conn.execute(
        f"SELECT {MEMORY_COLUMNS} FROM memories WHERE hidden = 0 AND id IN ({marks})", ids
    ).fetchall()
    by_id = {r[0]: row_to_memory(r) for r in rows}
    return [by_id[i] for i in ids if i in by_id]


def count_memories(conn: Connection) -> dict[str, int]:
    """Counts by source kind (imports grouped per format), visible memories only."""
    rows = conn.execute(
        "SELECT kind, count(*) FROM memories WHERE hidden = 0 GROUP BY kind"
    ).fetchall()
    return {kind: n for kind, n in rows}


def conversation_title(question: str) -> str:
    """A chat conversation's title: its first question on one line, at most 80 characters."""
    title = " ".join(question.split())
    return title if len(title) <= 80 else title[:79].rstrip() + "…"


def retitle_conversations(conn: Connection, conversation_ids: set[int]) -> None:
    """After an erase: each conversation is titled by its first question still present, or
    has no title left (never the text of an erased question)."""
    for cid in sorted(conversation_ids):
        row = conn.execute(
            "SELECT text FROM memories WHERE kind = ? AND conversation = ? AND author = ? "
            "AND hidden = 0 ORDER BY time, id LIMIT 1",
            (CHAT, str(cid), CHAT_QUESTION_AUTHOR),
        ).fetchone()
        title = conversation_title(str(row[0])) if row is not None else ""
        conn.execute("UPDATE conversations SET title = ? WHERE id = ?", (title, cid))

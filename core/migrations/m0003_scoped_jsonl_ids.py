"""Schema v3 (data only): JSONL memories imported before line ids were scoped get the external_id
importing their file now gives, so importing that file again still adds nothing twice."""

from __future__ import annotations

import re
from typing import Any

# Lines without an id were given a 64-hex hash, which the scoping left as it was.
_UNSCOPED_HASH = re.compile(r"[0-9a-f]{64}")
CHUNK = 2000


def run(conn: Any) -> None:
    """Rewrites, inside the migration's transaction, every import:jsonl row's external_id from
    the file's bare id to `core.importers.jsonl.scoped_id` of the stored fields. A row whose
    new id is already taken keeps its old one (UPDATE OR IGNORE): never a failed unlock."""
    # Imported here: the importers pull in the ingest path, which opening a store never needs.
    from core.importers.jsonl import NAME, scoped_id
    from core.types import import_kind

    kind = import_kind(NAME)
    last = 0
    while True:
        rows = conn.execute(
            "SELECT id, external_id, conversation, time, author, text FROM memories "
            "WHERE kind = ? AND external_id IS NOT NULL AND id > ? ORDER BY id LIMIT ?",
            (kind, last, CHUNK),
        ).fetchall()
        if not rows:
            return
        last = rows[-1][0]
        conn.executemany(
            "UPDATE OR IGNORE memories SET external_id = ? WHERE id = ?",
            [
                (scoped_id(ext, conversation, t, author, text), mid)
                for mid, ext, conversation, t, author, text in rows
                if not _UNSCOPED_HASH.fullmatch(ext)
            ],
        )

"""Numbered schema migrations, applied in order under `PRAGMA user_version`, each in its own
transaction. A store newer than this code is refused untouched."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.errors import StoreTooNew
from core.migrations import (
    m0001_initial,
    m0002_memory_ids_never_reused,
    m0003_scoped_jsonl_ids,
    m0004_retrieval_units,
    m0005_capture_backlog_versions,
    m0006_connected_apps,
    m0007_participant_sources,
    m0016_stale_vectors,
    m0017_search_fields_log,
    m0018_vector_ids,
)

# A step is an SQL script, or a function run with the connection inside the transaction (for
# data changes SQL cannot compute).
Step = str | Callable[[Any], None]

MIGRATIONS: list[tuple[int, Step]] = [
    (1, m0001_initial.SQL),
    (2, m0002_memory_ids_never_reused.SQL),
    (3, m0003_scoped_jsonl_ids.run),
    (4, m0004_retrieval_units.SQL),
    (5, m0005_capture_backlog_versions.SQL),
    (6, m0006_connected_apps.SQL),
    (7, m0007_participant_sources.run),
    # 8-15 are kept for other work of the same session (numbers assigned per branch).
    (16, m0016_stale_vectors.SQL),
    (17, m0017_search_fields_log.SQL),
    (18, m0018_vector_ids.SQL),
]
LATEST = MIGRATIONS[-1][0]


class MigrationBroke(RuntimeError):
    """A migration left rows pointing at nothing; it was rolled back."""


def schema_version(conn: Any) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def check_supported(conn: Any) -> int:
    found = schema_version(conn)
    if found > LATEST:
        raise StoreTooNew(found, LATEST)
    return found


def migrate(conn: Any) -> list[int]:
    """Bring the schema to LATEST; returns the versions applied.

    Migrations run as SQLite prescribes for schema changes: foreign-key enforcement off (a
    table rebuilt by copy, drop and rename must not cascade the drop into the tables that
    reference it; the pragma is ignored inside a transaction, so it is set before BEGIN), and
    before COMMIT `PRAGMA foreign_key_check` must find no more broken references than before."""
    current = check_supported(conn)
    pending = [(v, step) for v, step in MIGRATIONS if v > current]
    if not pending:
        return []
    enforced = int(conn.execute("PRAGMA foreign_keys").fetchone()[0])
    conn.execute("PRAGMA foreign_keys = OFF")
    applied = []
    try:
        broken_before = len(conn.execute("PRAGMA foreign_key_check").fetchall())
        for version, step in pending:
            # executescript commits any open transaction first, then runs the script as
            # written: it leaves this BEGIN open, so the check below still sees it uncommitted.
            try:
                if isinstance(step, str):
                    conn.executescript(
                        f"BEGIN IMMEDIATE;\n{step}\nPRAGMA user_version = {version};"
                    )
                else:
                    conn.executescript("BEGIN IMMEDIATE;")
                    step(conn)
                    conn.execute(f"PRAGMA user_version = {version}")
                broken = len(conn.execute("PRAGMA foreign_key_check").fetchall())
                if broken > broken_before:
                    raise MigrationBroke(
                        f"schema migration {version} would leave {broken - broken_before} "
                        "references to missing rows; it was rolled back"
                    )
                conn.execute("COMMIT")
            except Exception:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            applied.append(version)
            broken_before = broken
    finally:
        conn.execute(f"PRAGMA foreign_keys = {'ON' if enforced else 'OFF'}")
    return applied

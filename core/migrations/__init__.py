"""Numbered schema migrations, applied in order under `PRAGMA user_version`, each in its own
transaction. A store newer than this code is refused untouched."""

from __future__ import annotations

from typing import Any

from core.errors import StoreTooNew
from core.migrations import m0001_initial

MIGRATIONS: list[tuple[int, str]] = [
    (1, m0001_initial.SQL),
]
LATEST = MIGRATIONS[-1][0]


def schema_version(conn: Any) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def check_supported(conn: Any) -> int:
    found = schema_version(conn)
    if found > LATEST:
        raise StoreTooNew(found, LATEST)
    return found


def migrate(conn: Any) -> list[int]:
    """Bring the schema to LATEST; returns the versions applied."""
    current = check_supported(conn)
    applied = []
    for version, sql in MIGRATIONS:
        if version <= current:
            continue
        # executescript commits any open transaction first, then runs the script as written,
        # so the BEGIN/COMMIT pair makes each migration all-or-nothing.
        try:
            conn.executescript(
                f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;"
            )
        except Exception:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        applied.append(version)
    return applied

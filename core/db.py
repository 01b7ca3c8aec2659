"""SQLCipher connections: the raw data key first, then the pragmas of DESIGN.md; one helper
for transactions (savepoints when nested); SQLite errors mapped to what the user can act on."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeAlias

import sqlcipher3

from core.errors import DiskFull, StoreDamaged
from core.keys import DataKey

Connection: TypeAlias = sqlcipher3.Connection
DatabaseError = sqlcipher3.DatabaseError
OperationalError = sqlcipher3.OperationalError
IntegrityError = sqlcipher3.IntegrityError

BUSY_TIMEOUT_MS = 30_000
_savepoints = itertools.count()


def connect(path: Path, key: DataKey) -> Connection:
    """Open `path` with `key`. A file that is not a database under this key is 'damaged'
    (the passphrase was already checked against the key file)."""
    conn = sqlcipher3.connect(
        str(path), isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
    )
    try:
        # SQLCipher's own log goes to stderr; our errors say what is wrong in one line.
        conn.execute("PRAGMA cipher_log_level = NONE").fetchall()
        conn.execute(f'PRAGMA key = "{key.sqlcipher_pragma_value()}"')
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        conn.execute("PRAGMA journal_mode = WAL").fetchone()
        for pragma in (
            "synchronous = FULL",
            "temp_store = MEMORY",
            "secure_delete = ON",
            "foreign_keys = ON",
            f"busy_timeout = {BUSY_TIMEOUT_MS}",
        ):
            conn.execute(f"PRAGMA {pragma}")
    except DatabaseError as e:
        conn.close()
        raise StoreDamaged("database", str(path), _short(e)) from e
    return conn


def _short(e: BaseException) -> str:
    return str(e).splitlines()[0][:120] if str(e) else type(e).__name__


@contextlib.contextmanager
def transaction(conn: Connection, *, immediate: bool = True) -> Iterator[Connection]:
    """BEGIN IMMEDIATE … COMMIT (ROLLBACK on error); a SAVEPOINT when already inside one."""
    if conn.in_transaction:
        name = f"sp{next(_savepoints)}"
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield conn
        except BaseException:
            conn.execute(f"ROLLBACK TO {name}")
            conn.execute(f"RELEASE {name}")
            raise
        conn.execute(f"RELEASE {name}")
        return
    conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def translate_errors(e: BaseException, path: Path) -> BaseException:
    """Map SQLite's disk-full and corruption errors to user-facing ones."""
    msg = str(e).lower()
    if isinstance(e, DatabaseError):
        if "disk is full" in msg or "database or disk is full" in msg:
            return DiskFull(str(path))
        if "malformed" in msg or "not a database" in msg:
            return StoreDamaged("database", str(path), _short(e))
    return e


def integrity_ok(conn: Connection) -> tuple[bool, str]:
    rows = conn.execute("PRAGMA quick_check").fetchall()
    text = "; ".join(str(r[0]) for r in rows)
    return text == "ok", text


def fetch_dicts(conn: Connection, sql: str, params: Any = ()) -> list[dict[str, Any]]:
    cur = conn.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]

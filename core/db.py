"""SQLCipher connections: the raw data key first, then the pragmas of DESIGN.md; one helper
for transactions (savepoints when nested); SQLite errors mapped to what the user can act on."""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeAlias
from urllib.parse import quote

import sqlcipher3

from core.errors import DiskFull, StoreDamaged, StoreLocked
from core.keys import DataKey

Connection: TypeAlias = sqlcipher3.Connection
DatabaseError = sqlcipher3.DatabaseError
OperationalError = sqlcipher3.OperationalError
IntegrityError = sqlcipher3.IntegrityError

BUSY_TIMEOUT_MS = 30_000
_savepoints = itertools.count()


class _GuardedCursor(sqlcipher3.Cursor):
    """A cursor whose every step holds its connection's use lock (see _GuardedConnection)."""

    connection: _GuardedConnection

    def execute(self, *args: Any) -> _GuardedCursor:
        return self.connection._guarded(super().execute, *args)

    def executemany(self, *args: Any) -> _GuardedCursor:
        return self.connection._guarded(super().executemany, *args)

    def executescript(self, *args: Any) -> _GuardedCursor:
        return self.connection._guarded(super().executescript, *args)

    def fetchone(self) -> Any:
        return self.connection._guarded(super().fetchone)

    def fetchmany(self, *args: Any) -> list[Any]:
        return self.connection._guarded(super().fetchmany, *args)

    def fetchall(self) -> list[Any]:
        return self.connection._guarded(super().fetchall)

    def __next__(self) -> Any:
        return self.connection._guarded(super().__next__)

    def __iter__(self) -> Iterator[Any]:
        # Loops take rows in guarded batches: a guarded step per row costs ~0.5 us more.
        while batch := self.connection._guarded(super().fetchmany, 256):
            yield from batch


class _GuardedConnection(sqlcipher3.Connection):
    """A connection that another thread can close safely (lock closes every reader from the
    locking thread). SQLite runs a statement with Python's GIL released; closing the connection
    meanwhile frees the statement under it and crashes the process. So every step holds a use
    lock, and `retire()` interrupts the running statement (SQLite's thread-safe way to stop it),
    waits for the lock, then closes. Afterwards the owner's next call raises StoreLocked."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._use = threading.RLock()
        self._retired = False
        self.path = Path(str(args[0]) if args else "database")

    def _guarded(self, fn: Any, *args: Any) -> Any:
        with self._use:
            if self._retired:
                raise StoreLocked()
            try:
                return fn(*args)
            except (DatabaseError, sqlcipher3.ProgrammingError) as e:
                if self._retired:
                    raise StoreLocked() from None
                # A page that fails its HMAC, a full disk: said as such, naming the file.
                mapped = translate_errors(e, self.path)
                if mapped is not e:
                    raise mapped from e
                raise

    def cursor(self, factory: Any = _GuardedCursor) -> Any:
        return super().cursor(factory)

    def execute(self, *args: Any) -> Any:
        return self.cursor().execute(*args)

    def executemany(self, *args: Any) -> Any:
        return self.cursor().executemany(*args)

    def executescript(self, *args: Any) -> Any:
        return self.cursor().executescript(*args)

    def backup(self, *args: Any, **kwargs: Any) -> None:
        with self._use:
            if self._retired:
                raise StoreLocked()
            super().backup(*args, **kwargs)

    def retire(self) -> None:
        """Stop what runs on this connection and close it, from any thread."""
        self._retired = True
        if not self._use.acquire(blocking=False):
            # A step is running on another thread. Interrupt only then: an interrupt with
            # nothing running would stay pending and abort the checkpoint that closing the
            # last connection makes (leaving the data in the WAL).
            with contextlib.suppress(sqlcipher3.ProgrammingError):
                self.interrupt()
            self._use.acquire()
        try:
            with contextlib.suppress(DatabaseError, sqlcipher3.ProgrammingError):
                self.close()
        finally:
            self._use.release()


READER_CACHE_KIB = 32 * 1024


def connect(path: Path, key: DataKey, *, read_only: bool = False) -> Connection:
    """Open `path` with `key`. A file that is not a database under this key is 'damaged'
    (the passphrase was already checked against the key file).

    `read_only` connections (every reader, and the writer until the database is verified) can
    never change the file: not by a statement, and not by the checkpoint SQLite makes when the
    last connection closes, which is what keeps a damaged store byte-identical."""
    target = f"file:{quote(str(path))}?mode=ro" if read_only else str(path)
    conn: _GuardedConnection = sqlcipher3.connect(
        target,
        uri=read_only,
        isolation_level=None,
        check_same_thread=False,
        timeout=BUSY_TIMEOUT_MS / 1000,
        factory=_GuardedConnection,
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
        if read_only:
            # Searches re-read the same index pages (FTS posting lists, the hit rows' pages);
            # SQLCipher decrypts a page on every read that misses the cache, and the default
            # 2 MB cache missed most: 32 MB per reader cut a search's CPU at 100k memories
            # from p50 14.8 to 11.3 ms (same queries, same run). Pages are read lazily, so a
            # small store never fills it.
            conn.execute(f"PRAGMA cache_size = -{READER_CACHE_KIB}")
    except (DatabaseError, StoreDamaged) as e:
        conn.close()
        if isinstance(e, StoreDamaged):
            raise StoreDamaged("database", str(path), e.detail) from e
        raise StoreDamaged("database", str(path), _short(e)) from e
    conn.path = path
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


def pages_ok(conn: Connection) -> tuple[bool, str]:
    """Every page of the database file against its HMAC (SQLCipher's cipher_integrity_check):
    any byte changed without the key fails here, free pages included. It is what each unlock
    runs before the first write; at 100k memories (258 MB) it took 2.0-2.2 s of CPU, half of
    quick_check's 4.0-4.5 s, which adds the b-tree structure (see `integrity_ok`)."""
    try:
        rows = conn.execute("PRAGMA cipher_integrity_check").fetchall()
    except StoreDamaged as e:
        return False, e.detail
    except DatabaseError as e:
        if "interrupt" in str(e).lower():
            raise
        return False, _short(e)
    if not rows:
        return True, "ok"
    text = "; ".join(str(r[0]) for r in rows[:3])
    return False, text + (f" (and {len(rows) - 3} more)" if len(rows) > 3 else "")


def integrity_ok(conn: Connection) -> tuple[bool, str]:
    """Read every page: SQLCipher's per-page HMAC turns any changed byte into an error, and
    quick_check verifies the b-tree structure. A page that fails is reported, not raised."""
    try:
        rows = conn.execute("PRAGMA quick_check").fetchall()
    except StoreDamaged as e:
        return False, e.detail
    except DatabaseError as e:
        if "interrupt" in str(e).lower():
            raise
        return False, _short(e)
    text = "; ".join(str(r[0]) for r in rows[:5])
    return text == "ok", text


def fetch_dicts(conn: Connection, sql: str, params: Any = ()) -> list[dict[str, Any]]:
    cur = conn.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]

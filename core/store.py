"""The encrypted store: key file + SQLCipher database + media folder in one private data dir.

One writer thread owns the write connection (every write runs there inside BEGIN IMMEDIATE);
each reading thread gets its own connection (WAL lets reads run beside the writer). Locking
closes every connection and wipes the key from memory."""

from __future__ import annotations

import logging
import os
import queue
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from core import migrations
from core.clock import Clock, SystemClock
from core.db import (
    Connection,
    DatabaseError,
    connect,
    integrity_ok,
    transaction,
    translate_errors,
)
from core.errors import AlreadyInitialised, NotInitialised, StoreDamaged, StoreLocked
from core.fsutil import create_private_file, ensure_private_dir
from core.keys import (
    DEFAULT_KDF,
    DataKey,
    KdfParams,
    change_passphrase,
    create_key_file,
    key_file_exists,
    unlock_key,
)
from core.walcheck import check_wal

log = logging.getLogger(__name__)
T = TypeVar("T")

DB_FILE = "mnemo.db"
MEDIA_DIR = "media"
INDEX_FILE = "index.snapshot"


class _Writer(threading.Thread):
    """Runs write jobs one after another on the single write connection."""

    def __init__(self, conn: Connection, db_path: Path) -> None:
        super().__init__(name="mnemo-db-writer", daemon=True)
        self.conn = conn
        self.db_path = db_path
        self.jobs: queue.Queue[tuple[Callable[[Connection], Any], Future[Any], bool] | None] = (
            queue.Queue()
        )

    def run(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                break
            fn, fut, in_tx = job
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                if in_tx:
                    with transaction(self.conn):
                        result = fn(self.conn)
                else:
                    result = fn(self.conn)
            except BaseException as e:  # handed to the caller, who decides
                fut.set_exception(translate_errors(e, self.db_path))
            else:
                fut.set_result(result)
        self.conn.close()

    def stop(self) -> None:
        self.jobs.put(None)
        self.join()


class Store:
    def __init__(self, data_dir: Path, clock: Clock | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.clock: Clock = clock or SystemClock()
        self._key: DataKey | None = None
        self._writer: _Writer | None = None
        self._readers: list[Connection] = []
        self._local = threading.local()
        self._generation = 0
        self._state_lock = threading.RLock()
        self._lock_listeners: list[Callable[[], None]] = []

    # -- paths -------------------------------------------------------------------------------
    @property
    def db_path(self) -> Path:
        return self.data_dir / DB_FILE

    @property
    def media_dir(self) -> Path:
        return self.data_dir / MEDIA_DIR

    @property
    def index_path(self) -> Path:
        return self.data_dir / INDEX_FILE

    def exists(self) -> bool:
        return key_file_exists(self.data_dir) or self.db_path.exists()

    # -- life cycle --------------------------------------------------------------------------
    def create(self, passphrase: str, kdf: KdfParams = DEFAULT_KDF) -> None:
        """Make a new store and leave it unlocked. Refuses to touch an existing one."""
        if self.exists():
            raise AlreadyInitialised(str(self.data_dir))
        ensure_private_dir(self.data_dir)
        ensure_private_dir(self.media_dir)
        key = create_key_file(self.data_dir, passphrase, kdf)
        create_private_file(self.db_path)
        self._open(key, creating=True)

    def unlock(self, passphrase: str) -> None:
        if self.unlocked:
            return
        if not self.exists():
            raise NotInitialised(str(self.data_dir))
        if not self.db_path.exists():
            raise StoreDamaged("database", str(self.db_path), "missing")
        key = unlock_key(self.data_dir, passphrase)
        try:
            self._open(key, creating=False)
        except BaseException:
            key.wipe()
            raise

    def _open(self, key: DataKey, creating: bool) -> None:
        if self.db_path.stat().st_size == 0 and not creating:
            raise StoreDamaged("database", str(self.db_path), "empty file")
        wal_path = self.db_path.with_name(DB_FILE + "-wal")
        wal = check_wal(wal_path)
        if wal is not None and wal.damaged:
            # SQLite would silently stop at the bad frame and drop later commits (R5).
            raise StoreDamaged(
                "write-ahead log (the most recent changes)",
                str(wal_path),
                f"{wal.commits_after_break} saved changes after frame {wal.valid_frames} "
                "fail their checksum",
            )
        conn = connect(self.db_path, key)
        try:
            found = migrations.check_supported(conn)
            if 0 < found < migrations.LATEST:
                self._migrate_keeping_original(conn, found)
            else:
                if found == 0 and not creating:
                    raise StoreDamaged("database", str(self.db_path), "it has no tables")
                migrations.migrate(conn)
        except BaseException:
            conn.close()
            raise
        ensure_private_dir(self.media_dir)
        with self._state_lock:
            self._key = key
            self._generation += 1
            self._writer = _Writer(conn, self.db_path)
            self._writer.start()

    def _migrate_keeping_original(self, conn: Connection, found: int) -> None:
        """R22: copy the (encrypted) database aside, migrate, verify, then drop the copy."""
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        keep = self.db_path.with_name(f"{DB_FILE}.before-v{migrations.LATEST}")
        shutil.copy2(self.db_path, keep)
        os.chmod(keep, 0o600)
        migrations.migrate(conn)
        ok, detail = integrity_ok(conn)
        if not ok:
            raise StoreDamaged("database", str(self.db_path), f"after migration: {detail}")
        keep.unlink()
        log.info("store migrated from schema %d to %d", found, migrations.LATEST)

    def lock(self) -> None:
        """Close every connection, wipe the key, tell listeners (index, services) to drop state."""
        with self._state_lock:
            if self._key is None:
                return
            writer, self._writer = self._writer, None
            readers, self._readers = self._readers, []
            key, self._key = self._key, None
            self._generation += 1
        if writer is not None:
            writer.stop()
        for r in readers:
            # Readers may be mid-query on other threads: retire() stops and closes them safely.
            retire = getattr(r, "retire", None)
            try:
                retire() if retire is not None else r.close()
            except DatabaseError:
                pass
        key.wipe()
        for listener in list(self._lock_listeners):
            listener()

    def on_lock(self, listener: Callable[[], None]) -> None:
        self._lock_listeners.append(listener)

    @property
    def unlocked(self) -> bool:
        return self._key is not None

    @property
    def key(self) -> DataKey:
        key = self._key
        if key is None:
            raise StoreLocked()
        return key

    def change_passphrase(self, old: str, new: str) -> None:
        change_passphrase(self.data_dir, old, new)

    # -- access ------------------------------------------------------------------------------
    def submit_write(
        self, fn: Callable[[Connection], T], *, transactional: bool = True
    ) -> Future[T]:
        writer = self._writer
        if writer is None:
            raise StoreLocked()
        fut: Future[T] = Future()
        writer.jobs.put((fn, fut, transactional))
        return fut

    def write(self, fn: Callable[[Connection], T], *, transactional: bool = True) -> T:
        """Run `fn(conn)` on the writer thread, in one transaction; returns its result."""
        if threading.current_thread() is self._writer:
            # Already on the writer (a write job calling a helper): run inline, nested.
            with transaction(self._writer.conn):
                return fn(self._writer.conn)
        return self.submit_write(fn, transactional=transactional).result()

    def reader(self) -> Connection:
        """This thread's read connection (opened on first use, closed on lock)."""
        with self._state_lock:
            key = self._key
            if key is None:
                raise StoreLocked()
            gen = self._generation
            cached = getattr(self._local, "conn", None)
            if cached is not None and cached[0] == gen:
                conn: Connection = cached[1]
                return conn
            conn = connect(self.db_path, key)
            self._readers.append(conn)
            self._local.conn = (gen, conn)
            return conn

    def checkpoint(self) -> None:
        self.write(
            lambda c: c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall(), transactional=False
        )

    def now(self) -> float:
        return self.clock.now()

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Block until every write queued so far has run (tests, shutdown)."""
        if self._writer is None:
            return
        fut = self.submit_write(lambda c: None, transactional=False)
        fut.result(timeout=timeout)

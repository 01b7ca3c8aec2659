"""The encrypted store: key file + SQLCipher database + media folder in one private data dir.

One writer thread owns the write connection (every write runs there inside BEGIN IMMEDIATE);
each reading thread gets its own connection (WAL lets reads run beside the writer). Locking
closes every connection and wipes the key from memory."""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import shutil
import threading
import time
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
    pages_ok,
    transaction,
    translate_errors,
)
from core.errors import (
    AlreadyInitialised,
    NotInitialised,
    StoreDamaged,
    StoreLocked,
    StoreReadOnly,
)
from core.fsutil import create_private_file, ensure_private_dir
from core.keys import (
    DEFAULT_KDF,
    DataKey,
    KdfParams,
    change_passphrase,
    create_key_file,
    key_file_exists,
    unlock_key_repairing,
)
from core.walcheck import check_wal

log = logging.getLogger(__name__)
T = TypeVar("T")

DB_FILE = "mnemo.db"
MEDIA_DIR = "media"
INDEX_FILE = "index.snapshot"


class _Writer(threading.Thread):
    """Runs write jobs one after another on the single write connection.

    Nothing is written to a store before its integrity is known: when opened for an existing
    database, the writer first reads every page on a read-only connection (`verify`); only
    when that passes does it open the read-write connection and run the jobs queued meanwhile.
    When it fails, the store stays read-only: every job fails with StoreReadOnly and the file
    is never touched (reads still work, so the user can look things up and copy them out)."""

    def __init__(
        self,
        conn: Connection | None,
        db_path: Path,
        *,
        verify: Connection | None = None,
        open_rw: Callable[[], Connection] | None = None,
        on_verified: Callable[[StoreDamaged | None], None] | None = None,
    ) -> None:
        super().__init__(name="mnemo-db-writer", daemon=True)
        self.conn = conn
        self.db_path = db_path
        self._verify = verify
        self._open_rw = open_rw
        self._on_verified = on_verified
        self._stopping = False
        self.read_only = False  # set when damage is found after the first check
        self.wrote = conn is not None  # a read-write connection was opened
        self.damage: StoreDamaged | None = None
        self.jobs: queue.Queue[tuple[Callable[[Connection], Any], Future[Any], bool] | None] = (
            queue.Queue()
        )

    def _check(self) -> bool:
        """False when the store must not be written (damaged, or locked during the check)."""
        probe, self._verify = self._verify, None
        if probe is None:
            return True
        t0 = time.perf_counter()
        damage: StoreDamaged | None = None
        try:
            ok, detail = pages_ok(probe)
            if not ok:
                damage = StoreDamaged("database", str(self.db_path), detail)
        except DatabaseError:
            # Interrupted by lock(): nothing is known, nothing was written.
            with contextlib.suppress(DatabaseError):
                probe.close()
            return False
        with contextlib.suppress(DatabaseError):
            probe.close()
        log.info(
            "integrity check %s in %.0f ms",
            "ok" if damage is None else "FAILED",
            (time.perf_counter() - t0) * 1000,
        )
        if damage is None and self._open_rw is not None:
            try:
                self.conn = self._open_rw()
                self.wrote = True
            except StoreDamaged as e:
                damage = e
        self.damage = damage
        if damage is not None:
            log.warning("the database is damaged; it is open read-only and nothing is written")
        if self._on_verified is not None:
            self._on_verified(damage)
        return damage is None

    def run(self) -> None:
        try:
            writable = self._check() if not self._stopping else False
        except BaseException as e:  # never leave writers (or waiters) hanging on a verdict
            log.exception("the integrity check could not run")
            damage = (
                e
                if isinstance(e, StoreDamaged)
                else StoreDamaged(
                    "database", str(self.db_path), f"the check could not run ({type(e).__name__})"
                )
            )
            self.damage, writable = damage, False
            if self._on_verified is not None:
                self._on_verified(damage)
        while True:
            job = self.jobs.get()
            if job is None:
                break
            fn, fut, in_tx = job
            if not fut.set_running_or_notify_cancel():
                continue
            if self.read_only or not writable or self.conn is None:
                fut.set_exception(StoreReadOnly(self.damage) if self.damage else StoreLocked())
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
        if self.conn is not None:
            self.conn.close()

    def stop(self) -> None:
        self._stopping = True
        probe = self._verify
        if probe is not None:
            # Locking during the check: stop it (an interrupt is SQLite's thread-safe way).
            with contextlib.suppress(Exception):
                probe.interrupt()
        self.jobs.put(None)
        self.join()


class Store:
    def __init__(self, data_dir: Path, clock: Clock | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.clock: Clock = clock or SystemClock()
        self._key: DataKey | None = None
        self._writer: _Writer | None = None
        # Read connections by OS thread. Not a threading.local: a Qt pool thread gets a fresh
        # Python thread state (and so fresh thread-locals) for every job it runs, which opened
        # a new connection per job and kept them all until lock.
        self._readers: dict[int, tuple[int, Connection]] = {}
        self._state_lock = threading.RLock()
        self._lock_listeners: list[Callable[[], None]] = []
        self._damage_listeners: list[Callable[[StoreDamaged], None]] = []
        # Set once the open store's integrity is known (see _Writer); `damage` says how.
        self._verified = threading.Event()
        self.damage: StoreDamaged | None = None
        # What the user must be told about this unlock (a key file repaired from its copy).
        self.notices: list[str] = []

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
        key, notices = unlock_key_repairing(self.data_dir, passphrase)
        self.notices = notices
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
                "write-ahead log (the most recent changes)", str(wal_path), wal.describe()
            )
        self._verified.clear()
        self.damage = None
        self._sidecars_before = {p: p.exists() for p in self._sidecars()}
        if creating:
            self._start_verified(key, migrations.migrate)
            return
        # Until its integrity is known the store is only read (read-only connections).
        try:
            probe = connect(self.db_path, key, read_only=True)
        except BaseException:
            self._tidy_sidecars()
            raise
        try:
            found = migrations.check_supported(probe)
            if found == 0:
                raise StoreDamaged("database", str(self.db_path), "it has no tables")
            if found < migrations.LATEST:
                # A migration rewrites the store: verify every page first, right now.
                ok, detail = integrity_ok(probe)
                if not ok:
                    raise StoreDamaged("database", str(self.db_path), detail)
        except BaseException:
            probe.close()
            self._tidy_sidecars()
            raise
        if found < migrations.LATEST:
            probe.close()
            self._start_verified(key, lambda c: self._migrate_keeping_original(c, found))
            return
        path = self.db_path
        writer = _Writer(
            None,
            path,
            verify=probe,
            open_rw=lambda: connect(path, key),
            on_verified=self._after_verify,
        )
        self._start_writer(key, writer)

    def _start_verified(self, key: DataKey, prepare: Callable[[Connection], Any]) -> None:
        """A new store, or one verified just now: open read-write, `prepare` (migrate), go."""
        conn = connect(self.db_path, key)
        try:
            prepare(conn)
        except BaseException:
            conn.close()
            raise
        self._start_writer(key, _Writer(conn, self.db_path))
        self._verified.set()

    def _sidecars(self) -> list[Path]:
        return [self.db_path.with_name(DB_FILE + "-wal"), self.db_path.with_name(DB_FILE + "-shm")]

    def _tidy_sidecars(self) -> None:
        """Read-only connections cannot remove the empty log and its index when they close, as
        a writer does: remove the ones this opening made (only when empty: nothing in them), so
        a store that was only read is left exactly as it was found."""
        wal, shm = self._sidecars()
        before = getattr(self, "_sidecars_before", {})
        if before.get(wal, True) or not wal.exists() or wal.stat().st_size:
            return
        wal.unlink()
        if not before.get(shm, True) and shm.exists():
            shm.unlink()

    def _start_writer(self, key: DataKey, writer: _Writer) -> None:
        ensure_private_dir(self.media_dir)
        with self._state_lock:
            self._key = key
            self._writer = writer
            writer.start()

    def _after_verify(self, damage: StoreDamaged | None) -> None:
        self.damage = damage
        self._verified.set()
        if damage is not None:
            for listener in list(self._damage_listeners):
                try:
                    listener(damage)
                except Exception:
                    log.exception("damage listener failed")

    def mark_damaged(self, detail: str) -> None:
        """A later check (status --check) found damage: from now on the store is read-only."""
        writer = self._writer
        damage = StoreDamaged("database", str(self.db_path), detail)
        if writer is not None:
            writer.damage = damage
            writer.read_only = True
        self._after_verify(damage)

    def on_damaged(self, listener: Callable[[StoreDamaged], None]) -> None:
        """Called (on the writer thread) when the integrity check finds the database damaged."""
        self._damage_listeners.append(listener)

    def wait_verified(self, timeout: float | None = None) -> StoreDamaged | None:
        """Block until the open store's integrity is known; the damage found, or None."""
        end = None if timeout is None else time.monotonic() + timeout
        while not self._verified.wait(0.2):
            if self._key is None:  # locked meanwhile (the check was stopped)
                raise StoreLocked()
            if end is not None and time.monotonic() > end:
                raise TimeoutError("the integrity check is still running")
        if self._key is None:
            raise StoreLocked()
        return self.damage

    @property
    def verified(self) -> bool:
        return self._verified.is_set()

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
            readers = [conn for _, conn in self._readers.values()]
            self._readers = {}
            key, self._key = self._key, None
        for r in readers:
            _retire(r)
        # The writer's connection closes last: the only one that may checkpoint the log.
        if writer is not None:
            writer.stop()
            if not writer.wrote:
                self._tidy_sidecars()
        self._verified.clear()
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
        writer = self._writer
        if writer is not None and threading.current_thread() is writer:
            # Already on the writer (a write job calling a helper, or a damage listener):
            # run inline, nested; a store found damaged has no write connection.
            if writer.read_only or writer.conn is None:
                raise StoreReadOnly(writer.damage) if writer.damage else StoreLocked()
            with transaction(writer.conn):
                return fn(writer.conn)
        return self.submit_write(fn, transactional=transactional).result()

    def reader(self) -> Connection:
        """This thread's read connection (opened on first use, closed on lock)."""
        ident, native = threading.get_ident(), threading.get_native_id()
        with self._state_lock:
            key = self._key
            if key is None:
                raise StoreLocked()
            cached = self._readers.get(ident)
            if cached is not None and cached[0] == native:
                return cached[1]
            # A thread's id is reused only once it has ended: its connection is free to close.
            stale = [cached[1]] if cached is not None else []
            stale += self._ended_readers(ident)
            conn = connect(self.db_path, key, read_only=True)
            self._readers[ident] = (native, conn)
        for old in stale:
            _retire(old)
        return conn

    def _ended_readers(self, current: int) -> list[Connection]:
        """Take out the connections of threads that have ended (where the OS says so: Linux);
        elsewhere they wait for the lock, one per thread the process ever read from."""
        tasks = Path("/proc/self/task")
        if not tasks.is_dir():
            return []
        alive = {int(t) for t in os.listdir(tasks) if t.isdigit()}
        gone = [i for i, (n, _) in self._readers.items() if i != current and n not in alive]
        return [self._readers.pop(i)[1] for i in gone]

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


def _retire(conn: Connection) -> None:
    # Readers may be mid-query on other threads: retire() stops and closes them safely.
    retire = getattr(conn, "retire", None)
    try:
        retire() if retire is not None else conn.close()
    except DatabaseError:
        pass

"""The encrypted store: migrations, file modes, nothing readable at rest (R1), damage detected
and never repaired by wiping (R5), WAL damage, lock."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
import sqlcipher3

from app.services import Services
from core import migrations
from core.db import Connection
from core.errors import StoreDamaged, StoreLocked, StoreReadOnly, StoreTooNew
from core.keys import TEST_KDF
from core.memories import insert_memory
from core.store import Store
from core.types import NOTE, NewMemory
from core.walcheck import check_wal
from tests.storehelp import PASSPHRASE, modes, scan, snapshot

PAGE = 4096


@pytest.fixture(autouse=True)
def _runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))


def _store(tmp_path: Path, notes: int = 0, name: str = "data") -> Services:
    """A store with `notes` notes, written ten per transaction (so a WAL holds many commits)."""
    s = Services(tmp_path / name)
    s.create(PASSPHRASE, kdf=TEST_KDF)
    # The engine's own first writes (bringing retrieval units up to date as the index opens)
    # come first: the notes' batches are then the log's last commits, as the R5 tests expect.
    assert s.memory is not None and s.memory.wait_ready(60)
    s.store.wait_idle()
    for start in range(0, notes, 10):

        def batch(c: Connection, start: int = start) -> None:
            for i in range(start, min(start + 10, notes)):
                m = NewMemory(kind=NOTE, text=f"note number {i} " + "filler " * 30, time=i)
                insert_memory(c, m, source_id=None, trust=1.0, now=i)

        s.store.write(batch)
    return s


def test_fresh_store_is_at_latest_schema(tmp_path: Path) -> None:
    s = _store(tmp_path)
    assert migrations.schema_version(s.store.reader()) == migrations.LATEST
    tables = {r[0] for r in s.store.reader().execute("SELECT name FROM sqlite_master")}
    assert {"memories", "settings"} <= tables
    s.close()


def test_newer_store_is_refused_and_left_byte_identical(tmp_path: Path) -> None:
    s = _store(tmp_path, notes=3)
    s.store.write(
        lambda c: c.execute(f"PRAGMA user_version = {migrations.LATEST + 1}"), transactional=False
    )
    s.close()
    before = snapshot(tmp_path / "data")
    again = Services(tmp_path / "data")
    with pytest.raises(StoreTooNew, match="newer version"):
        again.unlock(PASSPHRASE)
    assert not again.unlocked
    assert snapshot(tmp_path / "data") == before


def test_file_modes_are_private_including_wal_shm_and_logs(tmp_path: Path) -> None:
    from app.logging_setup import setup_logging

    os.umask(0o022)  # the app sets 077 itself; the store must not rely on it
    s = _store(tmp_path, notes=2)
    setup_logging(tmp_path / "data" / "logs")
    import logging

    logging.getLogger("test").info("hello")
    _ = s.store.reader()
    data = tmp_path / "data"
    assert (data / "mnemo.db-wal").exists() and (data / "mnemo.db-shm").exists()
    found = modes(data)
    try:
        for path, mode in found.items():
            expected = 0o700 if Path(path).is_dir() else 0o600
            assert mode == expected, f"{path} has mode {oct(mode)}"
        assert s.status()["file_modes"] == {"ok": True, "loosened": []}
        os.chmod(data / "mnemo.key", 0o644)
        st = s.status()["file_modes"]
        assert not st["ok"] and "mnemo.key" in st["loosened"][0]
    finally:
        setup_logging(None)
        s.close()


def test_r1_canary_note_is_nowhere_readable_at_rest(tmp_path: Path) -> None:
    canary = "canary-" + os.urandom(8).hex()
    s = _store(tmp_path, notes=5)
    s.add_note(f"the secret word is {canary}")
    s.close()
    data = tmp_path / "data"
    assert scan(data, canary.encode()) == []
    assert not (data / "mnemo.db").read_bytes().startswith(b"SQLite format 3")
    again = Services(data)
    again.unlock(PASSPHRASE)
    rows = again.store.reader().execute("SELECT text FROM memories").fetchall()
    assert any(canary in r[0] for r in rows)
    again.close()


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x55
    path.write_bytes(bytes(data))


def _damaged_store(tmp_path: Path) -> Path:
    s = _store(tmp_path, notes=200)
    s.close()
    return tmp_path / "data"


def _expect_damaged(data: Path, what: str) -> None:
    before = snapshot(data)
    s = Services(data)
    with pytest.raises(StoreDamaged) as err:
        s.unlock(PASSPHRASE)
    s.close()
    assert what in str(err.value)
    assert "left untouched" in str(err.value)
    assert snapshot(data) == before, "the damaged files were changed"


def test_r5_page_one_damage(tmp_path: Path) -> None:
    data = _damaged_store(tmp_path)
    _flip(data / "mnemo.db", 100)
    _expect_damaged(data, "database at")


def test_r5_later_page_damage_is_found_by_the_integrity_check(tmp_path: Path) -> None:
    """Unlock reads only page 1 and the schema; every page is read by the integrity check that
    each unlock starts before the first write. Damage found there leaves the store open but
    read-only: nothing is written (every file byte-identical, even after searching and
    locking), writes say why, and the damage is known to whoever asks."""
    data = _damaged_store(tmp_path)
    db = data / "mnemo.db"
    assert db.stat().st_size > 12 * PAGE
    _flip(db, PAGE * 10 + 700)
    before = snapshot(data)
    s = Services(data)
    s.unlock(PASSPHRASE)
    with pytest.raises(StoreDamaged, match=r"database at .*left untouched"):
        s.check_integrity()
    assert s.unlocked and s.damage is not None
    with pytest.raises(StoreReadOnly, match="Nothing was saved"):
        s.add_note("more")
    s.close()
    assert snapshot(data) == before


def test_a_write_from_a_damage_listener_is_refused_as_read_only(tmp_path: Path) -> None:
    """Damage listeners run on the writer thread (capture stops and records that it did):
    their writes run inline there, and on a store found damaged they are refused as
    read-only, never an AttributeError on the missing write connection."""
    data = _damaged_store(tmp_path)
    _flip(data / "mnemo.db", PAGE * 10 + 700)
    before = snapshot(data)
    s = Services(data)
    seen: list[BaseException] = []

    def write_on_damage(_damage: StoreDamaged) -> None:
        try:
            s.store.write(lambda c: c.execute("SELECT 1"))
        except BaseException as e:
            seen.append(e)

    s.store.on_damaged(write_on_damage)
    s.unlock(PASSPHRASE)
    with pytest.raises(StoreDamaged):
        s.check_integrity()
    s.close()
    assert [type(e) for e in seen] == [StoreReadOnly]
    assert snapshot(data) == before


def test_r5_truncated_database(tmp_path: Path) -> None:
    data = _damaged_store(tmp_path)
    blob = (data / "mnemo.db").read_bytes()
    (data / "mnemo.db").write_bytes(blob[: len(blob) // 2])
    _expect_damaged(data, "database at")


def test_r5_empty_or_missing_database_is_never_replaced(tmp_path: Path) -> None:
    data = _damaged_store(tmp_path)
    (data / "mnemo.db").write_bytes(b"")
    _expect_damaged(data, "empty file")
    (data / "mnemo.db").unlink()
    _expect_damaged(data, "missing")
    assert not (data / "mnemo.db").exists()


def test_r5_key_file_damage_both_copies(tmp_path: Path) -> None:
    data = _damaged_store(tmp_path)
    for name in ("mnemo.key", "mnemo.key.bak"):
        _flip(data / name, 3)
    _expect_damaged(data, "key file")


def test_r5_key_file_damage_with_intact_backup_copy_opens(tmp_path: Path) -> None:
    data = _damaged_store(tmp_path)
    _flip(data / "mnemo.key", 3)
    s = Services(data)
    s.unlock(PASSPHRASE)
    assert s.status()["memories"]["total"] == 200
    s.close()


def _crashed_copy_with_wal(tmp_path: Path) -> Path:
    s = _store(tmp_path, notes=300)
    shutil.copytree(tmp_path / "data", tmp_path / "crashed")  # as if the power went out
    s.close()
    return tmp_path / "crashed"


def test_r5_wal_damage_in_the_middle_is_refused(tmp_path: Path) -> None:
    data = _crashed_copy_with_wal(tmp_path)
    report = check_wal(data / "mnemo.db-wal")
    assert report is not None and report.valid_frames > 20 and not report.damaged
    _flip(data / "mnemo.db-wal", 32 + (24 + PAGE) * 10 + 500)
    _expect_damaged(data, "write-ahead log")


@pytest.mark.parametrize("offset", [0, 3, 9, 17, 26, 30])
def test_r5_wal_header_damage_is_refused(tmp_path: Path, offset: int) -> None:
    """SQLite would ignore the whole log (every commit in it) behind a header that fails its
    checksum: magic, page size, salts, checksum, each flipped."""
    data = _crashed_copy_with_wal(tmp_path)
    _flip(data / "mnemo.db-wal", offset)
    _expect_damaged(data, "write-ahead log")


def test_r5_torn_wal_tail_is_a_crash_not_damage(tmp_path: Path) -> None:
    data = _crashed_copy_with_wal(tmp_path)
    wal = data / "mnemo.db-wal"
    wal.write_bytes(wal.read_bytes()[:-3000])
    s = Services(data)
    s.unlock(PASSPHRASE)
    assert s.status()["memories"]["total"] == 290  # only the torn last commit (10 notes) lost
    s.close()


def test_lock_closes_connections_and_wipes_the_key(tmp_path: Path) -> None:
    s = _store(tmp_path, notes=1)
    conn = s.store.reader()
    key = s.store.key
    dropped: list[bool] = []
    s.on_lock(lambda: dropped.append(True))
    s.lock()
    assert dropped == [True]
    with pytest.raises(sqlcipher3.ProgrammingError):
        conn.execute("SELECT 1")
    with pytest.raises(RuntimeError):
        _ = key.raw
    for call in (s.store.reader, lambda: s.store.key, lambda: s.add_note("x")):
        with pytest.raises(StoreLocked):
            call()


def test_store_create_refuses_an_existing_store(tmp_path: Path) -> None:
    s = _store(tmp_path)
    s.close()
    before = snapshot(tmp_path / "data")
    from core.errors import AlreadyInitialised

    with pytest.raises(AlreadyInitialised):
        Store(tmp_path / "data").create(PASSPHRASE, TEST_KDF)
    assert snapshot(tmp_path / "data") == before


def test_lock_while_other_threads_are_mid_query_stops_them_without_a_crash(
    tmp_path: Path,
) -> None:
    """Seen in the app: auto-lock while a search ran on a worker thread closed that thread's
    connection under its running statement, and the process died (segmentation fault). Lock
    now interrupts the statement and closes the connection only once the step has returned;
    the worker gets StoreLocked."""
    import threading

    s = _store(tmp_path, notes=20)
    slow = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50000000) "
        "SELECT count(*) FROM n, memories WHERE memories.id = 1"
    )
    started = threading.Barrier(4)
    outcomes: list[str] = []

    def query(kind: str) -> None:
        conn = s.store.reader()
        started.wait()
        try:
            if kind == "step":
                conn.execute(slow).fetchone()
            else:  # many short steps, as a worker iterating rows does
                for _ in range(100_000):
                    for _row in conn.execute("SELECT id, text FROM memories"):
                        pass
            outcomes.append("finished")
        except StoreLocked:
            outcomes.append("locked")

    workers = [threading.Thread(target=query, args=(k,)) for k in ("step", "rows", "rows")]
    for w in workers:
        w.start()
    started.wait()
    time.sleep(0.2)  # let them get into SQLite
    t0 = time.monotonic()
    s.lock()
    for w in workers:
        w.join(10)
    assert not any(w.is_alive() for w in workers)
    assert outcomes == ["locked"] * 3
    assert time.monotonic() - t0 < 5  # the running statement was interrupted, not waited out
    with pytest.raises(StoreLocked):
        s.store.reader()

"""R2 (nothing readable while running), R3 (temporary data stays in memory) and R7 (a full
disk is said, nothing committed is lost, writing resumes when space returns)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from app.services import Services
from core.errors import DiskFull
from core.keys import TEST_KDF
from core.memories import insert_memory
from core.types import NOTE, NewMemory
from tests.fakes import FakeEmbedder
from tests.storehelp import PASSPHRASE, scan


@pytest.fixture(autouse=True)
def _own_temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temp dirs a full scan covers: this test's own (Python's and SQLite's)."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    for name in ("TMPDIR", "SQLITE_TMPDIR"):
        monkeypatch.setenv(name, str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return tmp


def _open(tmp_path: Path) -> Services:
    s = Services(tmp_path / "data", embedder=FakeEmbedder(dim=32))
    s.create(PASSPHRASE, kdf=TEST_KDF)
    return s


def test_r2_nothing_readable_while_running_right_after_commit(tmp_path: Path) -> None:
    s = _open(tmp_path)
    try:
        canary = "canary" + os.urandom(6).hex()
        s.add_note(f"the door code is {canary}")
        assert s.memory is not None
        s.memory.search(canary)  # the read side is running too
        data = tmp_path / "data"
        assert (data / "mnemo.db-wal").stat().st_size > 0  # the commit is in the log now
        hits = scan(data, canary.encode()) + scan(Path(tempfile.gettempdir()), canary.encode())
        assert hits == []
    finally:
        s.close()


def test_r3_every_connection_keeps_temp_data_in_memory_and_a_big_sort_leaves_no_file(
    tmp_path: Path, _own_temp_dir: Path
) -> None:
    spill = _own_temp_dir
    s = _open(tmp_path)
    try:
        canary = "canary" + os.urandom(6).hex()

        def fill(c: object) -> None:
            for i in range(1500):
                m = NewMemory(kind=NOTE, text=f"{canary} {i} " + os.urandom(400).hex(), time=i)
                insert_memory(c, m, source_id=None, trust=1.0, now=i)  # type: ignore[arg-type]

        s.store.write(fill)
        reader = s.store.reader()
        assert reader.execute("PRAGMA temp_store").fetchone()[0] == 2
        assert s.store.write(lambda c: c.execute("PRAGMA temp_store").fetchone()[0]) == 2
        reader.execute("PRAGMA cache_size = -200").fetchall()  # 200 KB: the sort must spill
        cur = reader.execute("SELECT text FROM memories ORDER BY substr(text, 40)")
        assert cur.fetchone() is not None  # sorted: a spill file would be open now
        assert _open_files_in(spill) == []
        assert len(cur.fetchall()) == 1499
        assert list(spill.iterdir()) == []
        assert scan(Path(tempfile.gettempdir()), canary.encode()) == []
    finally:
        s.close()


def _open_files_in(folder: Path) -> list[str]:
    """Files this process holds open in `folder`, deleted ones included (SQLite unlinks its
    temp files at once, so only /proc shows them), and SQLite temp files wherever they are:
    SQLite reads SQLITE_TMPDIR/TMPDIR once per process, so after an earlier test its spill
    files go to the folder it saw first."""
    links = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            links.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            pass
    return [
        link
        for link in links
        if link.startswith(str(folder)) or os.path.basename(link).startswith("etilqs_")
    ]


def test_r3_the_check_sees_a_spill_file_when_temp_store_is_file(_own_temp_dir: Path) -> None:
    """The control of the test above: with temp_store=FILE the same sort does leave a file."""
    import sqlite3

    conn = sqlite3.connect(":memory:")
    conn.execute("PRAGMA temp_store = FILE")
    conn.execute("PRAGMA cache_size = -200")
    conn.execute("CREATE TABLE t (x TEXT)")
    conn.executemany("INSERT INTO t VALUES (?)", [(os.urandom(400).hex(),) for _ in range(1500)])
    cur = conn.execute("SELECT x FROM t ORDER BY substr(x, 40)")
    cur.fetchone()
    assert _open_files_in(_own_temp_dir), "the spill check cannot see a spill"
    conn.close()


def test_r7_disk_full_is_said_nothing_committed_is_lost_and_writing_resumes(
    tmp_path: Path,
) -> None:
    s = _open(tmp_path)
    try:
        assert s.memory is not None
        pages = s.store.write(lambda c: c.execute("PRAGMA page_count").fetchone()[0])
        s.store.write(
            lambda c: c.execute(f"PRAGMA max_page_count = {pages + 40}").fetchall(),
            transactional=False,
        )
        saved: list[int] = []
        with pytest.raises(DiskFull, match=r"is full\. Nothing committed was lost"):
            for i in range(10_000):
                saved.append(s.add_note(f"note {i} " + "words " * 100))
        assert saved, "the disk filled before anything was written"
        have = {r[0] for r in s.store.reader().execute("SELECT id FROM memories")}
        assert set(saved) <= have
        s.store.write(
            lambda c: c.execute("PRAGMA max_page_count = 1000000").fetchall(), transactional=False
        )
        again = s.add_note("space is back")
        assert again in {r[0] for r in s.store.reader().execute("SELECT id FROM memories")}
    finally:
        s.close()

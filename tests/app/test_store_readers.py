"""Read connections are one per OS thread, also on Qt pool threads (whose Python thread-locals
are new for every job): jobs on the task runner reuse their thread's connection instead of each
opening one that stays open, with its decrypted page cache, until the store locks."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from app.services import Services
from app.tasks import Lane, TaskRunner
from core import store as store_module
from core.keys import TEST_KDF
from tests.storehelp import PASSPHRASE


def _open(tmp_path: Path) -> Services:
    s = Services(tmp_path / "data")
    s.create(PASSPHRASE, kdf=TEST_KDF)
    return s


def _count_opened(monkeypatch: pytest.MonkeyPatch, mine: set[int]) -> list[Any]:
    """Connections opened from the threads in `mine` (the services' own threads read too)."""
    opened: list[Any] = []
    real = store_module.connect

    def connect(*args: Any, **kwargs: Any) -> Any:
        conn = real(*args, **kwargs)
        if threading.get_native_id() in mine:
            opened.append(conn)
        return conn

    monkeypatch.setattr(store_module, "connect", connect)
    return opened


def test_jobs_on_pool_threads_share_their_threads_connection(
    qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = _open(tmp_path)
    runner = TaskRunner(max_threads=2)
    workers: set[int] = set()
    opened = _count_opened(monkeypatch, workers)
    done: list[int] = []

    def job(_ctx: Any) -> Any:
        workers.add(threading.get_native_id())
        return s.store.reader().execute("SELECT count(*) FROM memories").fetchone()

    try:
        for _ in range(40):
            runner.op(job, lambda _row: done.append(1), lane=Lane.DATABASE)
        qtbot.waitUntil(lambda: len(done) == 40, timeout=10_000)
        # Two database threads: at most one connection each, not one per job.
        assert len(opened) <= len(workers) <= 2
    finally:
        runner.cancel_all()
        runner.wait(5_000)
        s.close()


def test_connections_of_ended_threads_are_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = _open(tmp_path)
    mine: set[int] = set()
    opened = _count_opened(monkeypatch, mine)

    def read() -> None:
        mine.add(threading.get_native_id())
        s.store.reader().execute("SELECT 1").fetchone()

    try:
        for _ in range(30):
            t = threading.Thread(target=read)
            t.start()
            t.join()
        assert len(opened) == 30
        # Each new thread found the ended ones' connections and closed them. The thread just
        # joined may not have left the OS's thread list yet: its own and the last one's stay.
        still_open = [c for c in opened if not getattr(c, "_retired", False)]
        assert len(still_open) <= 2
    finally:
        s.close()

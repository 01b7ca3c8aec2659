"""Read connections are one per OS thread, also on Qt pool threads (whose Python thread-locals
are new for every job): jobs on the task runner reuse their thread's connection instead of each
opening one that stays open, with its decrypted page cache, until the store locks."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from app.services import Services
from app.tasks import Lane, TaskRunner
from core.keys import TEST_KDF
from tests.storehelp import PASSPHRASE


def _open(tmp_path: Path) -> Services:
    s = Services(tmp_path / "data")
    s.create(PASSPHRASE, kdf=TEST_KDF)
    return s


def test_jobs_on_pool_threads_share_their_threads_connection(qtbot: Any, tmp_path: Path) -> None:
    s = _open(tmp_path)
    runner = TaskRunner(max_threads=2)
    done: list[int] = []
    before = len(s.store._readers)  # the services' own threads read too
    try:
        for _ in range(40):
            runner.op(
                lambda _ctx: s.store.reader().execute("SELECT count(*) FROM memories").fetchone(),
                lambda _row: done.append(1),
                lane=Lane.DATABASE,
            )
        qtbot.waitUntil(lambda: len(done) == 40, timeout=10_000)
        # Two database threads: at most two more connections, not one per job.
        assert len(s.store._readers) - before <= 2
    finally:
        runner.cancel_all()
        runner.wait(5_000)
        s.close()


def test_connections_of_ended_threads_are_closed(tmp_path: Path) -> None:
    s = _open(tmp_path)
    before = len(s.store._readers)
    try:
        for _ in range(30):
            t = threading.Thread(target=lambda: s.store.reader().execute("SELECT 1").fetchone())
            t.start()
            t.join()
        # Each new thread finds the ended ones' connections and closes them.
        assert len(s.store._readers) - before <= 1
        assert s.store.reader().execute("SELECT 1").fetchone() == (1,)
    finally:
        s.close()

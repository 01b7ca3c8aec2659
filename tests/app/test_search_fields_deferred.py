"""After unlock the load lane builds the in-memory search fields (core.search_fields); a search
made before it has does not build them itself in the user's wait (1.9 s at 100k memories under
load, measured by bench.unlock_to_search): it reads rows, finds the same memories, and the copy
is there once the lane is done."""

from __future__ import annotations

import threading

import pytest

from app.services import Services
from core.clock import FixedClock
from core.db import Connection
from core.search import Searcher
from core.search_fields import SearchFields
from core.types import NewMemory
from tests.app.conftest import PASSPHRASE


def test_a_search_before_the_lane_builds_the_fields_reads_rows(
    services: Services, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    memory = services.require_memory()
    (a,) = memory.add([NewMemory(kind="note", text="allotment shed key", time=clock.now())])
    (b,) = memory.add([NewMemory(kind="note", text="allotment rota", time=clock.now())])
    services.store.write(
        lambda c: c.execute("UPDATE memories SET status = 'quarantined' WHERE id = ?", (b,))
    )
    services.lock()

    go = threading.Event()
    warm = Searcher.warm_fields

    def held(self: Searcher) -> None:
        go.wait(10)  # the lane is busy (the index, the units) before it gets here
        warm(self)

    monkeypatch.setattr(Searcher, "warm_fields", held)
    services.unlock(PASSPHRASE)
    again = services.require_memory()
    try:
        hits = {h.id for h in again.search("allotment", None, 20, fallback=False).hits}
        assert hits == {a}  # the quarantined one stays out, read from the rows
        assert again.searcher._fields.seq < 0  # not built by the search
    finally:
        go.set()
    assert again.wait_ready(10)
    assert again.searcher._fields.seq >= 0  # built by the lane
    assert {h.id for h in again.search("allotment", None, 20, fallback=False).hits} == {a}


@pytest.mark.logs_warnings  # the lane logs the failed build
def test_a_failed_build_on_the_lane_leaves_searches_to_build_the_fields(
    services: Services, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    memory = services.require_memory()
    (a,) = memory.add([NewMemory(kind="note", text="greenhouse vents", time=clock.now())])
    services.lock()
    calls = []
    sync = SearchFields.sync

    def failing_once(self: SearchFields, conn: Connection) -> bool:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the build failed")  # the lane's build: logged, not fatal
        return sync(self, conn)

    monkeypatch.setattr(SearchFields, "sync", failing_once)
    services.unlock(PASSPHRASE)
    again = services.require_memory()
    assert again.wait_ready(10) and calls == [1]
    # not left reading rows for the whole session: the next search builds the copy
    assert {h.id for h in again.search("greenhouse", None, 20, fallback=False).hits} == {a}
    assert again.searcher._fields.seq >= 0

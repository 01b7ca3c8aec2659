"""The search fields held in memory (core.search_fields) on a real store: they follow every
write through the change log (schema 17), so an erased, hidden or quarantined memory never comes
back through them and a released one is found again; they filter exactly as the SQL of
core.search.filter_sql; a log that skipped past the copy rebuilds it; a store without the log
searches by rows; search returns the same hits either way."""

from __future__ import annotations

from pathlib import Path

import pytest

import core.search
from app.memory_service import MemoryService
from app.services import Services
from core import migrations
from core.backup import restore_backup
from core.clock import FixedClock
from core.erase import EraseSpec
from core.keys import TEST_KDF
from core.search import BroadFilter, filter_sql
from core.search_fields import FieldsFilter, SearchFields
from core.types import NewMemory, SearchFilters
from tests.app.conftest import PASSPHRASE
from tests.fakes import FakeEmbedder

DAY = 86400.0


def add(
    memory: MemoryService, clock: FixedClock, text: str, days_ago: float = 0, **kw: object
) -> int:
    kind = str(kw.pop("kind", "note"))
    (mid,) = memory.add([NewMemory(kind=kind, text=text, time=clock.now() - days_ago * DAY, **kw)])  # type: ignore[arg-type]
    return mid


def fields_of(memory: MemoryService) -> SearchFields:
    got = memory.searcher._fields_of(memory.store.reader())
    assert got is not None
    return got


def passes(memory: MemoryService, mid: int, f: SearchFilters | None = None) -> bool:
    return bool(fields_of(memory).passing([mid], f or SearchFilters())[0])


def found(memory: MemoryService, query: str, f: SearchFilters | None = None) -> set[int]:
    return {h.id for h in memory.search(query, f, 20, fallback=False).hits}


def test_fields_follow_quarantine_release_hide_and_erase(
    services: Services, memory: MemoryService, clock: FixedClock
) -> None:
    a = add(memory, clock, "the harbour ferry leaves at nine")
    b = add(memory, clock, "harbour lights at night", days_ago=2)
    assert found(memory, "harbour") == {a, b} and passes(memory, a)  # built, both pass

    def status(mid: int, value: str) -> None:
        services.store.write(
            lambda c: c.execute("UPDATE memories SET status = ? WHERE id = ?", (value, mid))
        )

    status(a, "quarantined")
    assert not passes(memory, a) and passes(memory, a, SearchFilters(include_quarantined=True))
    assert found(memory, "harbour") == {b}
    status(a, "ok")  # released: a stale copy would keep it out for good
    assert passes(memory, a) and found(memory, "harbour") == {a, b}
    status(a, "rejected")
    assert not passes(memory, a, SearchFilters(include_quarantined=True))
    status(a, "ok")
    services.store.write(lambda c: c.execute("UPDATE memories SET hidden = 1 WHERE id = ?", (b,)))
    assert not passes(memory, b) and found(memory, "harbour") == {a}
    services.store.write(lambda c: c.execute("UPDATE memories SET hidden = 0 WHERE id = ?", (b,)))
    assert found(memory, "harbour") == {a, b}
    erase = services.erase
    assert erase is not None
    erase.erase(EraseSpec(ids=[a]))
    assert not passes(memory, a, SearchFilters(include_quarantined=True, include_derived=True))
    assert found(memory, "harbour") == {b}
    c = add(memory, clock, "a new harbour memory", days_ago=1)
    assert passes(memory, c) and found(memory, "harbour") == {b, c}


def test_time_and_trust_changes_are_followed(
    services: Services, memory: MemoryService, clock: FixedClock
) -> None:
    a = add(memory, clock, "quarterly report draft", days_ago=10)
    recent = SearchFilters(since=clock.now() - 3 * DAY)
    assert not passes(memory, a, recent)
    services.store.write(
        lambda c: c.execute(
            "UPDATE memories SET time = ?, trust = 0.25 WHERE id = ?", (clock.now(), a)
        )
    )
    assert passes(memory, a, recent)
    fields = fields_of(memory)
    assert fields.trust[a] == 0.25 and fields.time[a] == clock.now()


def test_fields_filter_as_the_sql_does(
    services: Services, memory: MemoryService, clock: FixedClock
) -> None:
    ids = [
        add(memory, clock, "alpha one", days_ago=1, kind="screen", app="code"),
        add(memory, clock, "alpha two", days_ago=4, kind="screen", app="mail"),
        add(memory, clock, "alpha three", days_ago=8, kind="import:jsonl"),
        add(memory, clock, "alpha four", days_ago=2, kind="import:whatsapp"),
        add(memory, clock, "alpha five", days_ago=3),
        add(memory, clock, "alpha six", days_ago=6, kind="chat", app="code"),
    ]
    services.store.write(
        lambda c: c.execute("UPDATE memories SET status = 'quarantined' WHERE id = ?", (ids[1],))
    )
    services.store.write(
        lambda c: c.execute("UPDATE memories SET derived = 1 WHERE id = ?", (ids[4],))
    )
    conn = services.store.reader()
    now = clock.now()
    cases = [
        SearchFilters(),
        SearchFilters(app="code"),
        SearchFilters(app="nowhere"),
        SearchFilters(source="import"),
        SearchFilters(source="import:jsonl"),
        SearchFilters(source="screen"),
        SearchFilters(since=now - 5 * DAY),
        SearchFilters(since=now - 7 * DAY, until=now - 2.5 * DAY),
        SearchFilters(include_quarantined=True),
        SearchFilters(include_derived=True, app="code"),
        SearchFilters(include_quarantined=True, include_derived=True, since=now - 4.5 * DAY),
    ]
    probe = [*ids, max(ids) + 50, 0]
    for f in cases:
        want = BroadFilter(conn, *filter_sql(f)).first(probe, 100)
        fields = FieldsFilter(fields_of(memory), f)
        got = fields.first(probe, 100)
        assert got == want and [i for i in probe if i in fields] == want, f
        assert set(FieldsFilter(fields_of(memory), f).listed()) == set(want), f
    assert len(BroadFilter(conn, *filter_sql(SearchFilters())).first(probe, 100)) == 4
    # A kind first seen after the copy was built.
    late = add(memory, clock, "alpha seven", kind="import:signal")
    imports = SearchFilters(source="import")
    assert FieldsFilter(fields_of(memory), imports).first([*ids, late], 100) == [
        ids[2],
        ids[3],
        late,
    ]
    assert late in FieldsFilter(fields_of(memory), imports)


def test_same_hits_with_fields_as_with_rows(
    memory: MemoryService, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    apps = ["code", "mail", None]
    for i in range(40):
        add(
            memory,
            clock,
            f"meeting notes {i} about the budget" if i % 3 else f"harbour trip {i}",
            days_ago=i / 2,
            app=apps[i % 3],
            kind="screen" if apps[i % 3] else "note",
        )
    monkeypatch.setattr(core.search, "BROAD", 3)  # the filters below are broad ones
    queries = ["meeting budget", "harbour", "notes 12", "trip"]
    filters = [
        SearchFilters(),
        SearchFilters(app="code"),
        SearchFilters(since=clock.now() - 5 * DAY),
    ]
    searcher = memory.searcher
    for q in queries:
        for f in filters:
            searcher.use_fields = True
            with_fields = [(h.id, h.count, h.match, h.snippet) for h in memory.search(q, f).hits]
            searcher.use_fields = False
            with_rows = [(h.id, h.count, h.match, h.snippet) for h in memory.search(q, f).hits]
            assert with_fields == with_rows and with_fields, (q, f)


def test_a_log_that_skipped_past_the_copy_rebuilds_it(
    services: Services, memory: MemoryService, clock: FixedClock
) -> None:
    a = add(memory, clock, "lighthouse keeper")
    assert passes(memory, a)
    # A change whose log entry is gone (pruned before this copy read it).
    services.store.write(
        lambda c: (
            c.execute("UPDATE memories SET status = 'quarantined' WHERE id = ?", (a,)),
            c.execute("DELETE FROM memories_changed"),
            c.execute("INSERT INTO memories_changed(memory_id) VALUES (?)", (a + 1000,)),
        )
    )
    assert not passes(memory, a)
    assert a not in found(memory, "lighthouse")


def test_the_log_prunes_itself(services: Services) -> None:
    def fill(c: object) -> None:
        c.executemany(  # type: ignore[attr-defined]
            "INSERT INTO memories_changed(seq, memory_id) VALUES (?, 1)",
            [(s,) for s in range(1, 1000)],
        )
        c.execute("INSERT INTO memories_changed(seq, memory_id) VALUES (101000, 1)")  # type: ignore[attr-defined]

    services.store.write(fill)
    (low,) = services.store.reader().execute("SELECT min(seq) FROM memories_changed").fetchone()
    assert low == 101000  # entries more than 100,000 older are gone


def test_a_store_without_the_log_searches_by_rows(
    services: Services, memory: MemoryService, clock: FixedClock
) -> None:
    a = add(memory, clock, "orchard apples")
    services.store.write(lambda c: c.execute("DROP TABLE memories_changed"), transactional=False)
    assert memory.searcher._fields_of(services.store.reader()) is None
    assert found(memory, "orchard") == {a}


def test_fields_after_restart_and_backup_restore(
    services: Services, memory: MemoryService, clock: FixedClock, tmp_path: Path
) -> None:
    a = add(memory, clock, "violin lesson on friday")
    b = add(memory, clock, "violin strings ordered")
    services.store.write(
        lambda c: c.execute("UPDATE memories SET status = 'quarantined' WHERE id = ?", (b,))
    )
    assert found(memory, "violin") == {a}
    services.backup(tmp_path / "b.mnemo-backup")
    services.lock()
    services.unlock(PASSPHRASE)
    again = services.require_memory()
    assert again.wait_ready(10)  # the load lane builds the copy after unlock
    assert found(again, "violin") == {a} and not passes(again, b)
    restore_backup(tmp_path / "b.mnemo-backup", tmp_path / "restored", PASSPHRASE)
    other = Services(tmp_path / "restored", clock=clock, embedder=FakeEmbedder())
    other.unlock(PASSPHRASE)
    try:
        mem = other.require_memory()
        assert mem.wait_ready(10)
        assert found(mem, "violin") == {a} and not passes(mem, b)
    finally:
        other.close()


def test_a_schema_16_store_gains_the_log(
    tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(migrations, "MIGRATIONS", [m for m in migrations.MIGRATIONS if m[0] <= 16])
    monkeypatch.setattr(migrations, "LATEST", 16)
    s = Services(tmp_path / "store", clock=clock, embedder=FakeEmbedder())
    s.create(PASSPHRASE, kdf=TEST_KDF)
    memory = s.require_memory()
    memory.wait_ready(10)
    a = add(memory, clock, "kestrel sighting")
    assert memory.searcher._fields_of(s.store.reader()) is None  # no log yet: rows are read
    assert found(memory, "kestrel") == {a}
    s.close()
    monkeypatch.undo()
    s = Services(tmp_path / "store", clock=clock, embedder=FakeEmbedder())
    s.unlock(PASSPHRASE)
    try:
        memory = s.require_memory()
        memory.wait_ready(10)
        assert migrations.schema_version(s.store.reader()) == migrations.LATEST
        assert found(memory, "kestrel") == {a} and passes(memory, a)  # built from the rows
        b = add(memory, clock, "kestrel again")
        (logged,) = (
            s.store.reader()
            .execute("SELECT count(*) FROM memories_changed WHERE memory_id = ?", (b,))
            .fetchone()
        )
        assert logged == 1 and found(memory, "kestrel") == {a, b}
    finally:
        s.close()


def test_the_fields_are_built_when_the_session_opens(
    services: Services, memory: MemoryService, clock: FixedClock
) -> None:
    a = add(memory, clock, "tram timetable")
    services.lock()
    services.unlock(PASSPHRASE)
    again = services.require_memory()
    assert again.wait_ready(10)
    fields = again.searcher._fields
    assert fields.seq >= 0 and fields.status[a] == 0  # before any search


def test_a_search_during_the_build_reads_rows_instead_of_waiting(
    services: Services, memory: MemoryService, clock: FixedClock
) -> None:
    a = add(memory, clock, "ferry timetable")
    b = add(memory, clock, "ferry tickets", days_ago=1)
    services.store.write(
        lambda c: c.execute("UPDATE memories SET status = 'quarantined' WHERE id = ?", (b,))
    )
    searcher = memory.searcher
    with searcher._fields_lock:  # as while the load lane builds the copy
        assert searcher._fields_of(services.store.reader()) is None
        assert found(memory, "ferry") == {a}
    assert searcher._fields_of(services.store.reader()) is not None
    assert found(memory, "ferry") == {a}

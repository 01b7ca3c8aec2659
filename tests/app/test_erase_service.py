"""The erase service on a real store with the memory engine (fake embedder): every selector
reaches every search path, query erase takes what the search shows, retention by age and by
storage cap, usage figures, and an interrupted erase finished on unlock before any search."""

from __future__ import annotations

import json

import pytest

from app.memory_service import MemoryService
from app.services import Changes, Services
from core.clock import FixedClock
from core.db import Connection
from core.erase import EraseSpec
from core.errors import BadInput
from core.ingest import Provenance
from core.trust import source_identity
from core.types import SCREEN, NewMemory, SearchFilters
from core.vector_index import unseal
from tests.app.conftest import PASSPHRASE

DAY = 86400.0


def screens(memory: MemoryService, app: str, texts: list[str], t: float) -> list[int]:
    return memory.add(
        [
            NewMemory(kind=SCREEN, text=x, time=t + i, app=app, title=f"{app} window {i}")
            for i, x in enumerate(texts)
        ]
    )


def with_sources(conn: Connection, m: NewMemory) -> Provenance:
    """A minimal trust seam that records each memory's source, as the trust service does."""
    identity, label = source_identity(m.kind, m.app, m.domain, m.title, m.file, m.conversation)
    conn.execute(
        "INSERT OR IGNORE INTO sources(kind, identity, label, alpha, beta, created_at, "
        "updated_at) VALUES (?, ?, ?, 1, 1, 0, 0)",
        (m.kind, identity, label),
    )
    (sid,) = conn.execute("SELECT id FROM sources WHERE identity = ?", (identity,)).fetchone()
    return Provenance(int(sid), 0.5)


def visible_everywhere(memory: MemoryService, mid: int, words: str, t: float) -> bool:
    """Is the memory reachable by any read path?"""
    paths = [
        [h.id for h in memory.search(words, k=100).hits],
        [g for h in memory.search(words, k=100).hits for g in h.group_ids],
        [h.id for h in memory.searcher.search(words, k=100, mode="vector").hits],
        [h.id for h in memory.searcher.search(words, k=100, mode="fts").hits],
        [h.id for h in memory.search("", k=500).hits],
        [m.id for m in memory.list_between(t - DAY, t + DAY, 500)],
    ]
    if memory.get(mid) is not None:
        return True
    return any(mid in p for p in paths)


def test_erase_by_app_reaches_every_search_path(services: Services, memory: MemoryService) -> None:
    erase = services.erase
    assert erase is not None
    memory.set_inspector(with_sources)
    now = services.clock.now()
    gone = screens(memory, "Slack", ["quarterly budget figures", "budget meeting notes"], now)
    kept = screens(memory, "Firefox", ["budget airline tickets"], now)
    for mid in gone + kept:
        assert visible_everywhere(memory, mid, "budget", now)
    assert sum(n for _, n in memory.day_histogram(now - 12 * 3600, now + 12 * 3600)) == 3
    changes: list[Changes] = []
    services.subscribe(changes.append)

    pv = erase.preview(EraseSpec(app="slack"))
    assert (pv.memories, pv.by_app, len(pv.examples)) == (2, {"Slack": 2}, 2)
    receipt = erase.erase(EraseSpec(app="slack"))

    assert (receipt.memories, receipt.vectors, receipt.index_slots) == (2, 2, 2)
    assert receipt.sources == 2  # "slack: slack window 0/1": window titles go with them
    assert [c.memories_removed for c in changes] == [2]
    for mid in gone:
        assert not visible_everywhere(memory, mid, "budget", now)
    assert visible_everywhere(memory, kept[0], "budget", now)
    assert memory.apps() == ["Firefox"]
    assert sum(n for _, n in memory.day_histogram(now - 12 * 3600, now + 12 * 3600)) == 1
    assert [m.id for m in memory.neighbours(kept[0])] == kept
    titles = [r[0] for r in services.store.reader().execute("SELECT identity FROM sources")]
    assert not any("slack" in t for t in titles)


def test_query_erase_takes_what_the_search_shows(services: Services, memory: MemoryService) -> None:
    erase = services.erase
    assert erase is not None
    now = services.clock.now()
    match = screens(memory, "Mail", ["passport renewal form", "renewal of the passport"], now)
    other = screens(memory, "Mail", [f"unrelated lunch menu {i}" for i in range(5)], now - 60)
    shown = memory.search("passport renewal", k=500).hits
    # Search fills its list with filler (the lunch menus are one group of near-duplicates).
    assert {g for h in shown for g in h.group_ids} >= set(match) | set(other)
    spec = erase.spec_for_query("passport renewal")
    assert sorted(spec.ids or []) == sorted(match)
    assert erase.preview(spec).memories == 2
    r = erase.erase_query("passport renewal", SearchFilters())
    assert r.memories == 2
    assert all(memory.get(i) is not None for i in other)
    assert not {g for h in memory.search("passport", k=50).hits for g in h.group_ids} & set(match)
    with pytest.raises(BadInput):
        erase.spec_for_query("  ")


def test_forget_the_last_fifteen_minutes(
    services: Services, memory: MemoryService, clock: FixedClock
) -> None:
    erase = services.erase
    assert erase is not None
    now = clock.now()
    old = screens(memory, "Code", ["refactor plan"], now - 3600)
    recent = screens(memory, "Code", ["secret draft", "another draft"], now - 600)
    spec = erase.spec_for_last(15 * 60)
    assert erase.preview(spec).memories == 2
    assert erase.forget_last(15 * 60).memories == 2
    assert memory.get(old[0]) is not None
    assert all(memory.get(i) is None for i in recent)


def test_retention_by_age_and_by_storage_cap(
    services: Services, memory: MemoryService, clock: FixedClock
) -> None:
    erase = services.erase
    assert erase is not None
    now = clock.now()
    for d in range(10):
        memory.add([NewMemory(kind="note", text=f"day {d} " + "x" * 2000, time=now - d * DAY)])
    assert erase.enforce_retention() == []  # no limits set
    services.settings.set("storage.max_age_days", 7)
    receipts = erase.enforce_retention()
    assert [r.memories for r in receipts] == [2]  # days 8 and 9 are older than 7 days
    left = [m.time for m in memory.list_between(now - 30 * DAY, now + 1)]
    assert min(left) >= now - 7 * DAY
    assert erase.enforce_retention() == []
    # Nothing changes while time stands still; a day later the next oldest goes.
    clock.advance(DAY)
    assert [r.memories for r in erase.enforce_retention()] == [1]

    # A storage cap a little under current usage: the oldest go first, until under the cap.
    services.settings.set("storage.max_age_days", 0)
    usage = erase.usage()
    assert usage.total > 0 and usage.max_bytes == 0
    cap = usage.total - 5000
    services.settings.set("storage.max_gb", cap / 1e9)
    before = sorted(m.time for m in memory.list_between(now - 30 * DAY, now + DAY))
    receipts = erase.enforce_retention()
    assert len(receipts) == 1 and 1 <= receipts[0].memories < len(before)
    after = sorted(m.time for m in memory.list_between(now - 30 * DAY, now + DAY))
    assert after == before[receipts[0].memories :]  # the oldest, in order
    audit = (
        services.store.reader().execute("SELECT detail FROM audit WHERE event = 'erase'").fetchall()
    )
    assert len(audit) == 3 and all(json.loads(d)["kind"] == "range" for (d,) in audit)


def test_usage_by_day_and_by_app(services: Services, memory: MemoryService) -> None:
    erase = services.erase
    assert erase is not None
    now = services.clock.now()
    screens(memory, "Slack", ["a", "b", "c"], now)
    screens(memory, "Firefox", ["d"], now - 2 * DAY)
    memory.add([NewMemory(kind="note", text="note", time=now - 40 * DAY)])
    days = erase.usage_by_day(30)
    assert len(days) == 30 and sum(d["memories"] for d in days) == 4
    assert days[-1]["memories"] == 3 and days[-3]["memories"] == 1
    assert all(d["bytes"] > 0 for d in days if d["memories"])
    apps = erase.usage_by_app(10)
    assert [(a["app"], a["memories"]) for a in apps] == [("Slack", 3), ("Firefox", 1), ("note", 1)]
    usage = erase.usage().to_json()
    assert usage["total"] == usage["database"] + usage["media"] + usage["index"] > 0


def test_interrupted_erase_finishes_on_unlock_before_search(services: Services) -> None:
    memory = services.memory
    assert memory is not None
    now = services.clock.now()
    (gone,) = screens(memory, "Bank", ["account number page"], now)
    (kept,) = screens(memory, "Bank", ["opening hours"], now)
    memory.save_index()
    # The durable first step happened, then the process died (no index save, no close).
    services.store.write(
        lambda c: (
            c.execute(
                "INSERT INTO erase_jobs(id, created_at, kind, spec, state) "
                "VALUES (5, ?, 'ids', '{}', 'hidden')",
                (now,),
            ),
            c.execute("INSERT INTO erase_items(job_id, memory_id) VALUES (5, ?)", (gone,)),
            c.execute("UPDATE memories SET hidden = 1 WHERE id = ?", (gone,)),
        )
    )
    assert gone not in [h.id for h in memory.search("account number", k=20).hits]
    services.lock(save=False)  # the index closed unsaved, as in a crash

    services.unlock(PASSPHRASE)
    conn = services.store.reader()
    assert conn.execute("SELECT count(*) FROM memories WHERE id = ?", (gone,)).fetchone()[0] == 0
    assert conn.execute("SELECT state FROM erase_jobs WHERE id = 5").fetchone()[0] == "done"
    memory = services.memory
    assert memory is not None and memory.wait_ready(10)
    assert gone not in memory.index.index.labels and kept in memory.index.index.labels
    assert gone not in [h.id for h in memory.search("account number", k=20).hits]


def test_erase_past_the_threshold_compacts_and_rewrites_the_snapshot(
    services: Services, memory: MemoryService
) -> None:
    erase = services.erase
    assert erase is not None
    now = services.clock.now()
    texts = [f"message {w} {i}" for i, w in enumerate("abcdefgh" * 13)]
    ids = screens(memory, "Mail", texts, now)
    memory.save_index()
    generation = memory.index.generation
    erased_vec = memory.vector_of(ids[0])
    assert erased_vec is not None
    key = services.store.key.derive("index")
    assert erased_vec.tobytes() in unseal(services.store.index_path.read_bytes(), key)[1]
    r = erase.erase(EraseSpec(ids=ids[:80]))  # 80 of 104 slots: well past the threshold
    assert r.index_slots == 80
    # The snapshot was rewritten before the receipt, without the erased vectors.
    assert memory.index.generation > generation
    _, payload = unseal(services.store.index_path.read_bytes(), key)
    assert erased_vec.tobytes() not in payload
    memory.index.wait_idle(30)  # the compaction runs on the index thread
    assert memory.index.index.deleted == 0  # compacted: the deleted slots are gone
    assert memory.index.index.labels == set(ids[80:])
    assert not memory.index.dirty
    # A small erase: slots overwritten and the snapshot rewritten, no compaction yet.
    erase.erase(EraseSpec(ids=ids[80:82]))
    memory.index.wait_idle(30)
    assert memory.index.index.deleted == 2 and not memory.index.dirty

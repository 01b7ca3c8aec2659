"""Schema migrations: a v1 store (made by the code of schema 1) with memories, FTS entries,
vectors, citations, media, sources, trust evidence and a pending erase opens, migrates and keeps
every row, search hit and reference; from v2 on an erased memory's id is never reused; v3 gives
JSONL memories imported with bare line ids the scoped ids a re-import now computes."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from core import migrations
from core.db import Connection
from core.erase import Eraser, EraseSpec
from core.importers import parse
from core.ingest import Ingestor
from core.keys import TEST_KDF
from core.media import MediaStore
from core.memories import insert_memory
from core.store import DB_FILE, Store
from core.types import CHAT, NOTE, SCREEN, NewMemory
from tests.fakes import FakeEmbedder

PASS = "a good passphrase"
T0 = 1_760_000_000.0
# Rows of the tables that hold or point at memories, in a fixed order.
TABLES = {
    "memories": "SELECT * FROM memories ORDER BY id",
    "vectors": "SELECT memory_id, model, vec FROM vectors ORDER BY memory_id",  # v16 adds stale
    "citations": "SELECT * FROM citations ORDER BY answer_id, memory_id",
    "sources": "SELECT * FROM sources ORDER BY id",
    "media": "SELECT * FROM media ORDER BY id",
    "trust_events": "SELECT * FROM trust_events ORDER BY id",
    "erase_items": "SELECT * FROM erase_items ORDER BY job_id, memory_id",
}
QUERIES = ["zebracanary", "harbour", "meeting", "release", "quarterly"]


@pytest.fixture()
def v1(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stores are made and opened as the schema-1 code did, until the test calls
    `monkeypatch.undo()`."""
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:1])
    monkeypatch.setattr(migrations, "LATEST", 1)


def ingest(store: Store, memories: list[NewMemory]) -> list[int]:
    ingestor = Ingestor(
        write=store.write,
        read_conn=store.reader,
        embedder=FakeEmbedder(),
        model_name="fake",
        index=lambda: None,
        now=lambda: T0,
    )
    return ingestor.add_many(memories).ids


def note(text: str, t: float = T0, **kw: Any) -> NewMemory:
    return NewMemory(kind=kw.pop("kind", NOTE), text=text, time=t, **kw)


def fill_v1(store: Store) -> dict[str, int]:
    """Every kind of row that refers to a memory, written as the v1 code would."""
    media = MediaStore(store)
    mid = media.put(b"SCREENSHOT", mime="image/webp", time=T0, thumbnail=b"thumb")
    ids = ingest(
        store,
        [
            note("zebracanary lives in the harbour", T0),
            note("quarterly meeting about the release", T0 + 1),
            note("screen text of the harbour map", T0 + 2, kind=SCREEN, app="firefox"),
            note("imported message", T0 + 3, kind="import:chatgpt", external_id="x1"),
            note("release notes draft", T0 + 4),
            note("the meeting moved to friday", T0 + 5),
        ],
    )
    assert len(ids) == 6

    def more(conn: Connection) -> dict[str, int]:
        shot = insert_memory(
            conn,
            NewMemory(kind=SCREEN, text="harbour screenshot words", time=T0 + 6, media_id=mid),
            source_id=None,
            trust=0.5,
            now=T0,
        )
        answer = insert_memory(
            conn,
            NewMemory(kind=CHAT, text="the answer cites the harbour", time=T0 + 7, derived=True),
            source_id=None,
            trust=1.0,
            now=T0,
        )
        conn.executemany(
            "INSERT INTO citations(answer_id, memory_id, position) VALUES (?,?,?)",
            [(answer, ids[0], 1), (answer, ids[2], 2)],
        )
        sid = conn.execute(
            "INSERT INTO sources(kind, identity, label, alpha, beta, created_at, updated_at) "
            "VALUES ('screen', 'firefox|map', 'Firefox', 2, 2, 0, 0)"
        ).lastrowid
        conn.execute("UPDATE memories SET source_id = ? WHERE id = ?", (sid, ids[2]))
        # Trust evidence names a memory id past every row (that memory was since removed).
        conn.execute(
            "INSERT INTO trust_events(source_id, time, evidence, d_alpha, d_beta, alpha, beta, "
            "memory_id) VALUES (?, 0, 'suspicious', 0, 1, 2, 3, 40)",
            (sid,),
        )
        # An erase journalled but not finished names an id larger still.
        job = conn.execute(
            "INSERT INTO erase_jobs(created_at, kind, spec, state) "
            "VALUES (0, 'ids', '{}', 'hidden')"
        ).lastrowid
        conn.execute("INSERT INTO erase_items(job_id, memory_id) VALUES (?, 57)", (job,))
        return {"shot": shot, "answer": answer, "source": int(sid)}

    return {"first": ids[0], "last_ingested": ids[-1], **store.write(more)}


def rows(conn: Connection) -> dict[str, list[tuple[Any, ...]]]:
    return {name: conn.execute(sql).fetchall() for name, sql in TABLES.items()}


def hits(conn: Connection) -> dict[str, list[int]]:
    return {
        q: [
            r[0]
            for r in conn.execute(
                "SELECT rowid FROM memories_fts WHERE memories_fts MATCH ? ORDER BY rowid", (q,)
            )
        ]
        for q in QUERIES
    }


def fts_consistent(store: Store) -> None:
    """FTS5's own check, comparing the index with the memories table (raises if they differ).
    It is run as an INSERT, so on the writer (readers are read-only connections)."""
    store.write(
        lambda c: c.execute(
            "INSERT INTO memories_fts(memories_fts, rank) VALUES ('integrity-check', 1)"
        )
    )


def memories_sql(conn: Connection) -> str:
    row = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'memories'").fetchone()
    return str(row[0])


@pytest.fixture()
def v1_store(tmp_path: Path, v1: None) -> tuple[Path, dict[str, int], dict[str, Any]]:
    store = Store(tmp_path / "data")
    store.create(PASS, TEST_KDF)
    made = fill_v1(store)
    conn = store.reader()
    assert migrations.schema_version(conn) == 1
    assert "AUTOINCREMENT" not in memories_sql(conn)
    before = {"rows": rows(conn), "hits": hits(conn)}
    store.lock()
    return tmp_path / "data", made, before


def test_v1_store_migrates_keeping_every_row_hit_and_reference(
    v1_store: tuple[Path, dict[str, int], dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    data, made, before = v1_store
    assert before["hits"]["harbour"] and before["rows"]["vectors"]
    monkeypatch.undo()  # the current code from here on
    assert migrations.LATEST >= 2
    store = Store(data)
    store.unlock(PASS)
    conn = store.reader()
    assert migrations.schema_version(conn) == migrations.LATEST
    assert "AUTOINCREMENT" in memories_sql(conn)
    assert rows(conn) == before["rows"]
    assert hits(conn) == before["hits"]
    fts_consistent(store)
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # The copy kept while migrating (R22) is gone once the result was verified.
    assert not (data / f"{DB_FILE}.before-v{migrations.LATEST}").exists()
    # The writer is back to enforcing foreign keys, and the cascades still point at memories.
    assert store.write(lambda c: c.execute("PRAGMA foreign_keys").fetchone()[0]) == 1
    store.write(lambda c: c.execute("DELETE FROM memories WHERE id = ?", (made["answer"],)))
    assert conn.execute("SELECT count(*) FROM citations").fetchone()[0] == 0
    # The FTS triggers were made again: new rows are found, deleted rows are not.
    (new,) = ingest(store, [note("a fresh zebracanary sighting")])
    assert new > 57  # above every id the v1 store still named (erase journal: 57)
    assert sorted(hits(conn)["zebracanary"]) == [made["first"], new]
    store.write(lambda c: c.execute("DELETE FROM memories WHERE id = ?", (made["first"],)))
    assert hits(conn)["zebracanary"] == [new]
    assert conn.execute(
        "SELECT count(*) FROM vectors WHERE memory_id = ?", (made["first"],)
    ).fetchone() == (0,)
    fts_consistent(store)
    store.lock()


def test_sequence_starts_above_trust_evidence_when_nothing_else_names_more(
    tmp_path: Path, v1: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path / "data")
    store.create(PASS, TEST_KDF)
    ingest(store, [note("one"), note("two")])

    def evidence(conn: Connection) -> None:
        sid = conn.execute(
            "INSERT INTO sources(kind, identity, label, alpha, beta, created_at, updated_at) "
            "VALUES ('note', 'n', 'n', 1, 1, 0, 0)"
        ).lastrowid
        conn.execute(
            "INSERT INTO trust_events(source_id, time, evidence, d_alpha, d_beta, alpha, beta, "
            "memory_id) VALUES (?, 0, 'rejected', 0, 1, 1, 2, 9)",
            (sid,),
        )

    store.write(evidence)
    store.lock()
    monkeypatch.undo()
    store.unlock(PASS)
    assert ingest(store, [note("three")]) == [10]
    store.lock()


def test_empty_v1_store_migrates(tmp_path: Path, v1: None, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path / "data")
    store.create(PASS, TEST_KDF)
    store.lock()
    monkeypatch.undo()
    store.unlock(PASS)
    assert migrations.schema_version(store.reader()) == migrations.LATEST
    assert ingest(store, [note("first")]) == [1]
    store.lock()


def test_erased_ids_are_never_given_to_new_memories_across_reopen(tmp_path: Path) -> None:
    store = Store(tmp_path / "data")
    store.create(PASS, TEST_KDF)
    eraser = Eraser(store, MediaStore(store), lambda: None)
    ids = ingest(store, [note(f"memory number {i}", T0 + i) for i in range(5)])
    assert ids == sorted(ids)
    receipt = eraser.erase(EraseSpec(ids=ids[-2:]))  # the newest two, then VACUUM
    assert receipt.memories == 2
    (after_erase,) = ingest(store, [note("written after the erase")])
    assert after_erase > ids[-1]
    eraser.erase(EraseSpec(ids=[after_erase]))
    store.lock()
    store.unlock(PASS)
    (after_reopen,) = ingest(store, [note("written after reopening")])
    assert after_reopen > after_erase
    # Erasing everything does not reset the sequence either.
    Eraser(store, MediaStore(store), lambda: None).erase(EraseSpec(everything=True))
    assert store.reader().execute("SELECT count(*) FROM memories").fetchone() == (0,)
    (after_all,) = ingest(store, [note("a new beginning")])
    assert after_all > after_reopen
    store.lock()


def test_migrated_store_never_reuses_an_id_erased_after_migrating(
    v1_store: tuple[Path, dict[str, int], dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    data, _, _ = v1_store
    monkeypatch.undo()
    store = Store(data)
    store.unlock(PASS)
    (a, b) = ingest(store, [note("newest one", T0 + 100), note("newest two", T0 + 101)])
    Eraser(store, MediaStore(store), lambda: None).erase(EraseSpec(ids=[a, b]))
    store.lock()
    store.unlock(PASS)
    (c,) = ingest(store, [note("after the erase")])
    assert c > b
    store.lock()


def test_a_migration_that_breaks_references_is_rolled_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path / "data")
    store.create(PASS, TEST_KDF)
    ingest(store, [note("kept with its vector")])
    bad = (migrations.LATEST + 1, "DELETE FROM memories;")
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, bad])
    monkeypatch.setattr(migrations, "LATEST", bad[0])

    def run(conn: Connection) -> list[int]:
        return migrations.migrate(conn)

    with pytest.raises(migrations.MigrationBroke, match="rolled back"):
        store.write(run, transactional=False)
    conn = store.reader()
    assert migrations.schema_version(conn) == bad[0] - 1
    assert conn.execute("SELECT count(*) FROM memories").fetchone() == (1,)
    assert store.write(lambda c: c.execute("PRAGMA foreign_keys").fetchone()[0]) == 1
    store.lock()


def import_jsonl(store: Store, path: Path, bare_ids: bool = False) -> tuple[int, int]:
    """Imports a JSONL file; with bare_ids, as the schema-1 code did (the line's id as is)."""
    with parse(path) as parsed:
        news = [parsed.as_new_memory(m) for m in parsed.messages]
    if bare_ids:
        news = [replace(m, external_id=(m.external_id or "").partition("#")[0]) for m in news]
    report = Ingestor(
        write=store.write,
        read_conn=store.reader,
        embedder=FakeEmbedder(),
        model_name="fake",
        index=lambda: None,
        now=lambda: T0,
    ).add_many(news)
    return report.added, report.duplicates


def jsonl(path: Path, texts: list[str], ids: bool = True) -> Path:
    lines = []
    for i, text in enumerate(texts, 1):
        obj: dict[str, Any] = {"time": f"2024-05-01T09:{i:02d}:00Z", "speaker": "Ana"}
        obj.update({"id": i} if ids else {})
        lines.append(json.dumps({**obj, "text": text, "conversation": "Home"}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_jsonl_imported_before_ids_were_scoped_is_not_imported_twice(
    tmp_path: Path, v1: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = jsonl(tmp_path / "home.jsonl", ["boiler serviced", "paid the plumber\tx\x01\u0301"])
    no_ids = jsonl(tmp_path / "no_ids.jsonl", ["same", "same"], ids=False)
    store = Store(tmp_path / "data")
    store.create(PASS, TEST_KDF)
    assert import_jsonl(store, home, bare_ids=True) == (2, 0)
    assert import_jsonl(store, no_ids) == (2, 0)
    before = store.reader().execute("SELECT id, external_id FROM memories ORDER BY id").fetchall()
    assert [e for _, e in before[:2]] == ["1", "2"]
    store.lock()
    monkeypatch.undo()
    store.unlock(PASS)
    after = store.reader().execute("SELECT id, external_id FROM memories ORDER BY id").fetchall()
    assert [e.partition("#")[0] for _, e in after[:2]] == ["1", "2"]
    assert after[2:] == before[2:]  # lines without ids kept their hashes
    # The same file again adds nothing; another file numbered alike is imported in full.
    assert import_jsonl(store, home) == (0, 2)
    assert import_jsonl(store, no_ids) == (0, 2)
    travel = jsonl(tmp_path / "travel.jsonl", ["flight at nine", "taxi booked"])
    assert import_jsonl(store, travel) == (2, 0)
    fts_consistent(store)
    store.lock()

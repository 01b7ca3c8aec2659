"""Schema v18 (core.migrations.m0018_vector_ids): reconciling the vector index at open reads the
ids of the vectors table from their own index, not from the table's 1.5 KB rows (0.9-1.8 s of
CPU at 100k memories before, 0.08 s after); the index follows inserts and erasure, and a store
of schema 17 gains it."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import migrations
from core.erase import Eraser, EraseSpec
from core.ingest import Ingestor
from core.keys import TEST_KDF
from core.media import MediaStore
from core.store import Store
from core.types import NOTE, NewMemory
from core.vector_index import PersistentIndex
from tests.fakes import FakeEmbedder

PASS = "correct horse battery"
IDS = "SELECT memory_id FROM vectors"  # what PersistentIndex.reconcile reads


def make(tmp_path: Path) -> Store:
    store = Store(tmp_path / "s")
    store.create(PASS, kdf=TEST_KDF)
    return store


def ingest(store: Store, texts: list[str]) -> list[int]:
    ing = Ingestor(
        write=store.write,
        read_conn=store.reader,
        embedder=FakeEmbedder(),
        model_name="fake",
        index=lambda: None,
        now=lambda: 2000.0,
    )
    return ing.add_many(
        [NewMemory(kind=NOTE, text=t, time=1000.0 + i) for i, t in enumerate(texts)]
    ).ids


def test_the_reconcile_read_uses_the_ids_index(tmp_path: Path) -> None:
    store = make(tmp_path)
    try:
        plan = " ".join(str(r[-1]) for r in store.reader().execute("EXPLAIN QUERY PLAN " + IDS))
        assert "COVERING INDEX vectors_ids" in plan
        index = PersistentIndex(
            dim=FakeEmbedder().dim,
            path=store.index_path,
            key=store.key.derive("index"),
            read_conn=store.reader,
            write=store.write,
            background=False,
        )
        index.open()
        a, b = ingest(store, ["plum jam recipe", "damson gin"])
        assert index.reconcile() == (2, 0) and index.index.labels == {a, b}
        index.close(save=False)
    finally:
        store.lock()


def test_the_ids_index_follows_erasure(tmp_path: Path) -> None:
    store = make(tmp_path)
    try:
        a, b = ingest(store, ["plum jam recipe", "damson gin"])
        Eraser(store, MediaStore(store), lambda: None).erase(EraseSpec(ids=[a]))
        got = {
            int(r[0])
            for r in store.reader().execute("SELECT memory_id FROM vectors INDEXED BY vectors_ids")
        }
        assert got == {b}
    finally:
        store.lock()


def test_a_schema_17_store_gains_the_ids_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(migrations, "MIGRATIONS", [m for m in migrations.MIGRATIONS if m[0] <= 17])
    monkeypatch.setattr(migrations, "LATEST", 17)
    store = make(tmp_path)
    (a,) = ingest(store, ["plum jam recipe"])
    names = "SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'vectors_ids'"
    assert store.reader().execute(names).fetchall() == []
    store.lock()
    monkeypatch.undo()
    store = Store(tmp_path / "s")
    store.unlock(PASS)
    try:
        assert migrations.schema_version(store.reader()) == 18
        assert store.reader().execute(names).fetchall() == [("vectors_ids",)]
        assert [int(r[0]) for r in store.reader().execute(IDS)] == [a]
    finally:
        store.lock()

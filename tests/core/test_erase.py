from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.erase import Eraser, EraseSpec, preview, retention_cutoff, storage_cutoff
from core.errors import BadInput
from core.keys import TEST_KDF
from core.media import MediaStore
from core.memories import insert_memory
from core.store import Store
from core.types import NOTE, SCREEN, NewMemory

DAY = 86400.0
T0 = 1_760_000_000.0


class RecordingIndex:
    def __init__(self) -> None:
        self.removed: list[int] = []
        self.saved = 0

    def remove(self, ids: list[int]) -> int:
        self.removed += ids
        return len(ids)

    def after_erase(self) -> None:
        self.saved += 1


@pytest.fixture()
def env(tmp_path: Path):
    store = Store(tmp_path / "data")
    store.create("a good passphrase", TEST_KDF)
    media = MediaStore(store)
    index = RecordingIndex()
    yield store, media, index, Eraser(store, media, lambda: index)
    store.lock()


def add(
    store: Store,
    text: str,
    t: float,
    kind: str = NOTE,
    app: str | None = None,
    media_id: int | None = None,
    title: str | None = None,
    derived: bool = False,
) -> int:
    m = NewMemory(
        kind=kind, text=text, time=t, app=app, media_id=media_id, title=title, derived=derived
    )
    return store.write(lambda c: insert_memory(c, m, source_id=None, trust=0.5, now=t))


def all_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file())


def test_spec_must_say_what() -> None:
    with pytest.raises(BadInput):
        EraseSpec().kind()


def test_erase_by_app_removes_rows_fts_media_and_citing_answers(env) -> None:
    store, media, index, eraser = env
    mid = media.put(b"SCREENSHOT-BYTES", mime="image/webp", time=T0, thumbnail=b"thumb")
    secret = add(store, "zebracanary screen text", T0, SCREEN, "firefox", media_id=mid)
    keep = add(store, "ordinary note", T0, NOTE)
    answer = add(store, "the answer mentions zebracanary", T0 + 5, "chat", derived=True)
    store.write(
        lambda c: c.execute(
            "INSERT INTO citations(answer_id, memory_id, position) VALUES (?,?,1)", (answer, secret)
        )
    )

    pv = preview(store.reader(), EraseSpec(app="Firefox"))
    assert (pv.memories, pv.media_items, pv.derived_answers) == (1, 1, 1)
    assert pv.examples[0]["id"] == secret

    r = eraser.erase(EraseSpec(app="firefox"))
    assert (r.memories, r.fts_rows, r.media_items, r.media_files, r.derived_answers) == (
        2,
        2,
        1,
        2,
        1,
    )
    assert sorted(index.removed) == sorted([secret, answer]) and index.saved == 1
    conn = store.reader()
    ids = [row[0] for row in conn.execute("SELECT id FROM memories")]
    assert ids == [keep]
    fts = conn.execute("SELECT rowid FROM memories_fts WHERE memories_fts MATCH 'zebracanary'")
    assert fts.fetchall() == []
    assert conn.execute("SELECT count(*) FROM media").fetchone()[0] == 0
    assert not list(media.root.rglob("*.bin"))
    events = conn.execute("SELECT event, detail FROM audit WHERE event = 'erase'").fetchall()
    assert len(events) == 1 and json.loads(events[0][1])["memories"] == 2
    assert b"zebracanary" not in events[0][1].encode()
    store.lock()
    assert b"zebracanary" not in all_bytes(store.data_dir)


def test_range_and_title_selectors(env) -> None:
    store, _, _, eraser = env
    a = add(store, "one", T0, SCREEN, "code", title="notes.md - Visual Studio Code")
    b = add(store, "two", T0 + DAY, SCREEN, "code", title="main.py - Visual Studio Code")
    c = add(store, "three", T0 + 2 * DAY, NOTE)
    assert eraser.erase(EraseSpec(title_pattern="*.md*")).memories == 1
    assert eraser.erase(EraseSpec(since=T0 + 1.5 * DAY, until=T0 + 3 * DAY)).memories == 1
    left = [r[0] for r in store.reader().execute("SELECT id FROM memories")]
    assert left == [b] and a != c


def test_interrupted_erase_resumes_and_items_stay_hidden(env) -> None:
    store, _, _, eraser = env
    gone = add(store, "erase me", T0)
    # Simulate a crash right after the durable first step: the job exists, items hidden.
    store.write(
        lambda c: (
            c.execute(
                "INSERT INTO erase_jobs(id, created_at, kind, spec, state) "
                "VALUES (7, ?, 'ids', ?, 'hidden')",
                (T0, EraseSpec(ids=[gone]).to_json()),
            ),
            c.execute("INSERT INTO erase_items(job_id, memory_id) VALUES (7, ?)", (gone,)),
            c.execute("UPDATE memories SET hidden = 1 WHERE id = ?", (gone,)),
        )
    )
    receipts = eraser.resume_pending()
    assert len(receipts) == 1 and receipts[0].resumed and receipts[0].memories == 1
    assert store.reader().execute("SELECT count(*) FROM memories").fetchone()[0] == 0
    assert eraser.resume_pending() == []


def test_retention_cutoffs(env) -> None:
    store, _, _, _ = env
    for d in range(10):
        add(store, "x" * 100, T0 + d * DAY)
    assert retention_cutoff(T0 + 10 * DAY, 0) is None
    assert retention_cutoff(T0 + 10 * DAY, 3) == T0 + 7 * DAY
    conn = store.reader()
    assert storage_cutoff(conn, 1000, 2000) is None
    cut = storage_cutoff(conn, 10 * 1700, 7 * 1700)
    assert cut is not None and T0 + 2 * DAY < cut <= T0 + 3 * DAY

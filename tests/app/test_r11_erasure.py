"""R11: erasure is complete. A canary memory that exists as a row, FTS tokens, a vector (in the
table, the live index and its snapshot), a screenshot and its thumbnail, and an answer that
cited it; after the erase, every decrypted page of the database and its WAL, every file's raw
bytes and the decrypted index snapshot are scanned, and search by words and by meaning runs:
the canary is nowhere. Each scan is first shown to find the canary before the erase."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import core.erase
from app.services import Changes, Services
from core.clock import FixedClock
from core.keys import TEST_KDF
from core.types import SCREEN, NewMemory
from core.vector_index import unseal
from tests.app.conftest import PASSPHRASE
from tests.app.sqlcipher_pages import plaintext_of
from tests.fakes import FakeEmbedder
from tests.storehelp import scan

PARAPHRASE = "drawer keyholder kitchens"


class DenseEmbedder(FakeEmbedder):
    """The fake bag-of-words embedder plus a little text-seeded dense noise: similar texts stay
    close, and every float of a vector is distinct, so fragments of it can be scanned for."""

    def embed_one(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
        noise = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
        v = super().embed_one(text) + 0.03 * noise
        return (v / np.linalg.norm(v)).astype(np.float32)


def vector_needles(vec: np.ndarray) -> list[bytes]:
    """The whole vector, and 16-byte fragments of it (four consecutive floats)."""
    raw = vec.astype(np.float32).tobytes()
    return [raw, *(raw[i : i + 16] for i in range(0, len(raw), 64))]


@pytest.fixture
def services(tmp_path: Path, clock: FixedClock) -> Iterator[Services]:
    s = Services(tmp_path / "store", clock=clock, embedder=DenseEmbedder())
    s.create(PASSPHRASE, kdf=TEST_KDF)
    assert s.memory is not None
    s.memory.wait_ready(10)
    yield s
    s.close()


def snapshot_plaintext(services: Services) -> bytes:
    _, payload = unseal(services.store.index_path.read_bytes(), services.store.key.derive("index"))
    return payload


@pytest.mark.parametrize("path", ["secure-delete", "bulk"])
def test_erased_canary_is_nowhere(
    services: Services, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if path == "bulk":  # the path large erases take: plain FTS delete, then a full merge
        monkeypatch.setattr(core.erase, "FTS_BULK_ROWS", 1)
    memory, media, erase = services.memory, services.media, services.erase
    assert memory is not None and media is not None and erase is not None
    canary = "canary" + os.urandom(6).hex()
    now = services.clock.now()
    keep_ids = memory.add(
        [
            # The same note kept 20 times: near-identical, so it comes back as one grouped hit.
            NewMemory(kind="note", text="ordinary note about lunch", time=now - i)
            for i in range(20)
        ]
    )
    media_id = media.put(
        b"IMAGE" + canary.encode() + b"PIXELS",
        mime="image/webp",
        time=now,
        thumbnail=b"THUMB" + canary.encode(),
        app="Firefox",
        title="Spare key",
    )
    (mid,) = memory.add(
        [
            NewMemory(
                kind=SCREEN,
                text=f"Spare keys hide in the kitchen drawer {canary}",
                time=now,
                app="Firefox",
                title="Spare key",
                media_id=media_id,
            )
        ]
    )
    (answer,) = memory.add(
        [
            NewMemory(
                kind="chat",
                text=f"The keys are in the drawer ({canary}).",
                time=now + 1,
                derived=True,
            )
        ]
    )
    services.store.write(
        lambda c: c.execute(
            "INSERT INTO citations(answer_id, memory_id, position) VALUES (?, ?, 1)", (answer, mid)
        )
    )
    vec = memory.vector_of(mid)
    assert vec is not None
    needles = [canary.encode(), *vector_needles(vec)]
    item_key = (
        services.store.reader()
        .execute("SELECT item_key FROM media WHERE id = ?", (media_id,))
        .fetchone()[0]
    )
    assert len(item_key) == 32
    memory.save_index()
    services.store.checkpoint()
    key = services.store.key.raw
    db = services.store.db_path

    # The scans see the canary where it is, before the erase.
    before = plaintext_of(db, key)
    assert canary.encode() in before and item_key in before
    assert all(n in before for n in needles[1:])
    assert vec.tobytes() in snapshot_plaintext(services)
    assert memory.search(canary, k=50).hits[0].id == mid
    ranked = [h.id for h in memory.searcher.search(PARAPHRASE, k=50, mode="vector").hits]
    assert mid in ranked[:5]
    assert media.load(media_id) is not None

    removed: list[Changes] = []
    services.subscribe(removed.append)
    receipt = erase.erase_ids([mid])

    assert (receipt.memories, receipt.derived_answers, receipt.vectors) == (2, 1, 2)
    assert (receipt.media_items, receipt.media_files, receipt.index_slots) == (1, 2, 2)
    assert [c.memories_removed for c in removed if c.memories_removed] == [2]
    # Decrypted database and WAL pages: no canary, no fragment of its vector, no media key.
    after = plaintext_of(db, key)
    assert len(after) > 0
    for needle in [*needles, item_key]:
        assert needle not in after
    assert not db.with_name(db.name + "-wal").exists() or (
        db.with_name(db.name + "-wal").stat().st_size == 0
    )
    # The live index and its snapshot on disk no longer hold the vector.
    assert mid not in memory.index.index.labels
    snap = snapshot_plaintext(services)
    for needle in needles[1:]:
        assert needle not in snap
    # Every file, raw: nothing (the media files themselves are gone).
    assert scan(services.data_dir, canary.encode()) == []
    assert media.load(media_id) is None and media.thumbnail(media_id) is None
    assert not [p for p in media.root.rglob("*") if p.is_file()]
    # Search by the exact words, by the canary, by meaning, listing, and direct reads.
    for q in (canary, "spare keys kitchen drawer", "keys drawer"):
        assert mid not in [h.id for h in memory.search(q, k=100).hits]
        assert answer not in [h.id for h in memory.search(q, k=100).hits]
    vec_hits = memory.searcher.search(PARAPHRASE, k=50, mode="vector").hits
    assert mid not in [h.id for h in vec_hits]
    assert mid not in [h.id for h in memory.search("", k=500).hits]
    assert memory.get(mid) is None and memory.get(answer) is None
    assert memory.count() == len(keep_ids)
    # The audit record says what kind and how many, never what.
    conn = services.store.reader()
    (detail,) = conn.execute("SELECT detail FROM audit WHERE event = 'erase'").fetchone()
    assert json.loads(detail)["memories"] == 2 and canary not in detail
    assert conn.execute("SELECT spec FROM erase_jobs").fetchall() == [("{}",)]
    config = conn.execute("SELECT v FROM memories_fts_config WHERE k = 'secure-delete'")
    assert config.fetchall() == [(1,)]  # left on for later, smaller erases
    # Nothing else went.
    assert all(memory.get(i) is not None for i in keep_ids)
    services.lock()
    assert scan(services.data_dir, canary.encode()) == []

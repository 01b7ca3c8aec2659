"""A one-transaction ingest larger than the in-memory limit spills to an encrypted file and
still lands all at once (or not at all)."""

from __future__ import annotations

import pytest

import core.ingest
from app.memory_service import MemoryService
from core.ingest import Cancelled
from core.types import NewMemory


def _memories(n: int) -> list[NewMemory]:
    return [
        NewMemory(
            kind="import:jsonl",
            text=f"spilled message number {i} about lighthouses",
            time=1_700_000_000 + i,
            external_id=f"m{i}",
        )
        for i in range(n)
    ]


def test_large_file_spills_and_lands_in_one_piece(
    memory: MemoryService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(core.ingest, "SPILL_CHUNK", 50)
    spill_dir = memory.store.data_dir / "spill"
    seen_files: list[int] = []
    report = memory.add_many(
        _memories(230),
        one_transaction=True,
        progress=lambda n: seen_files.append(len(list(spill_dir.glob("spill-*.bin")))),
    )
    assert report.added == 230 and len(report.ids) == 230
    assert max(seen_files) == 1  # the spill file existed while embedding went on
    assert not list(spill_dir.glob("spill-*.bin"))  # and is gone afterwards
    assert memory.count() == 230
    assert memory.index_health()["count"] == 230
    hits = memory.search("lighthouses message 117").hits
    assert hits and any(h.external_id == "m117" for h in hits)


def test_cancel_after_spilling_stores_nothing(
    memory: MemoryService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(core.ingest, "SPILL_CHUNK", 50)
    done: list[int] = []
    with pytest.raises(Cancelled):
        memory.add_many(
            _memories(230),
            one_transaction=True,
            progress=done.append,
            cancelled=lambda: bool(done) and done[-1] >= 150,
        )
    assert memory.count() == 0
    assert not list((memory.store.data_dir / "spill").glob("spill-*.bin"))

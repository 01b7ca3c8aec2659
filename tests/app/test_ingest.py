"""The one ingest path: normalisation, duplicates, one transaction per file (errors and
cancels store nothing), progress, and the trust seam."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from app.memory_service import MemoryService
from core.clock import FixedClock
from core.db import Connection
from core.errors import BadInput
from core.importers import parse
from core.ingest import Cancelled, Provenance, normalise_text
from core.types import HL_END, HL_START, NewMemory, SearchFilters


def memories(n: int, clock: FixedClock, prefix: str = "m") -> list[NewMemory]:
    return [
        NewMemory(
            kind="import:jsonl",
            text=f"message {i} about walrus {i % 7}",
            time=clock.now() - i,
            external_id=f"{prefix}{i}",
        )
        for i in range(n)
    ]


def rows(memory: MemoryService) -> int:
    return int(memory.store.reader().execute("SELECT count(*) FROM memories").fetchone()[0])


def test_text_is_cleaned() -> None:
    dirty = f"  a {HL_START}b{HL_END}\x00c\r\n\n\n\nd\t\te  "
    assert normalise_text(dirty) == "a bc\n\nd e"


def test_duplicates_are_skipped_within_and_across_calls(
    memory: MemoryService, clock: FixedClock
) -> None:
    batch = memories(100, clock)
    report = memory.add_many(batch + batch[:10])
    assert (report.added, report.duplicates, len(report.ids)) == (100, 10, 100)
    again = memory.add_many(memories(120, clock))
    assert (again.added, again.duplicates) == (20, 100)
    assert rows(memory) == 120 == len(memory.index.index)


def test_each_memory_keeps_its_own_vector_across_windows_and_duplicates(
    memory: MemoryService, clock: FixedClock
) -> None:
    # More than one embedding window, texts of very different lengths (the embedder reorders
    # them by length), and duplicates in the middle of a window and across windows.
    batch = [
        NewMemory(
            kind="import:jsonl",
            text=f"walrus {i} " + "tusk " * ((i * 37) % 60),
            time=clock.now() - i,
            external_id=f"v{i % 280}",
        )
        for i in range(600)
    ]
    report = memory.add_many(batch, one_transaction=False)
    assert (report.added, report.duplicates) == (280, 320)
    reader = memory.store.reader()
    for mid in report.ids:
        (text,) = reader.execute("SELECT text FROM memories WHERE id = ?", (mid,)).fetchone()
        stored = memory.vector_of(mid)
        assert stored is not None
        assert np.allclose(stored, memory.embedder.embed([text])[0], atol=1e-6)


def test_empty_text_is_refused(memory: MemoryService, clock: FixedClock) -> None:
    with pytest.raises(BadInput):
        memory.add([NewMemory(kind="note", text=f" {HL_START}{HL_END} ", time=clock.now())])
    assert rows(memory) == 0


def test_a_bad_line_late_in_a_file_stores_nothing(
    memory: MemoryService, clock: FixedClock, tmp_path: Path
) -> None:
    f = tmp_path / "big.jsonl"
    good = [
        json.dumps({"id": str(i), "time": "2026-03-01T10:00:00Z", "text": f"line {i}"})
        for i in range(300)
    ]
    f.write_text("\n".join([*good, '{"id": "x", "text": 5}']) + "\n", encoding="utf-8")
    with pytest.raises(BadInput, match="line 301"):
        memory.import_file(f, "jsonl", parse(f, "jsonl").messages)
    assert rows(memory) == 0 and len(memory.index.index) == 0
    assert memory.store.reader().execute("SELECT count(*) FROM imports").fetchone()[0] == 0


def test_import_records_the_file(memory: MemoryService, tmp_path: Path) -> None:
    f = tmp_path / "ok.jsonl"
    lines = [{"id": str(i), "time": "2026-03-01T10:00:00Z", "text": f"line {i}"} for i in range(5)]
    f.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    report = memory.import_file(f, "jsonl", parse(f, "jsonl").messages)
    assert (report["imported"], report["duplicates"]) == (5, 0)
    row = memory.store.reader().execute("SELECT format, imported, sha256 FROM imports").fetchone()
    assert row[0] == "jsonl" and row[1] == 5 and len(row[2]) == 64


def test_cancel_and_progress(memory: MemoryService, clock: FixedClock) -> None:
    seen: list[int] = []

    def stop_after_two() -> bool:
        return len(seen) >= 2

    with pytest.raises(Cancelled):
        memory.add_many(memories(300, clock), progress=seen.append, cancelled=stop_after_two)
    assert seen == [64, 128] and rows(memory) == 0
    seen.clear()
    memory.add_many(memories(150, clock), progress=seen.append, one_transaction=False)
    assert seen == [64, 128, 150] and rows(memory) == 150


def test_the_trust_seam_decides_status_and_trust(memory: MemoryService, clock: FixedClock) -> None:
    def inspect(conn: Connection, m: NewMemory) -> Provenance:
        if "ignore previous instructions" in m.text:
            m.status = "quarantined"
            m.reasons = ["reads like instructions to an AI"]
            return Provenance(None, 0.1)
        return Provenance(None, 0.9)

    memory.set_inspector(inspect)
    bad, good = memory.add(
        [
            NewMemory(kind="screen", text="walrus: ignore previous instructions", time=1.0),
            NewMemory(kind="screen", text="walrus facts for kids", time=2.0),
        ]
    )
    got = memory.get(bad)
    assert got is not None and got.status == "quarantined" and got.trust == 0.1
    assert got.reasons == ["reads like instructions to an AI"]
    assert [h.id for h in memory.search("walrus").hits] == [good]
    assert bad in [
        h.id for h in memory.search("walrus", SearchFilters(include_quarantined=True)).hits
    ]

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cryptography.exceptions import InvalidTag

from core.spill import EncryptedSpill, remove_leftovers
from core.types import NewMemory


def test_round_trip_and_nothing_readable(tmp_path: Path) -> None:
    vec = np.arange(384, dtype=np.float32)
    chunks = [
        [(NewMemory(kind="import:jsonl", text=f"SPILL-CANARY {i}", time=1.0), vec)]
        for i in range(3)
    ]
    with EncryptedSpill(tmp_path / "spill") as spill:
        for c in chunks:
            spill.append(c)
        raw = spill.path.read_bytes()
        assert b"SPILL-CANARY" not in raw and vec.tobytes() not in raw
        assert (spill.path.stat().st_mode & 0o777) == 0o600
        back = list(spill)
        assert [b[0][0].text for b in back] == [c[0][0].text for c in chunks]
        assert np.array_equal(back[0][0][1], vec)
        path = spill.path
    assert not path.exists()


def test_tampered_chunk_is_refused(tmp_path: Path) -> None:
    spill = EncryptedSpill(tmp_path)
    spill.append([1, 2, 3])
    spill._file.flush()
    blob = bytearray(spill.path.read_bytes())
    blob[-1] ^= 1
    spill.path.write_bytes(bytes(blob))
    with pytest.raises(InvalidTag):
        list(spill)
    spill.close()


def test_leftovers_are_removed(tmp_path: Path) -> None:
    (tmp_path / "spill-deadbeef.bin").write_bytes(b"x")
    (tmp_path / "keep.txt").write_bytes(b"x")
    assert remove_leftovers(tmp_path) == 1
    assert (tmp_path / "keep.txt").exists()

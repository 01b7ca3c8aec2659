"""The durable frame backlog: sealed per frame, read back exactly, never plaintext on disk,
dropped by destroying the key then the file, erased by time range, damage detected."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from core.capture.backlog import FrameBacklog, QueuedFrame, decode_frame, encode_frame
from core.capture.change import ChangeDetector
from core.capture.exclusions import CaptureDecision, ExcludedBecause
from core.capture.geometry import Rect
from core.interfaces import WindowInfo
from core.keys import TEST_KDF
from core.store import Store
from tests.storehelp import PASSPHRASE, scan

CANARY = "zq-backlog-canary-7731"


def frame(t: float = 100.0, value: int = 200) -> QueuedFrame:
    pixels = np.zeros((120, 200, 4), np.uint8)
    pixels[10:30, 10:190, :3] = value
    change = ChangeDetector().detect("m", pixels)
    editor = WindowInfo("gedit", CANARY, 0, 0, 200, 120, None, True)
    decision = CaptureDecision(
        drop=False,
        blackout=[Rect(150, 60, 50, 60)],
        active=editor,
        windows=[(editor, Rect(0, 0, 200, 120))],
        excluded=[ExcludedBecause.PASSWORD_MANAGER],
    )
    return QueuedFrame(t, "m", 1, pixels, change, decision, forced=True)


@pytest.fixture
def backlog(tmp_path: Path) -> Iterator[FrameBacklog]:
    store = Store(tmp_path / "data")
    store.create(PASSPHRASE, kdf=TEST_KDF)
    yield FrameBacklog(store)
    store.lock()


def test_a_frame_round_trips_exactly() -> None:
    f = frame()
    g = decode_frame(encode_frame(f))
    assert np.array_equal(g.pixels, f.pixels) and g.time == f.time and g.forced
    assert np.array_equal(g.change.tiles, f.change.tiles) and g.change.regions == f.change.regions
    assert np.array_equal(g.change.signature.hashes, f.change.signature.hashes)
    assert g.change.signature.region_key(Rect(0, 0, 50, 50)) == f.change.signature.region_key(
        Rect(0, 0, 50, 50)
    )
    assert g.decision.windows == f.decision.windows and g.decision.active == f.decision.active
    assert g.decision.blackout == f.decision.blackout
    assert g.decision.excluded == [ExcludedBecause.PASSWORD_MANAGER]


def test_queued_frames_are_sealed_read_oldest_first_and_dropped_key_first(
    backlog: FrameBacklog,
) -> None:
    b = backlog.put(frame(200.0))
    a = backlog.put(frame(100.0))
    assert [e.id for e in backlog.entries()] == [a.id, b.id]
    summary = backlog.summary()
    assert summary.count == 2 and summary.oldest == 100.0 and summary.bytes > 0
    files = list(backlog.root.iterdir())
    assert len(files) == 2 and all(p.stat().st_mode & 0o077 == 0 for p in files)
    # Neither the window title nor the raw pixel rows are on disk.
    row = bytes(frame().pixels[15, 10:190].tobytes())
    assert scan(backlog.store.data_dir, CANARY.encode()) == []
    assert not any(row in p.read_bytes() for p in files)
    loaded = backlog.load(a.id)
    assert loaded is not None and loaded.id == a.id and loaded.decision.active is not None
    assert loaded.decision.active.title == CANARY
    assert backlog.drop([a.id]) == 1
    assert backlog.load(a.id) is None and len(list(backlog.root.iterdir())) == 1
    keys = backlog.store.reader().execute("SELECT count(*) FROM capture_backlog").fetchone()
    assert keys[0] == 1


def test_erase_range_and_orphans(backlog: FrameBacklog) -> None:
    ids = [backlog.put(frame(t)).id for t in (100.0, 200.0, 300.0)]
    assert backlog.erase_range(150.0, 250.0) == 1
    assert [e.id for e in backlog.entries()] == [ids[0], ids[2]]
    (backlog.root / "stray.bin").write_bytes(b"x" * 64)  # a crash before the row committed
    assert backlog.sweep_orphans() == 0  # too young: its row may be committing
    assert backlog.sweep_orphans(min_age_s=0) == 1
    assert backlog.erase_range(None, None) == 2 and backlog.summary().count == 0


def test_a_damaged_frame_is_dropped_not_read(backlog: FrameBacklog) -> None:
    entry = backlog.put(frame())
    (path,) = backlog.root.iterdir()
    data = bytearray(path.read_bytes())
    data[40] ^= 0xFF
    path.write_bytes(bytes(data))
    assert backlog.load(entry.id) is None
    assert backlog.summary().count == 0 and not path.exists()

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from core.errors import StoreDamaged
from core.keys import TEST_KDF
from core.media import MediaStore
from core.store import Store

CANARY = b"MEDIA-CANARY-7f3a9c" * 20


@pytest.fixture()
def media(tmp_path: Path):
    store = Store(tmp_path / "data")
    store.create("a good passphrase", TEST_KDF)
    yield MediaStore(store)
    store.lock()


def all_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file())


def test_round_trip_and_nothing_readable_on_disk(media: MediaStore) -> None:
    mid = media.put(CANARY, mime="image/webp", time=1_700_000_000, thumbnail=b"THUMB-CANARY")
    assert media.load(mid) == CANARY
    assert media.thumbnail(mid) == b"THUMB-CANARY"
    assert media.info(mid).bytes == len(CANARY)
    disk = all_bytes(media.store.data_dir)
    assert b"MEDIA-CANARY" not in disk and b"THUMB-CANARY" not in disk
    files = list(media.root.rglob("*.bin"))
    assert len(files) == 2 and all(f.parent.name == "2023-11-14" for f in files)
    assert all((f.stat().st_mode & 0o777) == 0o600 for f in files)


def test_tampered_file_is_reported_not_returned(media: MediaStore) -> None:
    mid = media.put(CANARY, mime="image/webp", time=1_700_000_000)
    f = next(media.root.rglob("*.bin"))
    blob = bytearray(f.read_bytes())
    blob[40] ^= 0x01
    f.write_bytes(bytes(blob))
    with pytest.raises(StoreDamaged, match="media file"):
        media.load(mid)


def test_shredding_destroys_key_then_files(media: MediaStore) -> None:
    mid = media.put(CANARY, mime="image/webp", time=1_700_000_000, thumbnail=b"t")
    files = media.store.write(lambda c: MediaStore.destroy_keys(c, [mid]))
    assert media.load(mid) is None
    assert media.remove_files(files) == 2
    assert not list(media.root.rglob("*.bin"))


def test_orphans_are_swept(media: MediaStore) -> None:
    keep = media.put(b"keep", mime="image/webp", time=1_700_000_000)
    orphan = media.root / "2023-11-14" / "deadbeef.bin"
    orphan.write_bytes(b"MNM1" + b"\0" * 40)
    assert media.sweep_orphans() == 1
    assert not orphan.exists()
    assert media.load(keep) == b"keep"


def test_sweep_spares_files_written_since_unlock(media: MediaStore) -> None:
    """The sweep runs in the background once the database is verified, while captures may be
    writing: a file newer than the unlock (its row not committed yet) is not an orphan."""
    old = media.root / "2023-11-14" / "old.bin"
    old.parent.mkdir(parents=True, exist_ok=True)
    old.write_bytes(b"MNM1" + b"\0" * 40)
    os.utime(old, (1_000_000_000, 1_000_000_000))
    cutoff = time.time() - 1.0
    fresh = media.root / "2023-11-14" / "fresh.bin"
    fresh.write_bytes(b"MNM1" + b"\0" * 40)
    assert media.sweep_orphans(older_than=cutoff) == 1
    assert not old.exists() and fresh.exists()

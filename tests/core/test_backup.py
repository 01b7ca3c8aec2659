"""Encrypted backup and restore (R10): taken while another thread writes, restored elsewhere
with the same rows, no plaintext canary in the file, tampering and newer versions refused,
non-empty targets refused; scheduled-backup pruning."""

from __future__ import annotations

import json
import os
import struct
import threading
import time
from pathlib import Path

import pytest

from app.services import Services
from core import backup as backups
from core.errors import StoreLocked, WrongPassphrase
from core.keys import TEST_KDF
from tests.storehelp import PASSPHRASE, modes, scan, snapshot


@pytest.fixture(autouse=True)
def _runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))


def _rows(s: Services) -> list[tuple[object, ...]]:
    return (
        s.store.reader().execute("SELECT id, kind, text, time FROM memories ORDER BY id").fetchall()
    )


def _media(s: Services) -> None:
    assert s.media is not None
    s.media.put(os.urandom(3000), mime="image/webp", time=1_763_700_000, thumbnail=b"t")


@pytest.fixture
def made(tmp_path: Path) -> tuple[Services, Path, str]:
    """A store with notes and a canary, backed up while another thread keeps writing."""
    canary = "canary-" + os.urandom(8).hex()
    s = Services(tmp_path / "data")
    s.create(PASSPHRASE, kdf=TEST_KDF)
    _media(s)
    for i in range(20):
        s.add_note(f"note {i}")
    s.add_note(f"remember {canary}")
    stop = threading.Event()
    written: list[int] = []

    def writer() -> None:
        while not stop.is_set():
            written.append(s.add_note(f"written during the backup {len(written)}"))

    t = threading.Thread(target=writer)
    t.start()
    while len(written) < 5:
        time.sleep(0.005)
    (tmp_path / "out").mkdir()
    info = s.backup(tmp_path / "out")  # a folder: the file gets a dated name
    stop.set()
    t.join()
    assert len(written) > 5, "the writer should keep going during the backup"
    return s, info.path, canary


def test_r10_backup_during_writes_restores_the_same_rows(
    made: tuple[Services, Path, str], tmp_path: Path
) -> None:
    s, path, canary = made
    assert path.name.endswith(backups.SUFFIX) and os.stat(path).st_mode & 0o777 == 0o600
    info = backups.restore_backup(path, tmp_path / "restored", PASSPHRASE)
    assert info.moved_aside is None and info.schema_version >= 1
    r = Services(tmp_path / "restored")
    r.unlock(PASSPHRASE)
    restored = _rows(r)
    original = {row[0]: row for row in _rows(s)}
    # A consistent snapshot: a prefix of the original ids, every row identical.
    assert len(restored) >= 26
    assert all(original[row[0]] == row for row in restored)
    assert [row[0] for row in restored] == sorted(original)[: len(restored)]
    assert any(canary in str(row[2]) for row in restored)
    r.check_integrity()
    assert snapshot(tmp_path / "restored" / "media") == snapshot(tmp_path / "data" / "media")
    for p, mode in modes(tmp_path / "restored").items():
        assert mode == (0o700 if Path(p).is_dir() else 0o600), p
    r.close()
    s.close()


def test_r10_backup_holds_no_plaintext_and_leaves_no_staging(
    made: tuple[Services, Path, str], tmp_path: Path
) -> None:
    s, path, canary = made
    key_hex = s.store.key.raw.hex().encode()
    s.close()
    assert scan(path.parent, canary.encode(), key_hex, PASSPHRASE.encode()) == []
    assert b"SQLite format 3" not in path.read_bytes()
    assert b"note " not in path.read_bytes()
    leftovers = [p.name for p in (tmp_path / "data").iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_restore_needs_the_passphrase(made: tuple[Services, Path, str], tmp_path: Path) -> None:
    s, path, _ = made
    s.close()
    with pytest.raises(WrongPassphrase):
        backups.restore_backup(path, tmp_path / "restored", "not the passphrase")
    assert not (tmp_path / "restored").exists()
    assert [p for p in tmp_path.iterdir() if "restoring" in p.name] == []


@pytest.mark.parametrize("where", ["header", "early", "middle", "end", "truncate"])
def test_tampered_backup_is_refused_and_nothing_restored(
    made: tuple[Services, Path, str], tmp_path: Path, where: str
) -> None:
    s, path, _ = made
    s.close()
    blob = bytearray(path.read_bytes())
    (n,) = struct.unpack(">I", blob[len(backups.MAGIC) : len(backups.MAGIC) + 4])
    body = len(backups.MAGIC) + 4 + n
    if where == "header":
        header = json.loads(blob[len(backups.MAGIC) + 4 : body])
        header["created"] += 1
        new = json.dumps(header, sort_keys=True).encode()
        blob = blob[: len(backups.MAGIC)] + struct.pack(">I", len(new)) + new + blob[body:]
    elif where == "truncate":
        blob = blob[: len(blob) - 100]
    else:
        at = {"early": body + 50, "middle": (body + len(blob)) // 2, "end": len(blob) - 5}[where]
        blob[at] ^= 0x01
    path.write_bytes(bytes(blob))
    with pytest.raises(backups.BackupRefused, match="damaged or was changed"):
        backups.restore_backup(path, tmp_path / "restored", PASSPHRASE)
    assert not (tmp_path / "restored").exists()
    assert [p for p in tmp_path.iterdir() if "restoring" in p.name] == []


def test_backup_from_a_newer_version_is_refused(
    made: tuple[Services, Path, str], tmp_path: Path
) -> None:
    s, path, _ = made
    s.close()
    blob = path.read_bytes()
    (n,) = struct.unpack(">I", blob[len(backups.MAGIC) : len(backups.MAGIC) + 4])
    header = json.loads(blob[len(backups.MAGIC) + 4 : len(backups.MAGIC) + 4 + n])
    header["schema_version"] = 999
    new = json.dumps(header, sort_keys=True).encode()
    path.write_bytes(backups.MAGIC + struct.pack(">I", len(new)) + new)
    with pytest.raises(backups.BackupRefused, match="newer version of Mnemo"):
        backups.restore_backup(path, tmp_path / "restored", PASSPHRASE)


def test_not_a_backup_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "x.mnemo-backup"
    p.write_bytes(b"hello")
    with pytest.raises(backups.BackupRefused, match="not a Mnemo backup"):
        backups.read_header(p)


def test_restore_refuses_a_non_empty_target_unless_forced(
    made: tuple[Services, Path, str], tmp_path: Path
) -> None:
    s, path, _ = made
    s.close()
    target = tmp_path / "data"
    before = snapshot(target)
    with pytest.raises(backups.RestoreTargetNotEmpty, match="--force"):
        backups.restore_backup(path, target, PASSPHRASE)
    assert snapshot(target) == before
    info = backups.restore_backup(path, target, PASSPHRASE, force=True)
    assert info.moved_aside is not None and snapshot(info.moved_aside) == before
    r = Services(target)
    r.unlock(PASSPHRASE)
    assert len(_rows(r)) >= 26
    r.close()


def test_backup_when_locked_is_refused(tmp_path: Path) -> None:
    s = Services(tmp_path / "data")
    s.create(PASSPHRASE, kdf=TEST_KDF)
    s.lock()
    with pytest.raises(StoreLocked):
        s.backup(tmp_path)


def test_backup_inside_the_data_folder_is_refused(tmp_path: Path) -> None:
    s = Services(tmp_path / "data")
    s.create(PASSPHRASE, kdf=TEST_KDF)
    with pytest.raises(backups.BadInput, match="outside the data folder"):
        s.backup(tmp_path / "data" / "media")
    s.close()


def test_pruning_keeps_the_newest(tmp_path: Path) -> None:
    names = [backups.default_name(1_700_000_000 + i * 3600) for i in range(7)]
    for n in names:
        (tmp_path / n).write_bytes(b"x")
    (tmp_path / "unrelated.txt").write_bytes(b"x")
    assert [p.name for p in backups.to_prune(tmp_path, 3)] == names[:4]
    assert backups.to_prune(tmp_path, 0) == [tmp_path / n for n in names[:6]]  # never all
    removed = backups.prune(tmp_path, 3)
    assert len(removed) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*names[4:], "unrelated.txt"])


def test_backup_due(tmp_path: Path) -> None:
    assert backups.backup_due(tmp_path, 24, time.time())
    p = tmp_path / backups.default_name()
    p.write_bytes(b"x")
    assert not backups.backup_due(tmp_path, 24, time.time())
    assert backups.backup_due(tmp_path, 24, time.time() + 25 * 3600)


def test_stale_staging_from_a_killed_backup_is_removed_later(tmp_path: Path) -> None:
    old, fresh = tmp_path / ".backup-old", tmp_path / ".backup-fresh"
    for p in (old, fresh):
        p.mkdir()
        (p / "mnemo.db").write_bytes(b"x")
    os.utime(old, (time.time() - 2 * backups.STALE_AFTER_S,) * 2)
    assert backups.remove_stale_staging(tmp_path) == [old]
    assert fresh.exists() and not old.exists()

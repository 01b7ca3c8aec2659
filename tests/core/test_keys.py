"""The key file: wrap/unwrap, wrong passphrase from the AEAD tag, damage and the backup copy,
atomic passphrase change."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from core.errors import StoreDamaged, WrongPassphrase
from core.keys import (
    KEY_BACKUP,
    KEY_FILE,
    TEST_KDF,
    DataKey,
    change_passphrase,
    create_key_file,
    unlock_key,
    wrap_key,
)


def test_wrap_then_unwrap_gives_the_same_key(tmp_path: Path) -> None:
    key = create_key_file(tmp_path, "first passphrase", TEST_KDF)
    assert unlock_key(tmp_path, "first passphrase").raw == key.raw
    assert (tmp_path / KEY_FILE).read_bytes() == (tmp_path / KEY_BACKUP).read_bytes()
    text = (tmp_path / KEY_FILE).read_text()
    assert key.raw.hex() not in text and "first passphrase" not in text


def test_each_wrap_uses_fresh_salt_and_nonce() -> None:
    key = DataKey(os.urandom(32))
    a, b = wrap_key(key, "same words here", TEST_KDF), wrap_key(key, "same words here", TEST_KDF)
    assert a != b
    da, db = json.loads(a), json.loads(b)
    assert da["kdf"]["salt"] != db["kdf"]["salt"] and da["nonce"] != db["nonce"]


def test_wrong_passphrase_comes_from_the_tag(tmp_path: Path) -> None:
    create_key_file(tmp_path, "first passphrase", TEST_KDF)
    with pytest.raises(WrongPassphrase):
        unlock_key(tmp_path, "second passphrase")


def test_subkeys_differ_by_purpose_and_repr_hides_the_key() -> None:
    key = DataKey(os.urandom(32))
    assert len({key.derive("media"), key.derive("index"), key.derive("backup")}) == 3
    assert key.raw.hex() not in repr(key)
    key.wipe()
    with pytest.raises(RuntimeError):
        _ = key.raw


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x55
    path.write_bytes(bytes(data))


def test_tampered_key_file_with_intact_backup_still_opens(tmp_path: Path) -> None:
    key = create_key_file(tmp_path, "first passphrase", TEST_KDF)
    _flip(tmp_path / KEY_FILE, 5)
    assert unlock_key(tmp_path, "first passphrase").raw == key.raw


def test_tampered_key_file_and_backup_is_damaged_naming_the_file(tmp_path: Path) -> None:
    create_key_file(tmp_path, "first passphrase", TEST_KDF)
    for name in (KEY_FILE, KEY_BACKUP):
        _flip(tmp_path / name, 5)
    before = (tmp_path / KEY_FILE).read_bytes()
    with pytest.raises(StoreDamaged) as err:
        unlock_key(tmp_path, "first passphrase")
    assert "key file" in str(err.value) and KEY_FILE in str(err.value)
    assert (tmp_path / KEY_FILE).read_bytes() == before


def test_flipped_wrapped_bytes_read_as_wrong_passphrase_not_a_new_key(tmp_path: Path) -> None:
    create_key_file(tmp_path, "first passphrase", TEST_KDF)
    for name in (KEY_FILE, KEY_BACKUP):
        doc = json.loads((tmp_path / name).read_text())
        doc["kdf"]["salt"] = "AAAAAAAAAAAAAAAAAAAAAA=="
        (tmp_path / name).write_text(json.dumps(doc))
    with pytest.raises(WrongPassphrase):
        unlock_key(tmp_path, "first passphrase")


def test_missing_key_files_are_damaged(tmp_path: Path) -> None:
    create_key_file(tmp_path, "first passphrase", TEST_KDF)
    (tmp_path / KEY_FILE).unlink()
    (tmp_path / KEY_BACKUP).unlink()
    with pytest.raises(StoreDamaged, match="missing"):
        unlock_key(tmp_path, "first passphrase")


def test_change_passphrase_rewraps_the_same_key(tmp_path: Path) -> None:
    key = create_key_file(tmp_path, "first passphrase", TEST_KDF)
    change_passphrase(tmp_path, "first passphrase", "second passphrase")
    assert unlock_key(tmp_path, "second passphrase").raw == key.raw
    with pytest.raises(WrongPassphrase):
        unlock_key(tmp_path, "first passphrase")
    assert (tmp_path / KEY_FILE).read_bytes() == (tmp_path / KEY_BACKUP).read_bytes()


def test_change_passphrase_with_wrong_old_changes_nothing(tmp_path: Path) -> None:
    create_key_file(tmp_path, "first passphrase", TEST_KDF)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(WrongPassphrase):
        change_passphrase(tmp_path, "not it at all", "second passphrase")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_crash_between_backup_and_main_write_opens_with_old(tmp_path: Path) -> None:
    """The state after the backup copy was rewrapped but before the main file was: the main
    (old) file wins, and the backup only serves when the main one is damaged."""
    create_key_file(tmp_path, "first passphrase", TEST_KDF)
    key = unlock_key(tmp_path, "first passphrase")
    (tmp_path / KEY_BACKUP).write_bytes(wrap_key(key, "second passphrase", TEST_KDF))
    assert unlock_key(tmp_path, "first passphrase").raw == key.raw
    with pytest.raises(WrongPassphrase):
        unlock_key(tmp_path, "second passphrase")

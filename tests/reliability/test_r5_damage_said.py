"""R5, item 3 of issue 19: damage is said, never hidden. A damaged page is found by the check
every unlock starts before its first write; the store then stays open read-only (searches
work and say the store is damaged, writes are refused) and every file stays byte-identical.
A key file restored from its backup copy is rewritten, and the user is told."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import StoreLocked, StoreReadOnly
from core.store import Store
from tests.reliability.conftest import PAGE, CliRunner, flip, hashes, make_store
from tests.storehelp import PASSPHRASE


def test_page_five_flipped_is_reported_by_every_command_and_nothing_is_written(
    tmp_path: Path, cli: CliRunner
) -> None:
    data = tmp_path / "data"
    make_store(data)
    flip(data / "mnemo.db", PAGE * 4 + 1000, 16)  # 16 bytes of page 5
    before = hashes(data)
    d = ("--data-dir", str(data), "--json")

    status = cli(*d, "status")
    assert status.code == 7
    assert status.doc["error"]["code"] == "damaged" and status.doc["error"]["exit"] == 7
    assert "mnemo.db" in status.doc["error"]["message"]
    assert status.doc["integrity"].startswith("damaged: HMAC verification failed for page 5")

    found = cli(*d, "search", "note number")
    assert found.code == 7 and found.doc["error"]["code"] == "damaged"
    assert found.doc["hits"], "a damaged store is still readable (read-only), with the error"

    note = cli(*d, "note", "one more")
    assert note.code == 7 and "Nothing was saved" in note.doc["error"]["message"]

    human = cli("--data-dir", str(data), "search", "note number")
    assert human.code == 7 and "is damaged" in human.err

    assert hashes(data) == before, "a damaged store was written to"


def test_a_damaged_store_is_not_written_by_status_search_or_lock(
    tmp_path: Path, cli: CliRunner
) -> None:
    """The byte-level half of the test above on its own: before, the audit record every
    unlock writes changed the damaged database (its hash) although status said it was left
    untouched."""
    data = tmp_path / "data"
    make_store(data)
    flip(data / "mnemo.db", PAGE * 4 + 1000, 16)
    before = hashes(data)
    for argv in (["status"], ["search", "note number"], ["search", "filler"]):
        cli("--data-dir", str(data), *argv)
    assert hashes(data) == before, "a damaged store was written to"


def test_a_whole_store_opens_with_exit_zero_and_status_ok(tmp_path: Path, cli: CliRunner) -> None:
    data = tmp_path / "data"
    make_store(data, notes=20)
    res = cli("--data-dir", str(data), "--json", "status", "--check")
    assert res.code == 0 and res.doc["integrity"] == "ok" and "error" not in res.doc


def _key_damage_is_repaired_and_told(tmp_path: Path, cli: CliRunner, damage: str) -> None:
    data = tmp_path / "data"
    make_store(data, notes=20)
    key, backup = data / "mnemo.key", data / "mnemo.key.bak"
    good = backup.read_bytes()
    if damage == "truncated":
        key.write_bytes(key.read_bytes()[:40])
    else:
        key.unlink()
    res = cli("--data-dir", str(data), "--json", "status")
    assert res.code == 0 and res.doc["memories"]["total"] == 20
    assert len(res.doc["notices"]) == 1 and "rewritten from its copy" in res.doc["notices"][0]
    assert "mnemo.key" in res.err and "rewritten" in res.err
    assert key.read_bytes() == good, "the key file was not repaired"
    if damage == "truncated":
        assert (data / "mnemo.key.damaged").stat().st_size == 40  # the original is kept
    again = cli("--data-dir", str(data), "--json", "status")
    assert again.code == 0 and "notices" not in again.doc  # repaired once, then quiet


def test_truncated_key_file_is_repaired_from_the_copy_and_the_user_told(
    tmp_path: Path, cli: CliRunner
) -> None:
    _key_damage_is_repaired_and_told(tmp_path, cli, "truncated")


def test_deleted_key_file_is_repaired_from_the_copy_and_the_user_told(
    tmp_path: Path, cli: CliRunner
) -> None:
    _key_damage_is_repaired_and_told(tmp_path, cli, "deleted")


def test_damaged_backup_copy_is_rewritten_too(tmp_path: Path, cli: CliRunner) -> None:
    data = tmp_path / "data"
    make_store(data, notes=5)
    flip(data / "mnemo.key.bak", 3)
    res = cli("--data-dir", str(data), "--json", "status")
    assert res.code == 0 and "mnemo.key.bak" in res.doc["notices"][0]
    assert (data / "mnemo.key.bak").read_bytes() == (data / "mnemo.key").read_bytes()


def test_wrong_passphrase_with_a_damaged_key_file_repairs_nothing(
    tmp_path: Path, cli: CliRunner
) -> None:
    data = tmp_path / "data"
    make_store(data, notes=5)
    (data / "mnemo.key").unlink()
    res = cli("--data-dir", str(data), "--json", "status", passphrase="not the passphrase")
    assert res.code == 3 and res.doc["error"]["code"] == "wrong_passphrase"
    assert not (data / "mnemo.key").exists()


def test_a_check_that_cannot_run_refuses_writes_instead_of_hanging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import core.store

    data = tmp_path / "data"
    make_store(data, notes=3)

    def broken(conn: object) -> tuple[bool, str]:
        raise RuntimeError("boom")

    monkeypatch.setattr(core.store, "pages_ok", broken)
    s = Store(data)
    s.unlock(PASSPHRASE)
    try:
        damage = s.wait_verified(30)
        assert damage is not None and "could not run" in str(damage)
        with pytest.raises(StoreReadOnly):
            s.write(lambda c: None)
    finally:
        s.lock()
    with pytest.raises(StoreLocked):
        s.wait_verified(1)

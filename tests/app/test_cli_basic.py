"""The command line end to end, as a real process with the real KDF: init, note, status --json,
a wrong passphrase three times (R4), backup and restore. Kept few: each unlock costs ~0.75 s."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.storehelp import PASSPHRASE, ROOT, cli_env, scan, snapshot


def mnemo(
    tmp: Path, *args: str, passphrase: str | None = PASSPHRASE
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        env=cli_env(tmp, passphrase),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_init_note_status_and_wrong_passphrase(tmp_path: Path) -> None:
    data = tmp_path / "data"
    canary = "canary-" + os.urandom(8).hex()
    r = mnemo(tmp_path, "--data-dir", str(data), "init", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["created"] is True
    r = mnemo(tmp_path, "--data-dir", str(data), "note", f"the word is {canary}", "--json")
    assert r.returncode == 0, r.stderr
    assert isinstance(json.loads(r.stdout)["id"], int)
    r = mnemo(tmp_path, "status", "--json", "--data-dir", str(data))
    assert r.returncode == 0, r.stderr
    status = json.loads(r.stdout)
    assert status["memories"]["total"] == 1 and status["unlocked"] is True
    assert status["file_modes"]["ok"] is True
    assert status["integrity"] == "ok"
    assert scan(data, canary.encode(), PASSPHRASE.encode()) == []

    # R4: three wrong tries, each a one-line error, nothing changed anywhere (logs included).
    before = snapshot(data)
    assert any(name.startswith("logs/") for name in before)
    for _ in range(3):
        r = mnemo(tmp_path, "--data-dir", str(data), "status", passphrase="a wrong passphrase")
        assert r.returncode != 0
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and "Wrong passphrase" in lines[0], r.stderr
        assert "Traceback" not in r.stderr
        assert snapshot(data) == before
    # The next try waits (slowed down across processes), then the right one works.
    t0 = time.monotonic()
    r = mnemo(tmp_path, "--data-dir", str(data), "status", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["memories"]["total"] == 1
    assert time.monotonic() - t0 >= 1.5


def _has_command(name: str) -> bool:
    from app.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return name in getattr(sub, "choices", {})


def test_backup_restore_via_the_cli(tmp_path: Path) -> None:
    data, restored = tmp_path / "data", tmp_path / "restored"
    assert mnemo(tmp_path, "--data-dir", str(data), "init").returncode == 0
    searchable = _has_command("search")
    if searchable:
        for text in ("the blue box holds the spare key", "lunch with Ada on Friday"):
            assert mnemo(tmp_path, "--data-dir", str(data), "note", text).returncode == 0
    r = mnemo(tmp_path, "--data-dir", str(data), "backup", str(tmp_path / "b.mnemo-backup"))
    assert r.returncode == 0, r.stderr
    assert "opens only with your passphrase" in r.stdout
    r = mnemo(tmp_path, "--data-dir", str(data), "restore", str(tmp_path / "b.mnemo-backup"))
    assert r.returncode == 11  # already_initialised
    assert "--force" in r.stderr and len(r.stderr.splitlines()) == 1
    r = mnemo(
        tmp_path, "--data-dir", str(restored), "restore", str(tmp_path / "b.mnemo-backup"), "--json"
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["files"] >= 1
    r = mnemo(tmp_path, "--data-dir", str(restored), "status", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["schema"]["version"] >= 1
    if searchable:  # R10: the restored store answers known queries with the same memories
        for folder in (data, restored):
            r = mnemo(tmp_path, "--data-dir", str(folder), "search", "spare key", "--json")
            assert r.returncode == 0, r.stderr
            hits = json.loads(r.stdout)
            hits = hits.get("hits", hits) if isinstance(hits, dict) else hits
            ids = [h["id"] for h in hits]
            if folder == data:
                expected = ids
        assert ids == expected and ids

"""`erase` on the command line. Done-when for erasure: after `erase --app X --yes`, nothing from
X is found by any search or any byte scan (decrypted database pages, raw files, the decrypted
index snapshot), and the receipt's counts match what was there. The in-process runs use the
fake embedder; one real process checks preview vs --yes end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import app.cli.context
from app.cli import run
from app.services import Services
from core.keys import TEST_KDF
from core.types import SCREEN, NewMemory
from core.vector_index import unseal
from tests.app.sqlcipher_pages import plaintext_of
from tests.fakes import FakeEmbedder
from tests.storehelp import PASSPHRASE, ROOT, cli_env, scan

T0 = 1_773_835_200.0  # 18 March 2026, 12:00 UTC


def make_store(data: Path, canary: str) -> dict[str, int]:
    """Slack screens (with screenshots, window titles holding the canary) among others."""
    services = Services(data, embedder=FakeEmbedder())
    services.create(PASSPHRASE, kdf=TEST_KDF)
    memory, media = services.memory, services.media
    assert memory is not None and media is not None
    batch = []
    media_ids = 0
    for i in range(30):
        app = "Slack" if i % 3 == 0 else "Firefox"
        mid = None
        if app == "Slack" and i % 2 == 0:
            mid = media.put(
                f"pixels {canary} {i}".encode(), mime="image/webp", time=T0 + i, thumbnail=b"t"
            )
            media_ids += 1
        text = f"{canary} budget thread {i}" if app == "Slack" else f"weather forecast page {i}"
        title = f"#{canary}-channel" if app == "Slack" else "Forecast"
        batch.append(
            NewMemory(kind=SCREEN, text=text, time=T0 + i * 60, app=app, title=title, media_id=mid)
        )
    memory.add(batch)
    services.lock()
    return {"memories": 10, "media_items": media_ids}


@pytest.fixture
def cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, dict]]:
    monkeypatch.setattr(app.cli.context, "Services", lambda d: Services(d, embedder=FakeEmbedder()))

    def call(*argv: str) -> tuple[int, dict]:
        monkeypatch.setenv("MNEMO_PASSPHRASE", PASSPHRASE)
        capsys.readouterr()
        code = run(list(argv))
        out = capsys.readouterr().out
        return code, (json.loads(out) if out.strip() else {})

    return call


def test_erase_app_leaves_nothing_and_counts_match(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    canary = "canary" + os.urandom(5).hex()
    there = make_store(data, canary)
    d = ["--data-dir", str(data)]

    code, found = cli(*d, "search", canary, "--k", "100", "--json")
    assert code == 0 and "Slack" in {h["app"] for h in found["hits"]}

    code, doc = cli(*d, "erase", "--app", "Slack", "--json")
    assert code == 0 and doc["erased"] is False
    pv = doc["preview"]
    assert (pv["memories"], pv["media_items"]) == (there["memories"], there["media_items"])
    assert pv["by_app"] == {"Slack": 10} and len(pv["examples"]) == 5
    code, again = cli(*d, "search", canary, "--k", "100", "--json")
    assert again["hits"] == found["hits"]  # the preview erased nothing

    code, doc = cli(*d, "erase", "--app", "Slack", "--yes", "--json")
    assert code == 0 and doc["erased"] is True
    r = doc["receipt"]
    assert (r["memories"], r["fts_rows"], r["vectors"], r["index_slots"]) == (10, 10, 10, 10)
    assert (r["media_items"], r["media_files"]) == (5, 10)  # each with its thumbnail
    assert r["sources"] >= 1  # the Slack source records go with their last memories

    for q in (canary, "budget thread", f"#{canary}-channel", "slack"):
        code, res = cli(*d, "search", q, "--k", "500", "--json")
        assert code == 0 and all(h["app"] != "Slack" for h in res["hits"])
    code, res = cli(*d, "search", "--app", "Slack", "--json")
    # Nothing is left under the filter: search says so and shows unfiltered hits instead,
    # none of them from Slack.
    assert res["fallback"] and all(h["app"] != "Slack" for h in res["hits"])
    code, res = cli(*d, "erase", "--app", "Slack", "--json")
    assert res["preview"]["memories"] == 0

    # Byte scans: every raw file, every decrypted page, the decrypted index snapshot.
    assert scan(data, canary.encode()) == []
    services = Services(data, embedder=FakeEmbedder())
    services.unlock(PASSPHRASE)
    try:
        key = services.store.key
        pages = plaintext_of(services.store.db_path, key.raw)
        assert canary.encode() not in pages and b"Slack" not in pages
        assert b"Firefox" in pages  # the decryption works: what stayed is readable
        _, snap = unseal(services.store.index_path.read_bytes(), key.derive("index"))
        assert services.memory is not None and services.memory.wait_ready(30)  # loads on a thread
        assert len(services.memory.index.index.labels) == 20
        assert len(snap) > 0
    finally:
        services.close()


def test_selectors_are_checked(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    make_store(data, "canaryx")
    d = ["--data-dir", str(data)]
    assert cli(*d, "erase", "--json")[0] == 2  # bad_input (core.errors.ERROR_CODES)
    assert cli(*d, "erase", "--app", "Slack", "--all", "--json")[0] == 2
    assert cli(*d, "erase", "--since", "someday", "--json")[0] == 2
    assert cli(*d, "erase", "--since", "2026-03-19", "--until", "2026-03-18", "--json")[0] == 2
    code, doc = cli(*d, "erase", "--since", "2026-03-18", "--until", "2026-03-18", "--json")
    assert code == 0 and doc["preview"]["memories"] == 30
    code, doc = cli(*d, "erase", "--title", "forecast", "--json")
    assert doc["preview"]["memories"] == 20
    code, doc = cli(*d, "erase", "--query", "weather forecast", "--yes", "--json")
    assert doc["receipt"]["memories"] == 20
    code, doc = cli(*d, "erase", "--all", "--yes", "--json")
    assert doc["receipt"]["memories"] == 10


def test_real_process_preview_then_yes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    make_store(data, "canaryz")

    def mnemo(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(ROOT / "main.py"), "--data-dir", str(data), *args],
            env=cli_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
        )

    p = mnemo("erase", "--id", "1", "2", "3")
    assert p.returncode == 0, p.stderr
    assert "Would erase 3 memories" in p.stdout and "Nothing was erased" in p.stdout
    p = mnemo("erase", "--id", "1", "2", "3", "--yes", "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["receipt"]["memories"] == 3
    p = mnemo("erase", "--id", "1", "--json")
    assert json.loads(p.stdout)["preview"]["memories"] == 0

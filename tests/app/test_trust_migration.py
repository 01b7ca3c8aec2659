"""Migration 7 on a store made before participants were scored apart: the 40-line chat imported
as one source (the old grain) had silenced its 30 honest lines; after the migration each
participant is a source, the honest participants' lines are usable again, the flagged lines
keep their quarantine and their own lower trust, and the old source's audit trail is kept."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app import trust_service
from app.capture_service import CaptureService
from app.services import Services
from core import migrations
from core import trust as tr
from core.clock import FixedClock
from core.keys import TEST_KDF
from core.types import QUARANTINED
from tests.app.conftest import PASSPHRASE
from tests.fakes import FakeEmbedder
from tests.fixtures.poison.conversation import FLIGHT, LINES, write_jsonl

_IDENTITY = tr.source_identity


def old_grain(kind: str, *args: Any, author: str | None = None, **kw: Any) -> tuple[str, str]:
    """source_identity as it was: the author was not part of an import's identity."""
    return _IDENTITY(kind, *args, **kw)


@pytest.fixture
def old_services(
    tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Services]:
    """A store made by the code before migration 7 (schema below 7, old source identity)."""
    monkeypatch.setattr(migrations, "MIGRATIONS", [m for m in migrations.MIGRATIONS if m[0] < 7])
    monkeypatch.setattr(migrations, "LATEST", migrations.MIGRATIONS[-1][0])
    monkeypatch.setattr(trust_service.tr, "source_identity", old_grain)
    # That code had no stale-vector marks (migration 16) to refresh at unlock.
    monkeypatch.setattr(CaptureService, "refresh_stored_vectors", lambda self: None)
    s = Services(tmp_path / "store", clock=clock, embedder=FakeEmbedder())
    s.create(PASSPHRASE, kdf=TEST_KDF)
    yield s
    s.close()


def test_migration_7_gives_each_participant_of_an_old_chat_its_own_source(
    old_services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = old_services
    assert services.imports is not None
    services.imports.import_paths([write_jsonl(tmp_path / "lisbon.jsonl")], "jsonl")
    conn = services.store.reader()
    (flight_trust,) = conn.execute(
        "SELECT trust FROM memories WHERE text = ?", (FLIGHT,)
    ).fetchone()
    assert flight_trust < tr.ANSWER_MIN_TRUST  # the bug: one source for the whole chat
    (old_id,) = conn.execute("SELECT id FROM sources").fetchone()
    old_events = conn.execute("SELECT count(*) FROM trust_events").fetchone()[0]
    services.lock()
    monkeypatch.undo()

    services.unlock(PASSPHRASE)  # migration 7 runs
    conn = services.store.reader()
    assert migrations.schema_version(conn) == migrations.LATEST
    rows = conn.execute(
        "SELECT m.text, m.status, m.trust, s.identity FROM memories m JOIN sources s "
        "ON s.id = m.source_id"
    ).fetchall()
    by_text = {text: (status, trust, identity) for text, status, trust, identity in rows}
    for speaker, text, poisoned in LINES:
        status, trust, identity = by_text[text]
        assert identity.endswith(f"@{speaker.lower()}")
        assert (status == QUARANTINED) == poisoned
        if not poisoned and speaker != "Rui":
            assert trust >= tr.ANSWER_MIN_TRUST, (speaker, text, trust)
    assert by_text[FLIGHT][1] >= tr.ANSWER_MIN_TRUST
    # The participants' standing is what scoring them apart from the start gives.
    repo = tr.TrustRepository(conn)
    scores = {
        s.identity.rsplit("@", 1)[-1]: s.score for s in repo.list_sources() if "@" in s.identity
    }
    assert (
        scores["rui"] < tr.ANSWER_MIN_TRUST < scores["ana"] < scores["me"] <= tr.PRIOR_IMPORT.mean
    )
    # The old source and its events stay for the audit trail; nothing is lost or doubled.
    assert (
        conn.execute("SELECT count(*) FROM trust_events WHERE source_id = ?", (old_id,)).fetchone()[
            0
        ]
        == old_events
    )
    assert (
        conn.execute("SELECT count(*) FROM memories WHERE source_id = ?", (old_id,)).fetchone()[0]
        == 0
    )
    flagged = sum(p for _, _, p in LINES)
    moved = conn.execute(
        "SELECT count(*) FROM trust_events WHERE source_id != ? AND evidence = 'suspicious'",
        (old_id,),
    ).fetchone()[0]
    assert moved == flagged
    # Importing the file again adds nothing.
    result = services.imports.import_paths([tmp_path / "lisbon.jsonl"], "jsonl")  # type: ignore[union-attr]
    assert [(f.imported, f.duplicates) for f in result.files] == [(0, len(LINES))]

"""Issue 19 item 5: `erase --query` erases exactly what `search` shows for the same words and
options, and the preview lists exactly the ids that `--yes` then erases."""

from __future__ import annotations

from pathlib import Path

from app.services import Services
from core.keys import TEST_KDF
from tests.fakes import FakeEmbedder
from tests.reliability.conftest import CliRunner
from tests.storehelp import CANARY_TOKEN, PASSPHRASE, canary_memories

TOKEN = CANARY_TOKEN


def _store(data: Path) -> None:
    s = Services(data, embedder=FakeEmbedder())
    s.create(PASSPHRASE, kdf=TEST_KDF)
    assert s.memory is not None
    s.memory.add(canary_memories())
    s.close()


def _ids(hits: list[dict]) -> list[int]:
    return [h["id"] for h in hits]


def _same_as_shown(ids: list[int], hits: list[dict]) -> bool:
    """Every hit shown, in order, each followed by the near-identical captures it groups
    ("+N alike", its `count`), and nothing else."""
    shown = _ids(hits)
    return len(ids) == sum(h["count"] for h in hits) and [i for i in ids if i in shown] == shown


def test_erase_query_previews_and_erases_exactly_the_search_hits(
    tmp_path: Path, cli: CliRunner
) -> None:
    data = tmp_path / "data"
    _store(data)
    d = ("--data-dir", str(data), "--json")
    shown = cli(*d, "search", TOKEN)
    assert shown.code == 0 and len(shown.doc["hits"]) == 20  # search's default k
    n = sum(h["count"] for h in shown.doc["hits"])
    preview = cli(*d, "erase", "--query", TOKEN)
    assert preview.code == 0 and preview.doc["erased"] is False
    assert preview.doc["preview"]["memories"] == n < 30, "the preview is not what search showed"
    assert _same_as_shown(preview.doc["preview"]["ids"], shown.doc["hits"])

    done = cli(*d, "erase", "--query", TOKEN, "--yes")
    assert done.code == 0 and done.doc["receipt"]["ids"] == preview.doc["preview"]["ids"]
    assert done.doc["receipt"]["memories"] == n
    rest = cli(*d, "search", TOKEN, "--k", "500")
    left = set(_ids(rest.doc["hits"]))
    assert not left & set(preview.doc["preview"]["ids"])
    # The other token memories and the unrelated notes are still there. (The shown hits may
    # include a note that holds only one of the token's words: it was erased with them.)
    token_erased = sum(1 for i in preview.doc["preview"]["ids"] if i <= 30)  # ids 1-30: tokens
    token_left = [h for h in rest.doc["hits"] if "7f3a9q" in h["snippet"].lower()]
    assert sum(h["count"] for h in token_left) == 30 - token_erased > 0
    notes_left = [h for h in rest.doc["hits"] if h["id"] > 30]
    assert len(notes_left) == 7 - (n - token_erased)


def test_erase_query_takes_the_search_options(tmp_path: Path, cli: CliRunner) -> None:
    data = tmp_path / "data"
    _store(data)
    d = ("--data-dir", str(data), "--json")
    shown = cli(*d, "search", TOKEN, "--app", "Slack", "--k", "100")
    assert shown.code == 0 and {h["app"] for h in shown.doc["hits"]} == {"Slack"}
    preview = cli(*d, "erase", "--query", TOKEN, "--app", "Slack", "--k", "100")
    assert preview.code == 0 and preview.doc["preview"]["by_app"] == {"Slack": 15}
    assert _same_as_shown(preview.doc["preview"]["ids"], shown.doc["hits"])
    done = cli(*d, "erase", "--query", TOKEN, "--app", "Slack", "--k", "100", "--yes")
    assert done.doc["receipt"]["memories"] == 15
    terminal = cli(*d, "search", TOKEN, "--app", "Terminal", "--k", "100")
    assert sum(h["count"] for h in terminal.doc["hits"]) == 15

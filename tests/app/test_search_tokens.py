"""Whole tokens (core.search Searcher._whole_tokens): a query word joined of parts by
punctuation ("CANARY-7f3a9q") ranks the memories that hold it whole above those holding only
one of its parts, with the fake embedder and with the real MiniLM (whose meaning list put notes
holding "canary" alone among the token's memories before)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from app.services import Services
from core.keys import TEST_KDF
from core.search import _COMPOUND, _is_id
from tests.fakes import FakeEmbedder
from tests.storehelp import CANARY_TOKEN, PASSPHRASE, canary_memories

TOKEN = CANARY_TOKEN


def _store(data: Path, embedder: object) -> Services:
    s = Services(data, embedder=embedder)  # type: ignore[arg-type]
    s.create(PASSPHRASE, kdf=TEST_KDF)
    assert s.memory is not None and s.memory.wait_ready(120)
    s.memory.add(canary_memories())
    return s


def _holds(s: Services, query: str) -> list[bool]:
    assert s.memory is not None
    return ["7f3a9q" in h.snippet.lower() for h in s.memory.search(query, None, 40).hits]


def _ranked_whole_first(holds: list[bool]) -> bool:
    return holds.count(True) > 0 and holds == sorted(holds, reverse=True)


def test_compound_tokens_are_found_in_the_query() -> None:
    assert _COMPOUND.findall(f"search {TOKEN} now") == [TOKEN]
    assert _COMPOUND.findall("v2.1.3 and a@b.com") == ["v2.1.3", "a@b.com"]
    assert _COMPOUND.findall("Caroline's dog. The end.") == []
    # Hyphenated words are words, not identifiers.
    assert [_is_id(t) for t in (TOKEN, "v2.1.3", "a@b.com", "self-care")] == [1, 1, 1, 0]


def test_whole_token_ranks_above_a_note_holding_one_part(tmp_path: Path) -> None:
    s = _store(tmp_path / "data", FakeEmbedder())
    try:
        holds = _holds(s, TOKEN)
        assert _ranked_whole_first(holds), holds
        assert holds.count(False) > 0  # the notes are still found, after the token's memories
        # Without the rule the fusion puts a note among the token's memories (the fix is
        # what orders them).
        assert s.memory is not None
        searcher = s.memory.searcher
        searcher.fusion = replace(searcher.fusion, whole_tokens=False)
        assert not _ranked_whole_first(_holds(s, TOKEN))
    finally:
        s.close()


def test_parts_typed_apart_are_not_a_whole_token(tmp_path: Path) -> None:
    s = _store(tmp_path / "data", FakeEmbedder())
    try:
        assert s.memory is not None
        searcher = s.memory.searcher
        on = [h.id for h in s.memory.search("canary 7f3a9q", None, 40).hits]
        searcher.fusion = replace(searcher.fusion, whole_tokens=False)
        off = [h.id for h in s.memory.search("canary 7f3a9q", None, 40).hits]
        assert on == off
    finally:
        s.close()


@pytest.mark.slow
def test_whole_token_first_with_the_real_embedder(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from models.embedder import MiniLMEmbedder

    s = _store(tmp_path / "data", MiniLMEmbedder())
    try:
        holds = _holds(s, TOKEN)
        assert _ranked_whole_first(holds), holds
        assert s.memory is not None
        searcher = s.memory.searcher
        searcher.fusion = replace(searcher.fusion, whole_tokens=False)
        assert not _ranked_whole_first(_holds(s, TOKEN))  # as measured before the fix
    finally:
        s.close()

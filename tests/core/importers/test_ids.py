"""Idempotence: parsing the same file twice yields identical messages and ids, unique per file,
and the NewMemory mapping carries the provenance."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.importers import parse
from tests.core.importers.helpers import FIXTURES, parse_all

SAMPLES = [
    "chatgpt/conversations.json",
    "claude/conversations.json",
    "whatsapp/WhatsApp Chat with Ana María.txt",
    "whatsapp/_chat.txt",
    "whatsapp/chat_dayfirst_24h.txt",
    "telegram/result.json",
    "telegram/full_export.json",
    "jsonl/chat.jsonl",
    "notes",
]


@pytest.mark.parametrize("sample", SAMPLES)
def test_parsing_twice_gives_identical_ids(sample: str) -> None:
    first, _ = parse_all(FIXTURES / sample, tz="UTC")
    second, _ = parse_all(FIXTURES / sample, tz="UTC")
    assert first, "sample has messages"
    assert [m.external_id for m in first] == [m.external_id for m in second]
    assert first == second
    ids = [m.external_id for m in first]
    assert len(set(ids)) == len(ids)
    assert all(m.text.strip() == m.text and m.text for m in first)


def test_new_memory_carries_provenance() -> None:
    parsed = parse(FIXTURES / "telegram" / "result.json", tz="UTC")
    msg = next(parsed.messages)
    mem = parsed.as_new_memory(msg)
    assert mem.kind == "import:telegram"
    assert (mem.author, mem.conversation, mem.external_id) == ("Ирина 🌸", "Ирина 🌸", "4242:2")
    assert mem.file == "result.json"
    assert mem.time == msg.time and mem.text == msg.text
    report = parsed.report()
    assert report["messages"] == 1 and report["format"] == "telegram"


def test_stable_hash_depends_on_conversation(tmp_path: Path) -> None:
    line = "12/31/23, 9:41 PM - Ann: hello\n"
    a = tmp_path / "WhatsApp Chat with A.txt"
    b = tmp_path / "WhatsApp Chat with B.txt"
    a.write_text(line, encoding="utf-8")
    b.write_text(line, encoding="utf-8")
    assert parse_all(a, tz="UTC")[0][0].external_id != parse_all(b, tz="UTC")[0][0].external_id


def test_close_stops_parsing_and_releases_the_file() -> None:
    with parse(FIXTURES / "chatgpt" / "conversations.json") as parsed:
        first = next(iter(parsed))
        assert first.external_id == "n1"
    assert list(parsed.messages) == []  # closed: nothing more comes
    assert parsed.count == 1

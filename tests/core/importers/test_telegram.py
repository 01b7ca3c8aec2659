"""Telegram Desktop export: entity arrays, service, forwarded and reply messages, full exports."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.importers import ImportFileError, parse
from tests.core.importers.helpers import FIXTURES, parse_all

T = FIXTURES / "telegram"


def test_single_chat_messages() -> None:
    msgs, parsed = parse_all(T / "result.json", tz="UTC")
    assert parsed.format == "telegram"
    assert [m.external_id for m in msgs] == ["4242:2", "4242:3", "4242:4", "4242:5", "4242:7"]
    assert {m.conversation for m in msgs} == {"Ирина 🌸"}
    assert [m.author for m in msgs] == ["Ирина 🌸", "Me", "Me", "Ирина 🌸", "Me"]


def test_text_from_entity_arrays_and_text_entities() -> None:
    msgs = {m.external_id: m for m in parse_all(T / "result.json", tz="UTC")[0]}
    assert msgs["4242:3"].text == "Look at this link: https://example.org"
    assert msgs["4242:7"].text == "only in entities"


def test_replies_and_forwards_keep_their_context() -> None:
    msgs = {m.external_id: m for m in parse_all(T / "result.json", tz="UTC")[0]}
    assert msgs["4242:4"].text == "(in reply to Ирина 🌸: “Привет! Как дела?”)\nХорошо, спасибо"
    assert msgs["4242:5"].text == "(forwarded from News Channel)\nBreaking: cats 🐈"
    assert msgs["4242:5"].author == "Ирина 🌸"


def test_unixtime_is_preferred_and_date_is_local_in_the_given_zone() -> None:
    msgs = {m.external_id: m for m in parse_all(T / "result.json", tz="Asia/Tokyo")[0]}
    assert msgs["4242:2"].time == 1707555660.0
    # Message 7 only has "date" 2024-02-10T09:10:00, local time of the exporting machine.
    assert msgs["4242:7"].time == datetime(2024, 2, 10, 0, 10, tzinfo=UTC).timestamp()


def test_service_media_and_junk_items() -> None:
    _, parsed = parse_all(T / "result.json", tz="UTC")
    assert parsed.skipped == {"service message": 1, "media without text": 1}
    assert [(r.where, r.reason) for r in parsed.rejected] == [
        ('chat "Ирина 🌸" (item 8)', "not a message object")
    ]


def test_full_export_with_chats_list_and_left_chats() -> None:
    msgs, parsed = parse_all(T / "full_export.json")
    assert [(m.external_id, m.conversation, m.text) for m in msgs] == [
        ("111:10", "Project team", "Standup at 10"),
        ("222:1", "Saved Messages", "note to self"),
        ("333:5", "Old group", "bye"),
    ]
    assert parsed.skipped == {"service message": 1}


def test_truncated_export_fails_naming_the_file() -> None:
    parsed = parse(FIXTURES / "malformed" / "truncated_telegram.json")
    with pytest.raises(ImportFileError, match=r"^truncated_telegram\.json ends in the middle"):
        list(parsed.messages)

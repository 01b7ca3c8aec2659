"""Claude export: content blocks, plain text fallback, senders, ISO times with zones."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.core.importers.helpers import FIXTURES, parse_all

EXPORT = FIXTURES / "claude" / "conversations.json"


def ts(s: str) -> float:
    return datetime.fromisoformat(s).astimezone(UTC).timestamp()


def test_messages_authors_and_titles() -> None:
    msgs, parsed = parse_all(EXPORT)
    assert parsed.format == "claude"
    assert [m.external_id for m in msgs] == ["m-1", "m-2", "m-5", "m-6"]
    assert [m.author for m in msgs] == ["user", "Claude", "user", "Claude"]
    assert [m.role for m in msgs] == ["user", "assistant", "user", "assistant"]
    assert msgs[0].conversation == "Résumé help ✍️"
    assert msgs[2].conversation == "Untitled conversation c-2"


def test_text_from_content_blocks_without_thinking() -> None:
    msgs = {m.external_id: m for m in parse_all(EXPORT)[0]}
    assert msgs["m-2"].text == "Sure — paste it here.\n\nI'll look at wording."
    assert "wants a review" not in msgs["m-2"].text
    assert msgs["m-5"].text == "שלום, מה שלומך?"


def test_times_are_utc_and_missing_times_fall_back() -> None:
    msgs = {m.external_id: m for m in parse_all(EXPORT)[0]}
    assert msgs["m-1"].time == ts("2024-03-01T10:00:05.123456+00:00")
    assert msgs["m-5"].time == ts("2024-03-02T08:30:00+00:00")  # written as 09:30+01:00
    assert msgs["m-6"].time == msgs["m-5"].time  # created_at null


def test_skips_and_rejections() -> None:
    _, parsed = parse_all(EXPORT)
    assert parsed.skipped == {"attachment without text": 1, "tool use": 1}
    assert [(r.where, r.reason) for r in parsed.rejected] == [
        ("item 3", "not a Claude conversation (no chat_messages)")
    ]

"""Grouping keys of near-identical memories."""

from __future__ import annotations

from core.memories import dedup_key


def test_dedup_key_ignores_digits_only_on_screens() -> None:
    assert dedup_key("Inbox (12) 10:41", "screen") == dedup_key("inbox (13)  10:42", "screen")
    assert dedup_key("Meet at 3 tomorrow", "chat") != dedup_key("Meet at 5 tomorrow", "chat")
    assert dedup_key("Thanks!", "import:whatsapp") == dedup_key("thanks!", "import:whatsapp")

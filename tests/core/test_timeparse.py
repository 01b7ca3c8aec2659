"""Time expressions in queries become [since, until) ranges, relative to a fixed clock."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from core.clock import FixedClock
from core.timeparse import parse_bound, parse_query

TZ = ZoneInfo("Europe/Paris")
# Wednesday 18 March 2026, 15:30 in Paris.
CLOCK = FixedClock(datetime(2026, 3, 18, 15, 30, tzinfo=TZ))


def local(*args: int) -> float:
    return datetime(*args, tzinfo=TZ).timestamp()


@pytest.mark.parametrize(
    ("query", "text", "since", "until"),
    [
        ("dentist today", "dentist", local(2026, 3, 18), local(2026, 3, 19)),
        ("what did I read yesterday", "what did I read", local(2026, 3, 17), local(2026, 3, 18)),
        ("notes from last week", "notes", local(2026, 3, 9), local(2026, 3, 16)),
        ("this week standup", "standup", local(2026, 3, 16), local(2026, 3, 23)),
        ("budget last month", "budget", local(2026, 2, 1), local(2026, 3, 1)),
        ("trip in March", "trip", local(2026, 3, 1), local(2026, 4, 1)),
        # The most recent April not in the future is last year's.
        ("trip in April", "trip", local(2025, 4, 1), local(2025, 5, 1)),
        ("meeting on Monday", "meeting", local(2026, 3, 16), local(2026, 3, 17)),
        ("report 2 days ago", "report", local(2026, 3, 16), local(2026, 3, 17)),
        (
            "errors in the last 3 hours",
            "errors",
            local(2026, 3, 18, 12, 30),
            local(2026, 3, 18, 15, 30),
        ),
        ("invoice 2026-03-14", "invoice", local(2026, 3, 14), local(2026, 3, 15)),
        ("since March 3 emails", "emails", local(2026, 3, 3), None),
        ("slides before Friday", "slides", None, local(2026, 3, 13)),
        ("March 3rd call", "call", local(2026, 3, 3), local(2026, 3, 4)),
        ("taxes in 2025", "taxes", local(2025, 1, 1), local(2026, 1, 1)),
        ("past week", "", local(2026, 3, 11, 15, 30), local(2026, 3, 18, 15, 30)),
        ("lunch on 14 March", "lunch", local(2026, 3, 14), local(2026, 3, 15)),
    ],
)
def test_expressions_become_ranges(
    query: str, text: str, since: float | None, until: float | None
) -> None:
    r = parse_query(query, CLOCK.now(), TZ)
    assert (r.text, r.since, r.until) == (text, since, until)


@pytest.mark.parametrize("query", ["may I ask", "march of the penguins", "monday blues", "2024x"])
def test_ordinary_words_are_not_dates(query: str) -> None:
    r = parse_query(query, CLOCK.now(), TZ)
    assert (r.text, r.since, r.until) == (query, None, None)


def test_two_expressions_narrow_together() -> None:
    r = parse_query("standup this week since Tuesday", CLOCK.now(), TZ)
    assert r.text == "standup"
    assert (r.since, r.until) == (local(2026, 3, 17), local(2026, 3, 23))


def test_bounds_for_cli_options() -> None:
    now = CLOCK.now()
    assert parse_bound("2026-03-14", now, TZ) == local(2026, 3, 14)
    assert parse_bound("2026-03-14", now, TZ, end=True) == local(2026, 3, 15)
    assert parse_bound("2026-03-14T09:30", now, TZ) == local(2026, 3, 14, 9, 30)
    assert parse_bound("yesterday", now, TZ) == local(2026, 3, 17)
    assert parse_bound("monday", now, TZ) == local(2026, 3, 16)
    assert parse_bound("last week", now, TZ, end=True) == local(2026, 3, 16)
    with pytest.raises(ValueError):
        parse_bound("whenever", now, TZ)


def test_days_cross_a_clock_change() -> None:
    # Paris moved to summer time on 29 March 2026: that day is 23 hours long.
    clock = FixedClock(datetime(2026, 3, 30, 12, 0, tzinfo=TZ))
    r = parse_query("yesterday", clock.now(), TZ)
    assert r.until is not None and r.since is not None
    assert r.until - r.since == 23 * 3600

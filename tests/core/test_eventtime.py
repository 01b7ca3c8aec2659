"""core.eventtime: time words in a memory resolved against the memory's own time."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.eventtime import DAY, MONTH, WEEK, YEAR, TimeMention, format_day, resolve


def one(text: str, at: date) -> TimeMention:
    found = resolve(text, at)
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize(
    ("text", "at", "start", "end", "precision", "label"),
    [
        (
            "I signed up for a pottery class yesterday!",
            date(2023, 7, 3),
            date(2023, 7, 2),
            date(2023, 7, 2),
            DAY,
            "2 July 2023",
        ),
        (
            "we talked last night",
            date(2023, 7, 3),
            date(2023, 7, 2),
            date(2023, 7, 2),
            DAY,
            "2 July 2023",
        ),
        (
            "I'll go tomorrow",
            date(2023, 7, 3),
            date(2023, 7, 4),
            date(2023, 7, 4),
            DAY,
            "4 July 2023",
        ),
        (
            "it was the day before yesterday",
            date(2023, 7, 3),
            date(2023, 7, 1),
            date(2023, 7, 1),
            DAY,
            "1 July 2023",
        ),
        (
            "I went to a support group last week",
            date(2023, 6, 9),
            date(2023, 5, 29),
            date(2023, 6, 4),
            WEEK,
            "the week before 9 June 2023",
        ),
        (
            "We ran a charity race last Sunday.",
            date(2023, 5, 25),
            date(2023, 5, 21),
            date(2023, 5, 21),
            DAY,
            "the Sunday before 25 May 2023",
        ),
        (
            "the adoption meeting last Friday",
            date(2023, 7, 15),
            date(2023, 7, 14),
            date(2023, 7, 14),
            DAY,
            "the Friday before 15 July 2023",
        ),
        (
            "I joined last weekend",
            date(2023, 7, 17),
            date(2023, 7, 15),
            date(2023, 7, 16),
            WEEK,
            "the weekend before 17 July 2023",
        ),
        (
            "Went camping two weekends ago",
            date(2023, 7, 17),
            date(2023, 7, 8),
            date(2023, 7, 9),
            WEEK,
            "two weekends before 17 July 2023",
        ),
        (
            "I moved two weeks ago",
            date(2023, 7, 12),
            date(2023, 6, 26),
            date(2023, 7, 2),
            WEEK,
            "two weeks before 12 July 2023",
        ),
        (
            "three days ago",
            date(2023, 7, 10),
            date(2023, 7, 7),
            date(2023, 7, 7),
            DAY,
            "7 July 2023",
        ),
        (
            "planning camping next month",
            date(2023, 5, 25),
            date(2023, 6, 1),
            date(2023, 6, 30),
            MONTH,
            "June 2023",
        ),
        (
            "last month was hard",
            date(2023, 1, 10),
            date(2022, 12, 1),
            date(2022, 12, 31),
            MONTH,
            "December 2022",
        ),
        (
            "I painted that in 2022",
            date(2023, 5, 8),
            date(2022, 1, 1),
            date(2022, 12, 31),
            YEAR,
            "2022",
        ),
        ("last year", date(2023, 5, 8), date(2022, 1, 1), date(2022, 12, 31), YEAR, "2022"),
        ("10 years ago", date(2023, 5, 8), date(2013, 1, 1), date(2013, 12, 31), YEAR, "2013"),
        (
            "the week before",
            date(2023, 6, 9),
            date(2023, 5, 29),
            date(2023, 6, 4),
            WEEK,
            "the week before 9 June 2023",
        ),
        (
            "this week",
            date(2023, 8, 23),
            date(2023, 8, 21),
            date(2023, 8, 27),
            WEEK,
            "the week of 23 August 2023",
        ),
        (
            "in two weeks",
            date(2023, 8, 23),
            date(2023, 9, 4),
            date(2023, 9, 10),
            WEEK,
            "the week of 4 September 2023",
        ),
        (
            "in March I went",
            date(2023, 7, 10),
            date(2023, 3, 1),
            date(2023, 3, 31),
            MONTH,
            "March 2023",
        ),
        ("since 2016", date(2023, 7, 10), date(2016, 1, 1), date(2016, 12, 31), YEAR, "2016"),
    ],
)
def test_relative_expressions_resolve_against_the_memory_time(
    text, at, start, end, precision, label
):
    m = one(text, at)
    assert (m.start, m.end, m.precision, m.label) == (start, end, precision, label)
    assert text[m.span_start : m.span_end] == m.text


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("On May 8, 2023 we met", date(2023, 5, 8)),
        ("met on 8 May 2023", date(2023, 5, 8)),
        ("the 8th of May, 2023", date(2023, 5, 8)),
        ("Due 2024-03-14", date(2024, 3, 14)),
        ("Sept 3rd", date(2023, 9, 3)),
    ],
)
def test_written_dates_are_absolute(text, day):
    m = one(text, date(2023, 7, 1))
    assert (m.start, m.end, m.precision, m.relative) == (day, day, DAY, False)


def test_a_date_without_year_takes_the_occurrence_nearest_the_memory():
    assert one("on December 30", date(2024, 1, 2)).start == date(2023, 12, 30)
    assert one("on January 3", date(2023, 12, 30)).start == date(2024, 1, 3)


def test_month_and_year_has_month_precision():
    m = one("back in June 2021", date(2023, 7, 1))
    assert (m.start, m.end, m.precision, m.label) == (
        date(2021, 6, 1),
        date(2021, 6, 30),
        MONTH,
        "June 2021",
    )


def test_anchored_relation_uses_the_written_date_not_the_memory_time():
    m = one("the week before 9 June 2023 I spoke", date(2023, 12, 1))
    assert (m.start, m.end, m.label) == (
        date(2023, 5, 29),
        date(2023, 6, 4),
        "the week before 9 June 2023",
    )
    assert m.text == "the week before 9 June 2023"


def test_words_that_only_look_like_times_are_not_mentions():
    assert resolve("you may 5 times try; I sat on the sun deck", date(2023, 7, 1)) == []
    assert resolve("I have 2000 stickers and 12 cats", date(2023, 7, 1)) == []
    assert resolve("", date(2023, 7, 1)) == []


def test_several_mentions_come_in_text_order_without_overlap():
    found = resolve("two weeks ago and 3 days ago, then last year", date(2023, 7, 10))
    assert [m.text for m in found] == ["two weeks ago", "3 days ago", "last year"]


def test_vague_amounts_are_marked_approximate():
    m = one("a few years ago", date(2023, 7, 10))
    assert m.approximate and m.precision == YEAR


def test_epoch_seconds_are_read_in_the_given_zone():
    at = datetime(2023, 7, 3, 0, 30, tzinfo=UTC).timestamp()
    assert resolve("yesterday", at, UTC)[0].start == date(2023, 7, 2)
    behind = timezone(timedelta(hours=-5))  # still 2 July there
    assert resolve("yesterday", at, behind)[0].start == date(2023, 7, 1)


def test_round_trip_through_dict():
    m = one("last Friday", date(2023, 7, 15))
    assert TimeMention.from_dict(m.to_dict()) == m


def test_format_day():
    assert format_day(date(2023, 7, 2)) == "2 July 2023"


@given(st.text(max_size=80), st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 1, 1)))
def test_any_text_gives_well_formed_mentions(text, at):
    last = -1
    for m in resolve(text, at):
        assert text[m.span_start : m.span_end] == m.text
        assert m.span_start >= last
        last = m.span_end
        assert m.start <= m.end


@pytest.mark.parametrize(
    ("text", "at", "start", "label"),
    [
        # Seen in locomo-dev (conv-43, sent 8 December 2023): the August of that year.
        ("Last August I told you about it", date(2023, 12, 8), date(2023, 8, 1), "August 2023"),
        # Said in August: the one a year before, not the month it is said in.
        ("last August we met", date(2023, 8, 20), date(2022, 8, 1), "August 2022"),
        ("last November we met", date(2023, 3, 2), date(2022, 11, 1), "November 2022"),
        ("this May I turn forty", date(2023, 1, 9), date(2023, 5, 1), "May 2023"),
        ("next March we go", date(2023, 3, 2), date(2024, 3, 1), "March 2024"),
        ("next October we go", date(2023, 3, 2), date(2023, 10, 1), "October 2023"),
    ],
)
def test_a_month_named_with_last_this_or_next(text, at, start, label):
    m = one(text, at)
    assert (m.start, m.precision, m.label, m.relative) == (start, MONTH, label, True)
    assert m.end.month == start.month and m.end.year == start.year


def test_last_may_that_is_a_word_or_a_date_is_not_a_month():
    assert resolve("this may help, last march was long", date(2023, 7, 1)) == []
    m = one("last May 5 we went", date(2023, 7, 1))
    assert (m.text, m.start, m.precision) == ("May 5", date(2023, 5, 5), DAY)


@pytest.mark.parametrize(
    ("text", "at", "start", "end", "precision", "label"),
    [
        # Seen in locomo-dev (conv-42, Friday 3 June 2022): the weekend of 11-12 June.
        (
            "I'm organizing a gaming party two weekends later - it'll be fun",
            date(2022, 6, 3),
            date(2022, 6, 11),
            date(2022, 6, 12),
            WEEK,
            "two weekends after 3 June 2022",
        ),
        # Said on a Saturday: the next weekend is a week on, not the one it is said in.
        (
            "a weekend later",
            date(2022, 6, 4),
            date(2022, 6, 11),
            date(2022, 6, 12),
            WEEK,
            "a weekend after 4 June 2022",
        ),
        (
            "three days later",
            date(2022, 6, 3),
            date(2022, 6, 6),
            date(2022, 6, 6),
            DAY,
            "6 June 2022",
        ),
        (
            "a week later",
            date(2022, 6, 3),
            date(2022, 6, 6),
            date(2022, 6, 12),
            WEEK,
            "a week after 3 June 2022",
        ),
        (
            "two months later",
            date(2022, 6, 3),
            date(2022, 8, 1),
            date(2022, 8, 31),
            MONTH,
            "August 2022",
        ),
    ],
)
def test_an_amount_later_counts_forward_from_the_memory_time(
    text, at, start, end, precision, label
):
    m = one(text, at)
    assert (m.start, m.end, m.precision, m.label, m.relative) == (
        start,
        end,
        precision,
        label,
        True,
    )
    assert not m.approximate
    assert one("a few weeks later", at).approximate

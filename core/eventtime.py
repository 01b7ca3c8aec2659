"""Time expressions inside a memory's text, resolved against the memory's own time.

A chat message sent on 3 July 2023 that says "I signed up for a pottery class yesterday" tells of
an event on 2 July 2023, not 3 July. `resolve(text, at)` finds the mentions of time in `text`
("yesterday", "last Friday", "two weeks ago", "next month", "in 2022", "the week before",
"8 May 2023", "May 2023" ...) and returns each with its character span, the first and last day it
can mean, and the precision the words support (day, week, month or year). `label` says the same
in words a person would write, keeping the precision of the evidence: "2 July 2023",
"the Friday before 15 July 2023", "the week before 9 June 2023", "June 2023", "2022".

Pure: no clock, no locale, no I/O. Weeks start on Monday; a weekend is Saturday and Sunday.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, tzinfo

from core.timeparse import MONTHS, NUMBER_WORDS, WEEKDAYS

# Bumped when the rules change what a text resolves to. RULES_PHRASES: the phrases one of the
# changed rules needs (core.units builds the event times of the memories holding one again,
# not of every memory). 2: "last/this/next <month>", "<n> <unit>s later".
RULES_VERSION = 2
RULES_PHRASES = tuple(
    [
        f"{which} {month}"
        for which in ("last", "this", "next", "past", "previous", "coming")
        for month in sorted(MONTHS)
    ]
    + [
        f"{unit}{s} later"
        for unit in ("day", "week", "weekend", "month", "year")
        for s in ("", "s")
    ]
)

DAY = "day"
WEEK = "week"
MONTH = "month"
YEAR = "year"
PRECISIONS = (DAY, WEEK, MONTH, YEAR)

_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_NUMBERS = {**NUMBER_WORDS, "couple": 2, "a couple": 2, "a couple of": 2, "few": 3, "a few": 3}
_NUMBERS |= {"eleven": 11, "fifteen": 15, "twenty": 20, "thirty": 30}


@dataclass(frozen=True, slots=True)
class TimeMention:
    """One time expression in a text: `text[span_start:span_end]` means the days start..end
    (both inclusive) at `precision`. `relative` is True when it was resolved against the
    memory's time rather than written out as a date; `approximate` when the words are vague
    ("a few weeks ago")."""

    span_start: int
    span_end: int
    text: str
    start: date
    end: date
    precision: str
    label: str
    relative: bool
    approximate: bool = False

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["start"] = self.start.isoformat()
        d["end"] = self.end.isoformat()
        return d

    @staticmethod
    def from_dict(d: dict[str, object]) -> TimeMention:
        return TimeMention(
            span_start=int(str(d["span_start"])),
            span_end=int(str(d["span_end"])),
            text=str(d["text"]),
            start=date.fromisoformat(str(d["start"])),
            end=date.fromisoformat(str(d["end"])),
            precision=str(d["precision"]),
            label=str(d["label"]),
            relative=bool(d["relative"]),
            approximate=bool(d.get("approximate", False)),
        )


def format_day(d: date) -> str:
    """'2 July 2023' — the day as written in answers."""
    return f"{d.day} {_MONTH_NAMES[d.month - 1]} {d.year}"


def format_month(year: int, month: int) -> str:
    return f"{_MONTH_NAMES[month - 1]} {year}"


def _month_range(year: int, month: int) -> tuple[date, date]:
    start = date(year, month, 1)
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return start, nxt - timedelta(days=1)


def _add_months(year: int, month: int, n: int) -> tuple[int, int]:
    k = year * 12 + (month - 1) + n
    return k // 12, k % 12 + 1


def _monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


def _num(s: str) -> int:
    s = " ".join(s.lower().split())
    return _NUMBERS[s] if s in _NUMBERS else int(s)


_MONTH_RE = "|".join(sorted(MONTHS, key=len, reverse=True))
_WEEKDAY_RE = "|".join(sorted(WEEKDAYS, key=len, reverse=True))
_NUM_WORDS = "|".join(sorted((re.escape(k) for k in _NUMBERS), key=len, reverse=True))
_N = rf"(?P<n>\d{{1,3}}|{_NUM_WORDS})"
_ORD = r"(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"
_B = r"(?<![\w-])"  # word start
_E = r"(?![\w-])"  # word end

Maker = Callable[[re.Match[str], date], "tuple[date, date, str, str, bool, bool] | None"]


class _Rules:
    """(pattern, maker) pairs; a maker turns a match and the anchor day into
    (start, end, precision, label, relative, approximate) or None to reject the match."""

    def __init__(self) -> None:
        self.rules: list[tuple[re.Pattern[str], Maker]] = []
        add = self._add
        # Written-out dates first: "8 May 2023", "8th of May, 2023", "May 8, 2023", "2023-05-08".
        add(
            rf"{_B}(?P<day>\d{{1,2}}){_ORD}\s+(?:of\s+)?(?P<month>{_MONTH_RE})\.?,?(?:\s+{_YEAR})?{_E}",
            self._dmy,
        )
        add(
            rf"{_B}(?P<month>{_MONTH_RE})\.?\s+(?P<day>\d{{1,2}}){_ORD}(?:,?\s+{_YEAR})?{_E}",
            self._dmy,
        )
        add(rf"{_B}(?P<year>(?:19|20)\d\d)-(?P<m>\d\d)-(?P<d>\d\d){_E}", self._iso)
        add(rf"{_B}(?P<month>{_MONTH_RE})\.?,?\s+{_YEAR}{_E}", self._month_year)
        # "the week before 9 June 2023" / "the Friday before 15 July" (anchored on a date).
        add(
            rf"{_B}(?:the\s+)?(?P<unit>week|weekend|month|year|day|{_WEEKDAY_RE})\s+"
            rf"(?P<dir>before|after|of)\s+(?P<date>\d{{1,2}}{_ORD}\s+(?:of\s+)?(?:{_MONTH_RE})\.?"
            rf"(?:,?\s+(?:19|20)\d\d)?|(?:{_MONTH_RE})\.?\s+\d{{1,2}}{_ORD}(?:,?\s+(?:19|20)\d\d)?"
            rf"|(?:19|20)\d\d-\d\d-\d\d|yesterday|today|tomorrow){_E}",
            self._anchored,
        )
        add(rf"{_B}(?:the\s+)?day\s+before\s+yesterday{_E}", self._shift_days(-2))
        add(rf"{_B}(?:the\s+)?day\s+after\s+tomorrow{_E}", self._shift_days(2))
        add(rf"{_B}(?:yesterday|last\s+night){_E}", self._shift_days(-1))
        add(rf"{_B}tomorrow{_E}", self._shift_days(1))
        add(
            rf"{_B}(?:today|tonight|this\s+(?:morning|afternoon|evening)|earlier\s+today){_E}",
            self._shift_days(0),
        )
        # "two weeks ago", "a few days ago", "3 years back", "in two weeks".
        add(
            rf"{_B}{_N}(?:\s+of)?\s+(?P<unit>day|week|weekend|month|year)s?\s+(?:ago|back|earlier){_E}",
            self._ago,
        )
        add(rf"{_B}in\s+{_N}(?:\s+of)?\s+(?P<unit>day|week|month|year)s?{_E}", self._in_n)
        # "two weekends later", "a week later": counted forward from the memory's time.
        add(
            rf"{_B}{_N}(?:\s+of)?\s+(?P<unit>day|week|weekend|month|year)s?\s+later{_E}",
            self._later,
        )
        # "last August", "this May", "next March": a month named with its direction.
        add(
            rf"{_B}(?P<which>last|this|next|past|previous|coming)\s+(?P<month>{_MONTH_RE}){_E}"
            rf"(?!\s+\d)",
            self._which_month,
        )
        add(
            rf"{_B}(?P<which>last|this|next|past|previous|coming)\s+(?P<unit>week|weekend|month|year|summer|winter|spring|fall|autumn){_E}",
            self._this_unit,
        )
        add(
            rf"{_B}(?P<which>earlier|later)\s+this\s+(?P<unit>week|month|year){_E}",
            self._this_unit,
        )
        add(
            rf"{_B}(?:the\s+)?(?P<unit>week|weekend|month|year)\s+before{_E}",
            self._before_unit,
        )
        add(
            rf"{_B}(?P<which>last|this|next|past|coming)\s+(?P<wd>{_WEEKDAY_RE}){_E}", self._weekday
        )
        add(
            rf"{_B}(?:on\s+)?(?P<wd>{_WEEKDAY_RE})(?:\s+(?:night|morning|evening))?{_E}",
            self._weekday,
        )
        add(
            rf"{_B}(?P<prep>in|since|during|from|until|by|of|early|late|mid|end\s+of|back\s+in)[\s-]+"
            rf"(?P<month>{_MONTH_RE}){_E}(?!\s+\d)",
            self._bare_month,
        )
        add(
            rf"{_B}(?P<prep>in|since|during|from|until|by|of|back\s+in|year)\s+{_YEAR}{_E}",
            self._bare_year,
        )

    def _add(self, pattern: str, maker: Maker) -> None:
        self.rules.append((re.compile(pattern, re.IGNORECASE), maker))

    # --- makers -----------------------------------------------------------------------------

    @staticmethod
    def _dmy(m: re.Match[str], anchor: date) -> tuple[date, date, str, str, bool, bool] | None:
        month_word = m.group("month")
        if month_word.lower() == "may" and month_word[0] != "M" and not m.group("year"):
            return None  # "may 5" is likelier a modal than a date without a year or capital
        month = MONTHS[month_word.lower().rstrip(".")]
        day = int(m.group("day"))
        year_s = m.group("year")
        try:
            if year_s:
                d = date(int(year_s), month, day)
            else:
                # The occurrence of that day nearest to the memory's time.
                candidates = []
                for y in (anchor.year - 1, anchor.year, anchor.year + 1):
                    try:
                        candidates.append(date(y, month, day))
                    except ValueError:
                        continue
                if not candidates:
                    return None
                d = min(candidates, key=lambda c: abs((c - anchor).days))
        except ValueError:
            return None
        return d, d, DAY, format_day(d), False, False

    @staticmethod
    def _iso(m: re.Match[str], anchor: date) -> tuple[date, date, str, str, bool, bool] | None:
        try:
            d = date(int(m.group("year")), int(m.group("m")), int(m.group("d")))
        except ValueError:
            return None
        return d, d, DAY, format_day(d), False, False

    @staticmethod
    def _month_year(
        m: re.Match[str], anchor: date
    ) -> tuple[date, date, str, str, bool, bool] | None:
        month_word = m.group("month")
        if month_word.lower() == "may" and month_word[0] != "M":
            return None
        month = MONTHS[month_word.lower().rstrip(".")]
        year = int(m.group("year"))
        s, e = _month_range(year, month)
        return s, e, MONTH, format_month(year, month), False, False

    def _anchored(
        self, m: re.Match[str], anchor: date
    ) -> tuple[date, date, str, str, bool, bool] | None:
        inner = resolve(m.group("date"), anchor)
        if not inner or inner[0].span_start != 0 or inner[0].precision != DAY:
            return None
        ref = inner[0].start
        unit = m.group("unit").lower()
        direction = m.group("dir").lower()
        got = _relative_unit(unit, direction, ref)
        if got is None:
            return None
        s, e, prec = got
        return s, e, prec, _relation_label(unit, direction, ref), inner[0].relative, False

    @staticmethod
    def _shift_days(n: int) -> Maker:
        def make(m: re.Match[str], anchor: date) -> tuple[date, date, str, str, bool, bool]:
            d = anchor + timedelta(days=n)
            return d, d, DAY, format_day(d), True, False

        return make

    @staticmethod
    def _ago(m: re.Match[str], anchor: date) -> tuple[date, date, str, str, bool, bool] | None:
        raw = m.group("n")
        n = _num(raw)
        vague = raw.lower().strip() in ("few", "a few", "couple", "a couple", "a couple of")
        unit = m.group("unit").lower()
        words = f"{raw.lower()} {unit}{'s' if n != 1 else ''}"
        if unit == "day":
            d = anchor - timedelta(days=n)
            if vague:
                return (
                    d - timedelta(days=2),
                    d + timedelta(days=1),
                    WEEK,
                    f"{words} before {format_day(anchor)}",
                    True,
                    True,
                )
            return d, d, DAY, format_day(d), True, False
        if unit in ("week", "weekend"):
            if unit == "weekend":
                sat = _last_weekend(anchor) - timedelta(days=7 * (n - 1))
                return (
                    sat,
                    sat + timedelta(days=1),
                    WEEK,
                    f"{words} before {format_day(anchor)}",
                    True,
                    vague,
                )
            mon = _monday(anchor) - timedelta(days=7 * n)
            return (
                mon,
                mon + timedelta(days=6),
                WEEK,
                f"{words} before {format_day(anchor)}",
                True,
                vague,
            )
        if unit == "month":
            y, mo = _add_months(anchor.year, anchor.month, -n)
            s, e = _month_range(y, mo)
            if vague:
                return s, e, MONTH, f"{words} before {format_day(anchor)}", True, True
            return s, e, MONTH, format_month(y, mo), True, False
        year = anchor.year - n
        if vague:
            return (
                date(year, 1, 1),
                date(year, 12, 31),
                YEAR,
                f"{words} before {anchor.year}",
                True,
                True,
            )
        return date(year, 1, 1), date(year, 12, 31), YEAR, str(year), True, False

    @staticmethod
    def _in_n(m: re.Match[str], anchor: date) -> tuple[date, date, str, str, bool, bool] | None:
        raw = m.group("n")
        n = _num(raw)
        vague = raw.lower().strip() in ("few", "a few", "couple", "a couple", "a couple of")
        unit = m.group("unit").lower()
        if unit == "day":
            d = anchor + timedelta(days=n)
            return d, d, DAY, format_day(d), True, vague
        if unit == "week":
            mon = _monday(anchor) + timedelta(days=7 * n)
            return mon, mon + timedelta(days=6), WEEK, f"the week of {format_day(mon)}", True, vague
        if unit == "month":
            y, mo = _add_months(anchor.year, anchor.month, n)
            s, e = _month_range(y, mo)
            return s, e, MONTH, format_month(y, mo), True, vague
        year = anchor.year + n
        return date(year, 1, 1), date(year, 12, 31), YEAR, str(year), True, vague

    @staticmethod
    def _later(m: re.Match[str], anchor: date) -> tuple[date, date, str, str, bool, bool] | None:
        raw = m.group("n")
        n = _num(raw)
        if n < 1:
            return None
        vague = raw.lower().strip() in ("few", "a few", "couple", "a couple", "a couple of")
        unit = m.group("unit").lower()
        words = f"{raw.lower()} {unit}{'s' if n != 1 else ''}"
        if unit == "weekend":
            # The n-th weekend after the memory's day (a Saturday's next one is a week on).
            sat = anchor + timedelta(days=(5 - anchor.weekday()) % 7 or 7) + timedelta(7 * (n - 1))
            label = f"{words} after {format_day(anchor)}"
            return sat, sat + timedelta(days=1), WEEK, label, True, vague
        got = _Rules._in_n(m, anchor)
        if got is None or unit != "week":
            return got
        s, e, prec, _label, rel, approx = got
        return s, e, prec, f"{words} after {format_day(anchor)}", rel, approx

    @staticmethod
    def _which_month(
        m: re.Match[str], anchor: date
    ) -> tuple[date, date, str, str, bool, bool] | None:
        word = m.group("month")
        if word[0].islower() and (word.lower() in ("may", "march") or len(word) <= 3):
            return None  # "this may help", "the last march": words, not months
        month = MONTHS[word.lower().rstrip(".")]
        which = m.group("which").lower()
        if which == "this":
            year = anchor.year
        elif which in ("last", "past", "previous"):
            # The latest such month that ended before the memory's month began.
            year = anchor.year if month < anchor.month else anchor.year - 1
        else:
            year = anchor.year if month > anchor.month else anchor.year + 1
        s, e = _month_range(year, month)
        return s, e, MONTH, format_month(year, month), True, False

    @staticmethod
    def _this_unit(
        m: re.Match[str], anchor: date
    ) -> tuple[date, date, str, str, bool, bool] | None:
        which = m.group("which").lower()
        unit = m.group("unit").lower()
        step = {"last": -1, "past": -1, "previous": -1, "this": 0, "earlier": 0, "later": 0}.get(
            which, 1
        )
        if unit in ("summer", "winter", "spring", "fall", "autumn"):
            return _season(unit, step, anchor)
        if step == 0:
            got = _relative_unit(unit, "of", anchor)
            assert got is not None
            s, e, prec = got
            if unit == "year":
                label = str(anchor.year)
            elif unit == "month":
                label = format_month(anchor.year, anchor.month)
            else:
                label = f"the {unit} of {format_day(anchor)}"
            return s, e, prec, label, True, False
        direction = "before" if step < 0 else "after"
        got = _relative_unit(unit, direction, anchor)
        assert got is not None
        s, e, prec = got
        return s, e, prec, _relation_label(unit, direction, anchor), True, False

    @staticmethod
    def _before_unit(
        m: re.Match[str], anchor: date
    ) -> tuple[date, date, str, str, bool, bool] | None:
        unit = m.group("unit").lower()
        got = _relative_unit(unit, "before", anchor)
        assert got is not None
        s, e, prec = got
        return s, e, prec, _relation_label(unit, "before", anchor), True, False

    @staticmethod
    def _weekday(m: re.Match[str], anchor: date) -> tuple[date, date, str, str, bool, bool] | None:
        word = m.group("wd")
        if len(word) <= 3 and word[0].islower():
            return None  # "sat", "sun", "wed" in lower case are words, not days
        wd = WEEKDAYS[word.lower()]
        which = (m.groupdict().get("which") or "").lower()
        if which in ("next", "coming"):
            d = anchor + timedelta(days=(wd - anchor.weekday()) % 7 or 7)
            return (
                d,
                d,
                DAY,
                _relation_label(_WEEKDAY_NAMES[wd].lower(), "after", anchor),
                True,
                False,
            )
        if which == "this":
            d = _monday(anchor) + timedelta(days=wd)
            return d, d, DAY, format_day(d), True, False
        # "last Friday", "on Friday", "Friday": the latest such day before the memory's day.
        d = anchor - timedelta(days=(anchor.weekday() - wd) % 7 or 7)
        return d, d, DAY, _relation_label(_WEEKDAY_NAMES[wd].lower(), "before", anchor), True, False

    @staticmethod
    def _bare_month(
        m: re.Match[str], anchor: date
    ) -> tuple[date, date, str, str, bool, bool] | None:
        word = m.group("month")
        if word[0].islower() and (
            word.lower() in ("may", "mar", "jun", "jan", "dec", "sat") or len(word) <= 3
        ):
            return None
        month = MONTHS[word.lower().rstrip(".")]
        # The occurrence of that month nearest the memory's time (ties go to the past).
        best: tuple[int, int] | None = None
        for y in (anchor.year - 1, anchor.year, anchor.year + 1):
            dist = abs((y * 12 + month) - (anchor.year * 12 + anchor.month))
            if best is None or dist < best[0]:
                best = (dist, y)
        assert best is not None
        s, e = _month_range(best[1], month)
        return s, e, MONTH, format_month(best[1], month), True, False

    @staticmethod
    def _bare_year(
        m: re.Match[str], anchor: date
    ) -> tuple[date, date, str, str, bool, bool] | None:
        year = int(m.group("year"))
        return date(year, 1, 1), date(year, 12, 31), YEAR, str(year), False, False


def _last_weekend(anchor: date) -> date:
    """Saturday of the latest weekend that ended before `anchor`'s day."""
    # Sunday strictly before anchor, then its Saturday.
    sunday = anchor - timedelta(days=(anchor.weekday() - 6) % 7 or 7)
    return sunday - timedelta(days=1)


def _relative_unit(unit: str, direction: str, ref: date) -> tuple[date, date, str] | None:
    """The `unit` before / after / of the day `ref` (unit: day, week, weekend, month, year, or
    a weekday name)."""
    if unit in WEEKDAYS:
        wd = WEEKDAYS[unit]
        if direction == "before":
            d = ref - timedelta(days=(ref.weekday() - wd) % 7 or 7)
        elif direction == "after":
            d = ref + timedelta(days=(wd - ref.weekday()) % 7 or 7)
        else:
            d = _monday(ref) + timedelta(days=wd)
        return d, d, DAY
    step = {"before": -1, "after": 1, "of": 0}[direction]
    if unit == "day":
        d = ref + timedelta(days=step)
        return d, d, DAY
    if unit == "week":
        mon = _monday(ref) + timedelta(days=7 * step)
        return mon, mon + timedelta(days=6), WEEK
    if unit == "weekend":
        if step < 0:
            sat = _last_weekend(ref)
        elif step > 0:
            sat = ref + timedelta(days=(5 - ref.weekday()) % 7 or 7)
        else:
            sat = _monday(ref) + timedelta(days=5)
        return sat, sat + timedelta(days=1), WEEK
    if unit == "month":
        y, mo = _add_months(ref.year, ref.month, step)
        s, e = _month_range(y, mo)
        return s, e, MONTH
    if unit == "year":
        y = ref.year + step
        return date(y, 1, 1), date(y, 12, 31), YEAR
    return None


def _relation_label(unit: str, direction: str, ref: date) -> str:
    if unit == "day":
        got = _relative_unit(unit, direction, ref)
        assert got is not None
        return format_day(got[0])
    if unit == "month":
        y, mo = _add_months(ref.year, ref.month, -1 if direction == "before" else 1)
        return format_month(y, mo) if direction != "of" else format_month(ref.year, ref.month)
    if unit == "year":
        return str(ref.year + {"before": -1, "after": 1}.get(direction, 0))
    name = _WEEKDAY_NAMES[WEEKDAYS[unit]] if unit in WEEKDAYS else unit
    return f"the {name} {direction} {format_day(ref)}"


_SEASONS = {
    "spring": (3, 5),
    "summer": (6, 8),
    "fall": (9, 11),
    "autumn": (9, 11),
    "winter": (12, 2),
}


def _season(unit: str, step: int, anchor: date) -> tuple[date, date, str, str, bool, bool]:
    first, last = _SEASONS[unit]
    # The season's occurrence that contains or last started before the anchor, then stepped.
    year = (
        anchor.year
        if anchor.month >= first or (first == 12 and anchor.month <= last)
        else anchor.year - 1
    )
    if first == 12 and anchor.month <= last:
        year = anchor.year - 1
    if step < 0 and date(year, first, 1) <= anchor:
        in_it = anchor <= _season_end(year, first, last)
        year -= 1 if in_it else 0
    elif step > 0:
        year += 1 if date(year, first, 1) <= anchor else 0
    start = date(year, first, 1)
    end = _season_end(year, first, last)
    name = "autumn" if unit == "fall" else unit
    return (
        start,
        end,
        MONTH,
        f"{name} {year}" if first != 12 else f"winter {year}/{year + 1}",
        True,
        False,
    )


def _season_end(year: int, first: int, last: int) -> date:
    end_year = year + (last < first)
    return _month_range(end_year, last)[1]


_RULES: _Rules | None = None


def _anchor_day(at: float | datetime | date, tz: tzinfo | None) -> date:
    if isinstance(at, datetime):
        return at.astimezone(tz).date() if (tz is not None and at.tzinfo is not None) else at.date()
    if isinstance(at, date):
        return at
    return datetime.fromtimestamp(at, tz).date()


def resolve(text: str, at: float | datetime | date, tz: tzinfo | None = None) -> list[TimeMention]:
    """Every time expression in `text`, resolved against `at` (the memory's own time: epoch
    seconds in `tz` — local time when None — or a datetime/date). Mentions do not overlap and
    come in text order; at each place the longest expression wins."""
    global _RULES
    if _RULES is None:
        _RULES = _Rules()
    anchor = _anchor_day(at, tz)
    found: list[tuple[int, int, int, TimeMention]] = []
    for order, (pattern, maker) in enumerate(_RULES.rules):
        for m in pattern.finditer(text):
            got = maker(m, anchor)
            if got is None:
                continue
            start, end, precision, label, relative, approximate = got
            mention = TimeMention(
                span_start=m.start(),
                span_end=m.end(),
                text=m.group(0),
                start=start,
                end=end,
                precision=precision,
                label=label,
                relative=relative,
                approximate=approximate,
            )
            found.append((m.start(), -(m.end() - m.start()), order, mention))
    found.sort(key=lambda t: (t[0], t[1], t[2]))
    out: list[TimeMention] = []
    last_end = -1
    for _s, _neg, _o, mention in found:
        if mention.span_start >= last_end:
            out.append(mention)
            last_end = mention.span_end
    return out

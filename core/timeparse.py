"""Time expressions in a search query ("yesterday", "last week", "in March", "on Monday",
"2 days ago", "since March 3", "before 2026-03-14"...) turned into a [since, until) filter,
in the user's local time zone, relative to a Clock's now. What is not a time expression is left
as the query text."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

MONTHS = {
    name: i + 1
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ]
    )
    for name in names
}
WEEKDAYS = {
    name: i
    for i, names in enumerate(
        [
            ("monday", "mon"),
            ("tuesday", "tue", "tues"),
            ("wednesday", "wed"),
            ("thursday", "thu", "thurs"),
            ("friday", "fri"),
            ("saturday", "sat"),
            ("sunday", "sun"),
        ]
    )
    for name in names
}
UNITS = {
    "minute": 60,
    "min": 60,
    "hour": 3600,
    "hr": 3600,
    "day": 86400,
    "week": 7 * 86400,
    "month": 30 * 86400,
    "year": 365 * 86400,
}
NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "twelve": 12,
}

_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_WEEKDAY = "|".join(sorted(WEEKDAYS, key=len, reverse=True))
_UNIT = r"(?P<unit>minute|min|hour|hr|day|week|month|year)s?"
_NUM = r"(?P<n>\d{1,4}|" + "|".join(NUMBER_WORDS) + ")"
# A leading word that bounds the range on one side, or just a preposition to swallow.
_MOD = r"(?:(?P<mod>since|after|from|before|until|till|by|on|in|during|at)\s+)?"
_SINCE = ("since",)
_ORD = r"(?:st|nd|rd|th)?"

Range = tuple[datetime, datetime]
Handler = Callable[[re.Match[str]], Range | None]


@dataclass(slots=True)
class TimeQuery:
    text: str  # the query with the time expressions taken out
    since: float | None
    until: float | None


def _local_tz() -> tzinfo:
    tz = datetime.now().astimezone().tzinfo
    assert tz is not None
    return tz


def _day_start(d: date, tz: tzinfo) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=tz)


def _day(d: date, tz: tzinfo) -> Range:
    return _day_start(d, tz), _day_start(d + timedelta(days=1), tz)


def _month(year: int, month: int, tz: tzinfo) -> Range:
    start = datetime(year, month, 1, tzinfo=tz)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=tz)
    return start, end


def _recent_month(month: int, now: datetime) -> int:
    """Year of the most recent `month` that is not in the future."""
    return now.year if month <= now.month else now.year - 1


def _recent_date(month: int, day: int, now: datetime) -> date | None:
    for year in (now.year, now.year - 1):
        try:
            d = date(year, month, day)
        except ValueError:
            continue
        if d <= now.date():
            return d
    return None


def _num(s: str) -> int:
    return NUMBER_WORDS[s] if s in NUMBER_WORDS else int(s)


class _Parser:
    def __init__(self, now: datetime) -> None:
        self.now = now
        self.tz = now.tzinfo or _local_tz()
        today = now.date()
        self.today = today
        # (pattern, handler) in order of specificity; each handler returns a Range or None.
        self.rules: list[tuple[str, Handler]] = [
            (r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})", self._iso),
            (r"(?:in\s+)?(?:the\s+)?(?:last|past)\s+" + _NUM + r"\s+" + _UNIT, self._last_n),
            (r"(?:in\s+)?(?:the\s+(?:last|past)|past)\s+" + _UNIT, self._last_unit),
            (_NUM + r"\s+" + _UNIT + r"\s+ago", self._ago),
            (r"today|tonight|this\s+morning|this\s+afternoon|this\s+evening", self._today),
            (r"yesterday", self._yesterday),
            (r"this\s+(?P<unit>week|month|year)", self._this_unit),
            (r"last\s+(?P<unit>week|month|year)", self._previous_unit),
            (
                rf"(?P<mon>{_MONTH})\.?\s+(?P<d>\d{{1,2}}){_ORD}(?:,?\s+(?P<y>\d{{4}}))?",
                self._month_day,
            ),
            (
                rf"(?P<d>\d{{1,2}}){_ORD}\s+(?:of\s+)?(?P<mon>{_MONTH})\.?(?:,?\s+(?P<y>\d{{4}}))?",
                self._month_day,
            ),
            (rf"(?P<mon>{_MONTH})\.?\s+(?P<y>\d{{4}})", self._month_year),
            (rf"(?:last\s+)?(?P<wd>{_WEEKDAY})", self._weekday),
            (rf"(?P<mon>{_MONTH})", self._month_only),
            (r"(?P<y>(?:19|20)\d{2})", self._year),
        ]
        self.compiled: list[tuple[re.Pattern[str], Handler]] = [
            (re.compile(r"(?<![\w-])" + _MOD + "(?P<expr>" + p + r")(?![\w-])", re.I), h)
            for p, h in self.rules
        ]

    # handlers ---------------------------------------------------------------------------
    def _iso(self, m: re.Match[str]) -> Range | None:
        try:
            d = date(int(m["y"]), int(m["m"]), int(m["d"]))
        except ValueError:
            return None
        return _day(d, self.tz)

    def _last_n(self, m: re.Match[str]) -> Range:
        n, unit = _num(m["n"].lower()), m["unit"].lower()
        return self.now - timedelta(seconds=n * UNITS[unit]), self.now

    def _last_unit(self, m: re.Match[str]) -> Range:
        return self.now - timedelta(seconds=UNITS[m["unit"].lower()]), self.now

    def _ago(self, m: re.Match[str]) -> Range:
        n, unit = _num(m["n"].lower()), m["unit"].lower()
        if unit in ("day", "week", "month", "year"):
            if unit == "day":
                return _day(self.today - timedelta(days=n), self.tz)
            if unit == "week":
                monday = self.today - timedelta(days=self.today.weekday() + 7 * n)
                return _day_start(monday, self.tz), _day_start(monday + timedelta(days=7), self.tz)
            if unit == "month":
                y, mo = self.now.year, self.now.month - n
                while mo <= 0:
                    mo += 12
                    y -= 1
                return _month(y, mo, self.tz)
            y = self.now.year - n
            return datetime(y, 1, 1, tzinfo=self.tz), datetime(y + 1, 1, 1, tzinfo=self.tz)
        point = self.now - timedelta(seconds=n * UNITS[unit])
        half = timedelta(seconds=UNITS[unit] / 2 if n > 1 else UNITS[unit])
        return point - half, min(self.now, point + half)

    def _today(self, m: re.Match[str]) -> Range:
        return _day(self.today, self.tz)

    def _yesterday(self, m: re.Match[str]) -> Range:
        return _day(self.today - timedelta(days=1), self.tz)

    def _week_start(self) -> date:
        return self.today - timedelta(days=self.today.weekday())

    def _this_unit(self, m: re.Match[str]) -> Range:
        unit = m["unit"].lower()
        if unit == "week":
            start = _day_start(self._week_start(), self.tz)
            return start, start + timedelta(days=7)
        if unit == "month":
            return _month(self.now.year, self.now.month, self.tz)
        y = self.now.year
        return datetime(y, 1, 1, tzinfo=self.tz), datetime(y + 1, 1, 1, tzinfo=self.tz)

    def _previous_unit(self, m: re.Match[str]) -> Range:
        unit = m["unit"].lower()
        if unit == "week":
            monday = self._week_start() - timedelta(days=7)
            return _day_start(monday, self.tz), _day_start(monday + timedelta(days=7), self.tz)
        if unit == "month":
            y, mo = (
                (self.now.year, self.now.month - 1)
                if self.now.month > 1
                else (
                    self.now.year - 1,
                    12,
                )
            )
            return _month(y, mo, self.tz)
        y = self.now.year - 1
        return datetime(y, 1, 1, tzinfo=self.tz), datetime(y + 1, 1, 1, tzinfo=self.tz)

    def _month_day(self, m: re.Match[str]) -> Range | None:
        month, day = MONTHS[m["mon"].lower()], int(m["d"])
        if m["y"]:
            try:
                return _day(date(int(m["y"]), month, day), self.tz)
            except ValueError:
                return None
        d = _recent_date(month, day, self.now)
        return _day(d, self.tz) if d else None

    def _month_year(self, m: re.Match[str]) -> Range:
        return _month(int(m["y"]), MONTHS[m["mon"].lower()], self.tz)

    def _weekday(self, m: re.Match[str]) -> Range | None:
        # A bare weekday is only a time expression after a preposition or "last".
        if not m["mod"] and not m["expr"].lower().startswith("last"):
            return None
        wd = WEEKDAYS[m["wd"].lower()]
        back = (self.today.weekday() - wd) % 7 or 7  # the most recent one before today
        return _day(self.today - timedelta(days=back), self.tz)

    def _month_only(self, m: re.Match[str]) -> Range | None:
        # "may", "march" and friends are ordinary words unless a preposition says otherwise.
        if not m["mod"] or m["mod"].lower() in ("on", "at", "by"):
            return None
        month = MONTHS[m["mon"].lower()]
        return _month(_recent_month(month, self.now), month, self.tz)

    def _year(self, m: re.Match[str]) -> Range | None:
        if not m["mod"] or m["mod"].lower() not in ("in", "during", "since", "before", "after"):
            return None
        y = int(m["y"])
        return datetime(y, 1, 1, tzinfo=self.tz), datetime(y + 1, 1, 1, tzinfo=self.tz)

    # driver -------------------------------------------------------------------------------
    def parse(self, text: str) -> TimeQuery:
        since: datetime | None = None
        until: datetime | None = None
        for pattern, handler in self.compiled:
            pos = 0
            while True:
                m = pattern.search(text, pos)
                if m is None:
                    break
                rng = handler(m)
                if rng is None:
                    pos = m.start("expr") + 1
                    continue
                start, end = rng
                mod = (m["mod"] or "").lower()
                lo: datetime | None
                hi: datetime | None
                if mod in _SINCE:
                    lo, hi = start, None
                elif mod == "after":
                    lo, hi = end, None
                elif mod == "before":
                    lo, hi = None, start
                elif mod in ("until", "till", "by"):
                    lo, hi = None, end
                else:
                    lo, hi = start, end
                if lo is not None:
                    since = lo if since is None else max(since, lo)
                if hi is not None:
                    until = hi if until is None else min(until, hi)
                text = text[: m.start()] + " " + text[m.end() :]
                pos = m.start()
        clean = re.sub(r"\s+", " ", text).strip(" ,.;:?!")
        clean = re.sub(r"(?i)\b(?:from|on|in|at|during)$", "", clean).strip()
        return TimeQuery(
            clean,
            since.timestamp() if since else None,
            until.timestamp() if until else None,
        )


def parse_query(text: str, now: float, tz: tzinfo | None = None) -> TimeQuery:
    """Take the time expressions out of `text`; `since`/`until` bound the range (until is
    exclusive). Several expressions narrow the range together."""
    zone = tz or _local_tz()
    return _Parser(datetime.fromtimestamp(now, zone)).parse(text)


def parse_bound(value: str, now: float, tz: tzinfo | None = None, *, end: bool = False) -> float:
    """A --since / --until value: an ISO date or date-time, or a time expression. For a range
    ("yesterday", "2026-03-14"), --since takes its start and --until its end."""
    zone = tz or _local_tz()
    v = value.strip()
    try:
        dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        dt = None
    if dt is not None:
        if len(v) <= 10:  # a bare date is the whole day
            d = dt.date()
            start, stop = _day(d, zone)
            return (stop if end else start).timestamp()
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=zone)
        return dt.timestamp()
    parser = _Parser(datetime.fromtimestamp(now, zone))
    for pattern, handler in parser.compiled:
        # "in ..." lets a bare weekday or month stand alone here ("--since monday").
        for candidate in (v, "in " + v):
            m = pattern.fullmatch(candidate)
            rng = handler(m) if m is not None else None
            if rng is not None:
                return (rng[1] if end else rng[0]).timestamp()
    raise ValueError(f"not a date or time expression: {value!r}")

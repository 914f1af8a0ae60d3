"""Time windows in people's words: "past week", "since Monday", "in October", "last quarter", "since
Thanksgiving", read against an injectable clock, so the tools, the offline model, the CLI and Slack agree
on which window a phrase names."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from agent.incidents.exceptions import InvalidInput


@dataclass(frozen=True)
class TimeWindow:
    """A half-open interval [since, until) in UTC, with the words it came from."""

    since: datetime
    until: datetime
    label: str


_UNIT_SECONDS = {
    "minute": 60,
    "min": 60,
    "m": 60,
    "hour": 3600,
    "hr": 3600,
    "h": 3600,
    "day": 86400,
    "d": 86400,
    "week": 7 * 86400,
    "wk": 7 * 86400,
    "w": 7 * 86400,
    "month": 30 * 86400,
    "mo": 30 * 86400,
    "quarter": 91 * 86400,
    "year": 365 * 86400,
    "yr": 365 * 86400,
    "y": 365 * 86400,
}
NUMBER_WORDS = {
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
}
"""Numbers people spell out; callers add the words of their own phrases ("a week", "no incidents")."""
_NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    **NUMBER_WORDS,
    "twelve": 12,
    "fourteen": 14,
    "thirty": 30,
    "few": 3,
    "couple": 2,
    "couple of": 2,
}
_UNIT = r"(minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|wks?|w|months?|mos?|quarters?|years?|yrs?|y)"
_NUM = (
    r"(\d+|(?:a )?few|(?:a )?couple(?: of)?|a|an|one|two|three|four|five|six|seven|eight|nine|ten|twelve|"
    r"fourteen|thirty)"
)
_LAST_N_RE = re.compile(
    rf"\b(?:past|last|previous|prev|within(?: the)?(?: last| past)?|in the (?:last|past)|"
    rf"(?:look(?:ing)?|go(?:ing)?|went|check(?:ing)?|search(?:ing)?) back(?: over)?(?: the)?(?: last| past)?)"
    rf"\s+{_NUM}\s*{_UNIT}\b",
    re.IGNORECASE,
)
_N_AGO_RE = re.compile(rf"\b{_NUM}\s*{_UNIT}\s+(?:ago|back)\b", re.IGNORECASE)
_LAST_UNIT_RE = re.compile(
    r"\b(?:past|last|previous|prev|this past)\s+(hour|day|week|month|quarter|year|24\s*h(?:ours|rs)?)\b",
    re.IGNORECASE,
)
_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_SINCE_RE = re.compile(
    r"\bsince\s+(.+?)(?:[?.!,;:(—–]|\s-\s|\band\b|\bthat\b|\bwhich\b|\bhow\b|\bwhen\b|$)", re.IGNORECASE
)


def _unit_seconds(unit: str) -> int:
    unit = unit.lower()
    if unit in _UNIT_SECONDS:
        return _UNIT_SECONDS[unit]
    return _UNIT_SECONDS[unit.rstrip("s")]


def _number(word: str) -> int:
    word = word.lower().removeprefix("a ")
    return int(word) if word.isdigit() else _NUMBER_WORDS[word]


def _start_of_day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _since_phrase(phrase: str, now: datetime) -> datetime | None:
    phrase = phrase.strip().lower()
    month = re.match(rf"({_MONTH_NAMES})\b(?!\s+\d)", phrase)
    if month:
        # "since october", "since september — how many?": from the start of that month.
        return _month_start(month.group(1), now)
    if phrase in {"yesterday"}:
        return _start_of_day(now) - timedelta(days=1)
    if phrase in {"today", "this morning"}:
        return _start_of_day(now)
    named_day = _DATED_WEEKDAY_RE.match(phrase)
    if named_day:
        # "since sat the 14th": the date says which day; the weekday only agrees with it.
        return _since_phrase(phrase[named_day.end() :], now)
    first = phrase.removeprefix("last ").split(" ")[0]
    phrase = _WEEKDAY_ABBREVIATIONS.get(first, phrase)
    for index, day in enumerate(_WEEKDAYS):
        if phrase in {day, f"last {day}"} or phrase.startswith(day):
            # The most recent such day before today; "since Monday" on a Monday means a week ago.
            days_back = (now.weekday() - index) % 7 or 7
            return _start_of_day(now) - timedelta(days=days_back)
    import dateparser  # lazy: slow to import, and only needed for absolute dates

    parsed = dateparser.parse(
        phrase,
        settings={
            "RELATIVE_BASE": now.replace(tzinfo=None),
            "TIMEZONE": "UTC",
            "RETURN_AS_TIMEZONE_AWARE": True,
            "PREFER_DATES_FROM": "past",
        },
    )
    if parsed is None or parsed > now:
        return None
    return parsed.astimezone(UTC)


def parse_time_window(text: str, now: datetime) -> TimeWindow | None:
    """Returns the time window a question mentions ("past week", "since Monday"), or None if it names none."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    lowered = text.lower()
    calendar = _calendar_window(lowered, now)
    if calendar is not None:
        return calendar
    match = _LAST_N_RE.search(lowered) or _N_AGO_RE.search(lowered)
    if match:
        seconds = _number(match.group(1)) * _unit_seconds(match.group(2))
        return TimeWindow(now - timedelta(seconds=seconds), now, match.group(0).strip())
    match = _LAST_UNIT_RE.search(lowered)
    if match:
        unit = match.group(1)
        seconds = 86400 if unit.startswith("24") else _unit_seconds(unit)
        return TimeWindow(now - timedelta(seconds=seconds), now, match.group(0).strip())
    if re.search(r"\btoday\b", lowered):
        return TimeWindow(_start_of_day(now), now, "today")
    if re.search(r"\byesterday\b", lowered) and "since" not in lowered:
        start = _start_of_day(now) - timedelta(days=1)
        return TimeWindow(start, start + timedelta(days=1), "yesterday")
    earlier = re.search(r"\bearlier (?:this|in the) (week|month)\b", lowered)
    if earlier:
        # "there was a payflow outage earlier this month": before today, not the one that began an hour ago.
        today = _start_of_day(now)
        start = _period_start(earlier.group(1), now)
        return TimeWindow(start, today if today > start else now, earlier.group(0))
    if re.search(r"\bthis week\b", lowered):
        return TimeWindow(_period_start("week", now), now, "this week")
    if re.search(r"\bthis month\b", lowered):
        return TimeWindow(_period_start("month", now), now, "this month")
    if re.search(r"\bthis (?:year|yr)\b", lowered):
        return TimeWindow(_period_start("year", now), now, "this year")
    match = _SINCE_RE.search(text)
    if match:
        since = _since_phrase(match.group(1), now)
        if since is not None:
            return TimeWindow(since, now, f"since {match.group(1).strip(' ?.!,')}")
    return _everyday_window(lowered, now)


ALL_TIME_START = datetime(1970, 1, 1, tzinfo=UTC)
"""Where "all time" and "ever" begin."""
_ALL_TIME_RE = re.compile(r"\b(?:of )?all[\s-]time\b|\bever\b|\bon record\b|\bin (?:our )?history\b")
_ABBREVIATED_LAST_RE = re.compile(r"\b(?:past|last|previous|prev|this past)\s+(wk|hr|mo|yr|fortnight)\b")
_ABBREVIATED_SECONDS = {
    "wk": 7 * 86400,
    "hr": 3600,
    "mo": 30 * 86400,
    "yr": 365 * 86400,
    "fortnight": 14 * 86400,
}
_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_MONTH_NAMES = "|".join(_MONTHS) + "|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec"
"""A month's name or its short form, as a regular-expression alternation."""
_IN_MONTH_RE = re.compile(rf"\b(?:in|during|from)\s+({_MONTH_NAMES})\b(?!\s+\d)")
# A full month name on its own ("and september?"); "may" is left to "in may", being a verb too.
_BARE_MONTH_RE = re.compile(
    r"\b(january|february|march|april|june|july|august|september|october|november|december)\b(?!\s+\d)"
)
_QUARTER_RE = re.compile(r"\b(?:(?:in|during|for)\s+)?q([1-4])\b|\b(?:last|previous|prev)\s+quarter\b")
_SINCE_MONTH_START_RE = re.compile(rf"\b(?:since|from) (?:the )?(?:start|beginning) of ({_MONTH_NAMES})\b")
_DAY = r"([1-9]|[12]\d|3[01])(?:st|nd|rd|th)?"
# "nov 18", "oct 26", "18th nov", "18th/19th nov": those days of that month (the most recent such month).
_MONTH_DAY_RE = re.compile(
    rf"\b({_MONTH_NAMES})\.?\s+{_DAY}(?:\s*(?:[/&-]|and|or|to)\s*{_DAY})?\b(?!\s*(?::|am|pm|\d))"
    rf"|\b{_DAY}(?:\s*(?:[/&-]|and|or|to)\s*{_DAY})?\s+(?:of\s+)?({_MONTH_NAMES})\b"
)
# "the last ~10 days of october", "first week of june" is `_WEEK_OF_MONTH_RE`'s.
_DAYS_OF_MONTH_RE = re.compile(
    rf"\b(?:the\s+)?(last|final|first)\s+~?\s*(\d{{1,2}})\s+days\s+of\s+({_MONTH_NAMES})\b"
)
_ON_ORDINAL_RE = re.compile(r"\bon (?:the )?([1-9]|[12]\d|3[01])(?:st|nd|rd|th)\b(?!\s+of\b)")
_SINCE_ORDINAL_RE = re.compile(r"\bsince (?:the )?([1-9]|[12]\d|3[01])(?:st|nd|rd|th)\b(?!\s+of\b)")
_MONTH_WORD_RE = re.compile(r"\b(?:in|during|from|for|of)\s+([a-z]{4,10})\b(?!\s+\d)")


def _day_of_month(moment: datetime, day: int) -> datetime | None:
    try:
        return moment.replace(day=day)
    except ValueError:
        return None


class _MonthMatch:
    """A month name found despite a typo ("in ocotber"), shaped like the `re.Match` of `_IN_MONTH_RE`."""

    def __init__(self, month: str, phrase: str) -> None:
        self._month = month
        self._phrase = phrase

    def group(self, index: int = 0) -> str:
        return self._phrase if index == 0 else self._month


def _misspelt_month(lowered: str) -> _MonthMatch | None:
    for match in _MONTH_WORD_RE.finditer(lowered):
        close = difflib.get_close_matches(match.group(1), _MONTHS, n=1, cutoff=0.75)
        if close:
            return _MonthMatch(close[0], match.group(0))
    return None


_WEEKEND_RE = re.compile(r"\b(?:over|on|during|this|last|past)\s+(?:the\s+)?weekend\b")
_WEEKDAY_ABBREVIATIONS = {
    "mon": "monday",
    "tue": "tuesday",
    "tues": "tuesday",
    "wed": "wednesday",
    "weds": "wednesday",
    "thu": "thursday",
    "thur": "thursday",
    "thurs": "thursday",
    "fri": "friday",
    "sat": "saturday",
    "sun": "sunday",
}
_DATED_WEEKDAY_RE = re.compile(
    rf"(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+(?=(?:the\s+)?\d{{1,2}}(?:st|nd|rd|th)\b|(?:{_MONTH_NAMES})\b)"
)


# A full day's name names that day; a short form ("sat", "sun" are words too) only after "on" or "last".
_WEEKDAY_RE = re.compile(
    r"\b(?:(?:on|last|this past|past)\s+)?(monday|tuesday|wednesday|thursday|friday|saturday|sunday)(?:'?s)?\b"
    r"|\b(?:on|last)\s+(mon|tues?|weds?|thu|thurs?|fri|sat|sun)\b(?:'?s)?(?![\w-])"
)


_HALF_RE = re.compile(
    r"\b(?:in |during |for )?(?:the )?(?:h(?P<h>[12])|(?P<word>first|1st|second|2nd) half of (?:the year|this year|"
    r"(?P<last>last year)|(?P<of>20\d\d)))(?:\s+(?P<year>20\d\d))?\b"
)
_YEAR_TO_DATE_RE = re.compile(r"\b(?:ytd|year to date|so far this year)\b")
# "so far in 2026", "since 2025", "back in 2025": a year standing alone (not in a date, a code or a host).
_YEAR_RE = re.compile(r"(?:\b(since|from|after)\s+)?(?<![\w.:/-])(20\d\d)(?![\w.:/-]|\s*-\s*\d)")
_WEEK_OF_MONTH_RE = re.compile(
    rf"\b(first|1st|second|2nd|third|3rd|fourth|4th|last) week of ({_MONTH_NAMES})\b"
)
_BETWEEN_DAYS_RE = re.compile(
    rf"\b(?:between|from) (?:the )?(\d{{1,2}})(?:st|nd|rd|th)? (?:and|to|-|until|till|through) (?:the )?(\d{{1,2}})"
    rf"(?:st|nd|rd|th)?(?: of ({_MONTH_NAMES}|this month|last month))?\b"
)
_WEEK_INDEX = {"first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3}


def _month_start(name: str, now: datetime) -> datetime:
    """Returns the first day of the most recent month of that name that has begun ("in December" asked in
    November means last year's)."""
    this_year = _month_of_year(name, now.year)
    return this_year if this_year.month <= now.month else this_year.replace(year=now.year - 1)


def _next_month_start(start: datetime) -> datetime:
    """Returns the first day of the month after the one `start` begins."""
    return datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=UTC)


_PERIOD_START_RE = re.compile(
    r"\b(?:since|from) (?:the )?(?:start|beginning) of (?:the |this )?(year|quarter|month|week)\b"
)
_SINCE_QUARTER_RE = re.compile(r"\b(?:since|from) (?:the )?(?:(?:start|beginning) of )?q([1-4])\b")
_PART_OF_MONTH_RE = re.compile(
    rf"\b(since |from )?(?:the )?(mid|middle of|early|start of|beginning of|late|end of)[\s-]+({_MONTH_NAMES})\b"
)
_SEASON_RE = re.compile(
    r"\b(?:this|last|over the|in the|during the|in|during|over)\s+(summer|fall|autumn|winter|spring)\b"
)
_SEASON_FIRST_MONTH = {"spring": 3, "summer": 6, "fall": 9, "autumn": 9, "winter": 12}
_A_FEW_RE = re.compile(
    r"\b(?:last|past) (?:a |one )?(day|week|month) or two\b|\b(?:last|past) half (?:a )?year\b"
)


def _period_start(period: str, now: datetime) -> datetime:
    """Returns when the current year, quarter, month or week began."""
    today = _start_of_day(now)
    if period == "year":
        return today.replace(month=1, day=1)
    if period == "quarter":
        return today.replace(month=3 * ((now.month - 1) // 3) + 1, day=1)
    if period == "month":
        return today.replace(day=1)
    return today - timedelta(days=now.weekday())


def _part_of_month(match: re.Match[str], now: datetime) -> TimeWindow | None:
    """ "mid-November" (from the 11th to the 20th), "early October" (1st-10th), "late September" (21st to
    the end); with "since", from then to now."""
    start = _month_start(match.group(3), now)
    end = _next_month_start(start)
    part = match.group(2)
    first, last = {"mid": (10, 20), "middle of": (10, 20), "late": (20, None), "end of": (20, None)}.get(
        part, (0, 10)
    )
    since = start + timedelta(days=first)
    if since > now:
        return None
    until = now if match.group(1) else min(now, end if last is None else start + timedelta(days=last))
    return TimeWindow(since, until, match.group(0).strip())


def _season(match: re.Match[str], now: datetime) -> TimeWindow:
    """The most recent meteorological season of that name that has begun (northern hemisphere)."""
    first_month = _SEASON_FIRST_MONTH[match.group(1)]
    year = now.year if first_month <= now.month else now.year - 1
    start = datetime(year, first_month, 1, tzinfo=UTC)
    end = start
    for _ in range(3):
        end = _next_month_start(end)
    return TimeWindow(start, min(now, end), match.group(0))


_MONTH_YEAR_RE = re.compile(rf"\b({_MONTH_NAMES})\.?,?\s+(?:of\s+)?(last year|this year|20\d\d)\b")
_LAST_MONTH_NAME_RE = re.compile(rf"\b(?:last|previous)\s+({_MONTH_NAMES})\b")
_DAY_RANGE_RE = re.compile(
    rf"\b({_MONTH_NAMES})\.? (\d{{1,2}})(?:st|nd|rd|th)?\s*(?:through|thru|to|until|till|and|-|–)\s*"
    rf"(?:({_MONTH_NAMES})\.? )?(\d{{1,2}})(?:st|nd|rd|th)?\b"
)
_MONTH_RANGE_RE = re.compile(
    rf"\b({_MONTH_NAMES})(?: (?:through|thru|to|until|till) |\s*[-–]\s*)(?:the )?(?:end of )?({_MONTH_NAMES})\b"
)
# "across march and april", "march or april", "march/april": two months in a row, both of them.
_MONTH_PAIR_RE = re.compile(rf"\b({_MONTH_NAMES})\s*(?:and|or|&|/|\+|,)\s*({_MONTH_NAMES})\b")
# "before june": up to that month, from the start of the history, or of the year when "this year" is said.
_BEFORE_MONTH_RE = re.compile(
    rf"\b(?:(this year),?\s+)?(?:before|until|till|up to|prior to) ({_MONTH_NAMES})(?:\s+(this year))?\b"
)


def _month_of_year(name: str, year: int) -> datetime:
    month = next(i for i, full in enumerate(_MONTHS, start=1) if full.startswith(name[:3]))
    return datetime(year, month, 1, tzinfo=UTC)


_MONTH_ONWARDS_RE = re.compile(
    rf"\b(?:(?:from|since|starting(?: in| from)?) )?(?:the (?:start|beginning) of )?({_MONTH_NAMES})\.?"
    r" (?:onwards?|on|forwards?|and (?:later|after|since))\b"
)
_AFTER_MONTH_RE = re.compile(rf"\bafter ({_MONTH_NAMES})\b")


def _explicit_month_window(lowered: str, now: datetime) -> TimeWindow | None:
    """Months said with their year or as a range: "december last year", "dec 2025", "last november" (asked
    in November: a year ago), "nov 10 through nov 15", "jan to end of march", "october onwards", "after
    october"."""
    match = _MONTH_ONWARDS_RE.search(lowered)
    if match:
        return TimeWindow(_month_start(match.group(1), now), now, match.group(0))
    match = _AFTER_MONTH_RE.search(lowered)
    if match:
        start = _next_month_start(_month_start(match.group(1), now))
        if start <= now:
            return TimeWindow(start, now, match.group(0))
    match = _MONTH_YEAR_RE.search(lowered)
    if match:
        qualifier = match.group(2)
        year = (
            now.year - 1
            if qualifier == "last year"
            else now.year
            if qualifier == "this year"
            else int(qualifier)
        )
        start = _month_of_year(match.group(1), year)
        if start <= now:
            return TimeWindow(start, min(now, _next_month_start(start)), match.group(0))
    match = _LAST_MONTH_NAME_RE.search(lowered)
    if match:
        start = _month_start(match.group(1), now)
        if start.month == now.month and start.year == now.year:
            start = start.replace(year=now.year - 1)
        return TimeWindow(start, min(now, _next_month_start(start)), match.group(0))
    match = _DAY_RANGE_RE.search(lowered)
    if match:
        first_month = _month_start(match.group(1), now)
        last_month = _month_start(match.group(3), now) if match.group(3) else first_month
        first = _day_of_month(first_month, int(match.group(2)))
        last = _day_of_month(last_month, int(match.group(4)))
        if first is not None and last is not None and first <= last and first <= now:
            # Both days count: "nov 10 through nov 15" ends at the end of the 15th.
            return TimeWindow(first, min(now, last + timedelta(days=1)), match.group(0))
    match = _MONTH_RANGE_RE.search(lowered)
    if match:
        first = _month_start(match.group(1), now)
        last = _month_start(match.group(2), now)
        if first <= last:
            return TimeWindow(first, min(now, _next_month_start(last)), match.group(0))
    match = _MONTH_PAIR_RE.search(lowered)
    if match:
        first = _month_start(match.group(1), now)
        last = _month_start(match.group(2), now)
        if _next_month_start(first) == last:
            return TimeWindow(first, min(now, _next_month_start(last)), match.group(0))
    match = _BEFORE_MONTH_RE.search(lowered)
    if match:
        # "everything before june": from the start of the history; "this year before june": from January.
        end = _month_start(match.group(2), now)
        start = end.replace(month=1) if (match.group(1) or match.group(3)) else ALL_TIME_START
        if start < end:
            return TimeWindow(start, min(now, end), match.group(0))
    return None


def _nth_weekday(year: int, month: int, weekday: int, nth: int) -> date:
    """Returns the nth (1-based; -1 for the last) given weekday (Monday = 0) of a month."""
    if nth < 0:
        last = (datetime(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).date()
        return last - timedelta(days=(last.weekday() - weekday) % 7)
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))


def _thanksgiving(year: int) -> date:
    return _nth_weekday(year, 11, 3, 4)


# Named days people date things by ("since thanksgiving", "over halloween"); floating ones by the US
# calendar, which is what the on-call folk who say them mean.
_NAMED_DAYS: dict[str, Callable[[int], date]] = {
    # Before "new year's": the regex takes the first alternative that matches, and "eve" must not be left over.
    r"new year'?s eve|nye": lambda y: date(y, 12, 31),
    r"new year'?s(?: day)?": lambda y: date(y, 1, 1),
    r"valentine'?s(?: day)?": lambda y: date(y, 2, 14),
    r"memorial day": lambda y: _nth_weekday(y, 5, 0, -1),
    r"(?:independence day|(?:the )?(?:4th|fourth) of july|july (?:4th|4))": lambda y: date(y, 7, 4),
    r"labou?r day": lambda y: _nth_weekday(y, 9, 0, 1),
    r"hall?owe'?en": lambda y: date(y, 10, 31),
    r"thanksgiving(?: day)?": _thanksgiving,
    r"black friday": lambda y: _thanksgiving(y) + timedelta(days=1),
    r"cyber monday": lambda y: _thanksgiving(y) + timedelta(days=4),
    r"christmas eve|xmas eve": lambda y: date(y, 12, 24),
    r"christmas(?: day)?|xmas": lambda y: date(y, 12, 25),
    r"boxing day": lambda y: date(y, 12, 26),
}
# Only after a word that dates something by it: "since halloween", "over thanksgiving", "on black friday";
# "new year's eve is coming up and i'm on call" dates nothing.
_NAMED_DAY_RE = re.compile(
    r"\b(?:(since|after|from)|on|over|during|around|at|last|this past)\s+(?:the\s+)?("
    + "|".join(f"(?:{name})" for name in _NAMED_DAYS)
    + r")\b"
)


def _named_day_window(lowered: str, now: datetime) -> TimeWindow | None:
    """Returns the window of a named day: since its latest occurrence, or that day ("over thanksgiving")."""
    match = _NAMED_DAY_RE.search(lowered)
    if match is None:
        return None
    day_of = next(rule for name, rule in _NAMED_DAYS.items() if re.fullmatch(name, match.group(2)))
    day = day_of(now.year)
    if day > now.date():
        day = day_of(now.year - 1)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    end = now if match.group(1) else min(now, start + timedelta(days=1))
    return TimeWindow(start, end, match.group(0))


def _calendar_window(lowered: str, now: datetime) -> TimeWindow | None:
    """Returns the window of calendar phrases read before the relative ones ("last quarter", "since the 3rd")."""
    today = _start_of_day(now)
    named = _named_day_window(lowered, now)
    if named is not None:
        return named
    explicit = _explicit_month_window(lowered, now)
    if explicit is not None:
        return explicit
    match = _PERIOD_START_RE.search(lowered)
    if match:
        return TimeWindow(_period_start(match.group(1), now), now, match.group(0))
    match = _SINCE_QUARTER_RE.search(lowered)
    if match:
        first_month = 3 * (int(match.group(1)) - 1) + 1
        year = now.year if first_month <= now.month else now.year - 1
        return TimeWindow(datetime(year, first_month, 1, tzinfo=UTC), now, match.group(0))
    match = _A_FEW_RE.search(lowered)
    if match:
        days = {"day": 2, "week": 14, "month": 61}.get(match.group(1) or "", 182)
        return TimeWindow(now - timedelta(days=days), now, match.group(0))
    match = _HALF_RE.search(lowered)
    if match:
        # "h1", "first half of 2026": January to June; without a year, the most recent such half begun.
        first_month = 1 if match.group("h") == "1" or match.group("word") in {"first", "1st"} else 7
        named = match.group("of") or match.group("year")
        if named:
            year = int(named)
        elif match.group("last"):
            year = now.year - 1
        else:
            year = now.year if first_month <= now.month else now.year - 1
        start = datetime(year, first_month, 1, tzinfo=UTC)
        end = datetime(year, 7, 1, tzinfo=UTC) if first_month == 1 else datetime(year + 1, 1, 1, tzinfo=UTC)
        return TimeWindow(start, min(now, end), match.group(0))
    match = _YEAR_TO_DATE_RE.search(lowered)
    if match:
        return TimeWindow(today.replace(month=1, day=1), now, match.group(0))
    match = _YEAR_RE.search(lowered)
    if match and int(match.group(2)) <= now.year:
        start = datetime(int(match.group(2)), 1, 1, tzinfo=UTC)
        end = now if match.group(1) else min(now, datetime(start.year + 1, 1, 1, tzinfo=UTC))
        return TimeWindow(start, end, match.group(0))
    match = _WEEK_OF_MONTH_RE.search(lowered)
    if match:
        start = _month_start(match.group(2), now)
        end = _next_month_start(start)
        if match.group(1) == "last":
            return TimeWindow(max(start, end - timedelta(days=7)), min(now, end), match.group(0))
        since = start + timedelta(days=7 * _WEEK_INDEX[match.group(1)])
        return TimeWindow(since, min(now, since + timedelta(days=7), end), match.group(0))
    match = _BETWEEN_DAYS_RE.search(lowered)
    if match and int(match.group(1)) <= int(match.group(2)) <= 31:
        which = match.group(3)
        if which is None or which == "this month":
            month_start = today.replace(day=1)
        elif which == "last month":
            month_start = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
        else:
            month_start = _month_start(which, now)
        first = _day_of_month(month_start, int(match.group(1)))
        last = _day_of_month(month_start, int(match.group(2)))
        if first is not None and last is not None and first <= now:
            # Both days count: "between the 10th and the 14th" ends at the end of the 14th.
            return TimeWindow(first, min(now, last + timedelta(days=1)), match.group(0))
    match = _QUARTER_RE.search(lowered)
    if match:
        quarter_start = today.replace(month=3 * ((now.month - 1) // 3) + 1, day=1)
        if match.group(1):
            # "in Q3": the most recent such quarter that has begun.
            first_month = 3 * (int(match.group(1)) - 1) + 1
            year = now.year if first_month <= now.month else now.year - 1
            start = datetime(year, first_month, 1, tzinfo=UTC)
        else:
            # "last quarter": the calendar quarter before this one.
            start = (quarter_start - timedelta(days=1)).replace(day=1)
            start = start.replace(month=3 * ((start.month - 1) // 3) + 1)
        end = datetime(start.year + (start.month + 2) // 12, (start.month + 2) % 12 + 1, 1, tzinfo=UTC)
        return TimeWindow(start, min(now, end), match.group(0))
    match = _PART_OF_MONTH_RE.search(lowered)
    if match:
        window = _part_of_month(match, now)
        if window is not None:
            return window
    match = _SEASON_RE.search(lowered)
    if match:
        return _season(match, now)
    match = _SINCE_MONTH_START_RE.search(lowered)
    if match:
        return TimeWindow(_month_start(match.group(1), now), now, match.group(0))
    match = _DAYS_OF_MONTH_RE.search(lowered)
    if match:
        start = _month_start(match.group(3), now)
        end = _next_month_start(start)
        days = timedelta(days=int(match.group(2)))
        since, until = (end - days, end) if match.group(1) != "first" else (start, start + days)
        return TimeWindow(max(start, since), min(now, end, until), match.group(0))
    match = _MONTH_DAY_RE.search(lowered)
    if match and not re.search(
        r"\b(?:since|from|after|before|until|till|through|to)\s*$", lowered[: match.start()]
    ):
        month, first, last = (
            (match.group(1), match.group(2), match.group(3))
            if match.group(1)
            else (match.group(6), match.group(4), match.group(5))
        )
        start = _month_start(month, now)
        since, until = _day_of_month(start, int(first)), _day_of_month(start, int(last or first))
        if since is not None and until is not None and since <= until and since <= now:
            return TimeWindow(since, min(now, until + timedelta(days=1)), match.group(0))
    match = _ON_ORDINAL_RE.search(lowered)
    day = _latest_day(today, int(match.group(1))) if match else None
    if match and day is not None:
        # "on the 18th": that whole day.
        return TimeWindow(day, min(now, day + timedelta(days=1)), match.group(0))
    match = _SINCE_ORDINAL_RE.search(lowered)
    day = _latest_day(today, int(match.group(1))) if match else None
    if match and day is not None:
        # "since the 3rd": from that day on.
        return TimeWindow(day, now, match.group(0))
    return None


def _latest_day(today: datetime, day: int) -> datetime | None:
    """Returns the most recent date with this day of the month, today included: this month's, unless it
    is still to come, else last month's (None when last month has no such day)."""
    candidate = _day_of_month(today, day)
    if candidate is None or candidate > today:
        candidate = _day_of_month(today.replace(day=1) - timedelta(days=1), day)
    return candidate


def _everyday_window(lowered: str, now: datetime) -> TimeWindow | None:
    """Returns the window of phrases the main patterns leave out ("past wk", "last night", "in October")."""
    today = _start_of_day(now)
    match = _ALL_TIME_RE.search(lowered)
    if match:
        return TimeWindow(ALL_TIME_START, now, match.group(0))
    match = _ABBREVIATED_LAST_RE.search(lowered)
    if match:
        return TimeWindow(now - timedelta(seconds=_ABBREVIATED_SECONDS[match.group(1)]), now, match.group(0))
    if re.search(r"\bthis morning\b", lowered):
        return TimeWindow(today, min(now, today + timedelta(hours=12)), "this morning")
    if re.search(r"\b(?:last|yesterday) night\b|\bovernight\b", lowered):
        return TimeWindow(today - timedelta(hours=6), min(now, today + timedelta(hours=9)), "last night")
    match = _WEEKEND_RE.search(lowered)
    if match:
        # The most recent weekend, or the one under way.
        saturday = today - timedelta(days=(now.weekday() - 5) % 7)
        return TimeWindow(saturday, min(now, saturday + timedelta(days=2)), match.group(0))
    match = _WEEKDAY_RE.search(lowered)
    if match:
        # "on tuesday", "monday's failover": that whole day, the most recent one before today.
        day = match.group(1) or _WEEKDAY_ABBREVIATIONS[match.group(2)]
        start = today - timedelta(days=(now.weekday() - _WEEKDAYS.index(day)) % 7 or 7)
        return TimeWindow(start, start + timedelta(days=1), match.group(0).strip())
    if re.search(r"\bthis quarter\b", lowered):
        start = today.replace(month=3 * ((now.month - 1) // 3) + 1, day=1)
        return TimeWindow(start, now, "this quarter")
    match = _IN_MONTH_RE.search(lowered) or _BARE_MONTH_RE.search(lowered) or _misspelt_month(lowered)
    if match:
        start = _month_start(match.group(1), now)
        return TimeWindow(start, min(now, _next_month_start(start)), match.group(0))
    return None


def parse_window_argument(value: str | None, now: datetime) -> TimeWindow | None:
    """Returns the window a tool argument names; accepts phrases ("past week") and ISO-8601 dates."""
    if value is None or not value.strip():
        return None
    window = parse_time_window(value, now) or parse_time_window(f"past {value}", now)
    if window is not None:
        return window
    try:
        since = datetime.fromisoformat(value.strip())
    except ValueError:
        since = None
    if since is not None:
        since = since if since.tzinfo else since.replace(tzinfo=UTC)
        return TimeWindow(since.astimezone(UTC), now, f"since {value.strip()}")
    raise InvalidInput(
        f"'{value}' is not a time frame I understand; try 'past 7 days', 'last 2 hours' or 'since Monday'."
    )

"""The one place where people's words become domain values.

Severities ("sev1", "Sev-1", "SEV 1", "critical"), statuses ("ongoing", "mitigated"), incident references
(`incident-123`, `#123`, `INC-123`), service names and aliases, and relative time windows ("past week",
"since Monday", "last 2 hours") are all parsed here, so the tools, the offline model, the CLI and Slack
agree on what a phrase means.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from agent.incidents.enums import ONGOING_STATUSES, Severity, Status
from agent.incidents.exceptions import InvalidInput, InvalidSeverity, InvalidStatus

# --- severity ----------------------------------------------------------------------------------------

_SEVERITY_WORDS: dict[str, Severity] = {
    "critical": Severity.sev1,
    "crit": Severity.sev1,
    "major": Severity.sev2,
    "high": Severity.sev2,
    "medium": Severity.sev3,
    "moderate": Severity.sev3,
    "minor": Severity.sev4,
    "low": Severity.sev4,
    "trivial": Severity.sev5,
    "cosmetic": Severity.sev5,
    "unknown": Severity.unknown,
}
_SEVERITY_RE = re.compile(r"^\s*(?:sev(?:erity)?|s)?[\s\-_:]*([1-5])\s*$", re.IGNORECASE)
_SEVERITY_IN_TEXT_RE = re.compile(r"\bsev(?:erity)?[\s\-_:]*([1-5])(?:s|'s)?\b", re.IGNORECASE)
SEVERITY_HELP = "use SEV-1 (worst) to SEV-5, or unknown"


def parse_severity(text: str | Severity) -> Severity:
    """Returns the severity named by `text`, or raises InvalidSeverity with the accepted forms."""
    if isinstance(text, Severity):
        return text
    cleaned = text.strip().lower()
    if cleaned in _SEVERITY_WORDS:
        return _SEVERITY_WORDS[cleaned]
    match = _SEVERITY_RE.match(cleaned)
    if match:
        return Severity(f"SEV-{match.group(1)}")
    raise InvalidSeverity(f"'{text}' is not a severity; {SEVERITY_HELP}.")


def find_severities(text: str) -> list[Severity]:
    """Returns every severity mentioned in free text, in order of appearance, without repeats."""
    found: list[Severity] = [Severity(f"SEV-{m.group(1)}") for m in _SEVERITY_IN_TEXT_RE.finditer(text)]
    if re.search(r"\bcritical\b", text, re.IGNORECASE):
        found.append(Severity.sev1)
    return list(dict.fromkeys(found))


# --- status ------------------------------------------------------------------------------------------

_STATUS_WORDS: dict[str, Status] = {
    "active": Status.active,
    "investigating": Status.active,
    "reopen": Status.active,
    "reopened": Status.active,
    "stable": Status.stable,
    "stabilized": Status.stable,
    "stabilised": Status.stable,
    "mitigated": Status.stable,
    "resolved": Status.resolved,
    "resolve": Status.resolved,
    "fixed": Status.resolved,
    "closed": Status.resolved,
    "completed": Status.completed,
    "complete": Status.completed,
    "done": Status.completed,
}


def parse_status(text: str | Status) -> Status:
    """Returns the status named by `text`, or raises InvalidStatus listing the statuses."""
    if isinstance(text, Status):
        return text
    cleaned = text.strip().lower()
    if cleaned in _STATUS_WORDS:
        return _STATUS_WORDS[cleaned]
    raise InvalidStatus(f"'{text}' is not a status; use active, stable, resolved or completed.")


def parse_status_filter(values: Iterable[str]) -> frozenset[Status]:
    """Returns the statuses a filter names; "ongoing" and "open" mean active or stable."""
    statuses: set[Status] = set()
    for value in values:
        cleaned = value.strip().lower()
        if cleaned in {"ongoing", "open", "current", "unresolved"}:
            statuses |= ONGOING_STATUSES
        else:
            statuses.add(parse_status(cleaned))
    return frozenset(statuses)


# --- incident references -----------------------------------------------------------------------------

_REF_RE = re.compile(r"(?:\bincident[\s\-_#]*|\binc[\s\-_#]*|#)(\d{1,9})\b", re.IGNORECASE)
_BARE_NUMBER_RE = re.compile(r"^\s*(\d{1,9})\s*$")
THIS_INCIDENT_RE = re.compile(
    r"\b(this|the current|current|our) (incident|one|channel)\b|\bthis\b(?=\s+to\b)", re.IGNORECASE
)


def find_incident_refs(text: str) -> list[int]:
    """Returns the incident numbers referenced in free text, in order, without repeats."""
    return list(dict.fromkeys(int(m.group(1)) for m in _REF_RE.finditer(text)))


def parse_incident_ref(text: str | int, *, focus: int | None = None) -> int:
    """Returns the incident number `text` refers to; "this incident" means `focus`.

    Raises:
        InvalidInput: when the text names no incident, or says "this incident" with none in focus.
    """
    if isinstance(text, int):
        return text
    refs = find_incident_refs(text)
    if refs:
        return refs[0]
    bare = _BARE_NUMBER_RE.match(text)
    if bare:
        return int(bare.group(1))
    if focus is not None and (
        not text.strip() or THIS_INCIDENT_RE.search(text) or text.strip().lower() in {"it", "this"}
    ):
        return focus
    if THIS_INCIDENT_RE.search(text) or text.strip().lower() in {"it", "this", ""}:
        raise InvalidInput("Which incident? There is no incident in focus here; name one like incident-123.")
    raise InvalidInput(f"'{text}' does not name an incident; use incident-123, #123 or INC-123.")


def channel_incident_number(channel_name: str | None, prefix: str = "incident-") -> int | None:
    """Returns the incident number in a channel name like `incident-123-checkout-errors`."""
    if not channel_name or not channel_name.startswith(prefix):
        return None
    match = re.match(r"(\d+)\b", channel_name[len(prefix) :])
    return int(match.group(1)) if match else None


# --- services ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceName:
    """A service and every name people use for it."""

    name: str
    aliases: tuple[str, ...] = ()
    display_name: str | None = None

    def spellings(self) -> list[str]:
        """Returns the lower-case names to recognise, longest first so "payments api" beats "payments"."""
        names = {self.name, *(self.aliases), *([self.display_name] if self.display_name else [])}
        variants = set()
        for name in names:
            lowered = name.lower().strip()
            variants |= {
                lowered,
                lowered.replace("-", " "),
                lowered.replace("_", " "),
                lowered.replace(" ", "-"),
            }
        return sorted((v for v in variants if v), key=len, reverse=True)


def _spelling_pattern(spelling: str) -> re.Pattern[str]:
    escaped = re.escape(spelling).replace(r"\ ", r"[\s\-_]+")
    # A trailing "s", "'s" or "-service" still names the service ("payment" and "payments").
    return re.compile(rf"(?<![\w-]){escaped}(?:s|'s)?(?![\w-])", re.IGNORECASE)


def find_services(text: str, services: Sequence[ServiceName]) -> list[str]:
    """Returns the canonical names of the services mentioned in free text, in order of appearance."""
    hits: list[tuple[int, str]] = []
    for service in services:
        for spelling in service.spellings():
            match = _spelling_pattern(spelling).search(text)
            if match:
                hits.append((match.start(), service.name))
                break
            if spelling.endswith("s") and len(spelling) > 4:
                match = _spelling_pattern(spelling[:-1]).search(text)
                if match:
                    hits.append((match.start(), service.name))
                    break
    return list(dict.fromkeys(name for _, name in sorted(hits)))


def resolve_service(name: str, services: Sequence[ServiceName]) -> str:
    """Returns the canonical name of one service, or raises InvalidInput naming the known services."""
    wanted = name.strip().lower()
    for service in services:
        if wanted in service.spellings() or wanted.rstrip("s") in service.spellings():
            return service.name
    found = find_services(name, services)
    if len(found) == 1:
        return found[0]
    known = ", ".join(s.name for s in services)
    raise InvalidInput(f"There is no service called '{name}'. Known services: {known}.")


# --- time windows ------------------------------------------------------------------------------------


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
_NUMBER_WORDS = {
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
    "fourteen": 14,
    "thirty": 30,
    "few": 3,
    "couple": 2,
    "couple of": 2,
}
_UNIT = r"(minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|wks?|w|months?|mos?|quarters?|years?|yrs?|y)"
_NUM = (
    r"(\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|twelve|fourteen|thirty|few|couple(?: of)?)"
)
_LAST_N_RE = re.compile(
    rf"\b(?:past|last|previous|prev|within(?: the)?(?: last| past)?|in the (?:last|past))\s+{_NUM}\s*{_UNIT}\b",
    re.IGNORECASE,
)
_N_AGO_RE = re.compile(rf"\b{_NUM}\s*{_UNIT}\s+ago\b", re.IGNORECASE)
_LAST_UNIT_RE = re.compile(
    r"\b(?:past|last|previous|prev|this past)\s+(hour|day|week|month|quarter|year|24\s*h(?:ours|rs)?)\b",
    re.IGNORECASE,
)
_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_SINCE_RE = re.compile(r"\bsince\s+(.+?)(?:[?.!,]|\band\b|\bthat\b|\bwhich\b|$)", re.IGNORECASE)


def _unit_seconds(unit: str) -> int:
    unit = unit.lower()
    if unit in _UNIT_SECONDS:
        return _UNIT_SECONDS[unit]
    return _UNIT_SECONDS[unit.rstrip("s")]


def _number(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBER_WORDS[word.lower()]


def _start_of_day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _since_phrase(phrase: str, now: datetime) -> datetime | None:
    phrase = phrase.strip().lower()
    if phrase in {"yesterday"}:
        return _start_of_day(now) - timedelta(days=1)
    if phrase in {"today", "this morning"}:
        return _start_of_day(now)
    for index, day in enumerate(_WEEKDAYS):
        if phrase in {day, f"last {day}"} or phrase.startswith(day):
            # The most recent such day before today; "since Monday" on a Monday means a week ago.
            days_back = (now.weekday() - index) % 7 or 7
            return _start_of_day(now) - timedelta(days=days_back)
    import dateparser  # noqa: PLC0415 - slow to import, and only needed for absolute dates

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
    if re.search(r"\bthis week\b", lowered):
        return TimeWindow(_start_of_day(now) - timedelta(days=now.weekday()), now, "this week")
    if re.search(r"\bthis month\b", lowered):
        return TimeWindow(_start_of_day(now).replace(day=1), now, "this month")
    if re.search(r"\bthis year\b", lowered):
        return TimeWindow(_start_of_day(now).replace(month=1, day=1), now, "this year")
    match = _SINCE_RE.search(text)
    if match:
        since = _since_phrase(match.group(1), now)
        if since is not None:
            return TimeWindow(since, now, match.group(0).strip(" ?.!,"))
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

"""Offline (no model) catch-up summaries, and the timeline reading postmortem sections share.

Everything here works on frozen, ORM-free views of an incident
(:class:`IncidentView`) and its timeline (:class:`EntryView`), so it is cheap to
test and fast: a 500-entry timeline takes a few milliseconds.

The extraction is deliberately simple and honest:

* it only *selects* timeline entries with keyword rules (impact words, action
  verbs, future-tense markers, questions...) and quotes them; it never writes a
  claim that is not in the incident record or the timeline;
* every selected point cites the entries it came from (id, time, author,
  permalink), and points taken from the incident record say so;
* what is not recorded is reported as not known. In particular a root cause is
  only ever the one stored on the incident; hypotheses from the timeline are
  quoted as unconfirmed, never promoted to a root cause;
* deleted entries are ignored everywhere;
* every section is bounded so the output stays readable on long incidents.

Only ``message`` and ``note`` entries are mined for free text; other kinds
(``status_change``, ``severity_change``, ``commander_change``...) are treated as
events, which appear in the status section and in the key timeline. Times are
shown in UTC (naive datetimes are taken to be UTC already).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.serialize import format_duration

MAX_POINTS_PER_SECTION = 5
"""Upper bound on points per summary section, so a catch-up stays a catch-up."""


MAX_POINT_CHARS = 280


SUMMARY_SECTIONS: tuple[tuple[str, str], ...] = (
    ("what_is_happening", "What is happening"),
    ("impact", "Impact"),
    ("status", "Status"),
    ("tried", "What has been tried"),
    ("who", "Who is involved"),
    ("next_steps", "Next steps"),
    ("unknowns", "Unknowns"),
)
"""Summary section field names with their display headings, in display order."""


MESSAGE_KINDS = frozenset({"message", "note"})
"""Entry kinds whose free text is mined; every other kind is an event."""


STATUS_KINDS = frozenset({"status_change", "severity_change"})


@dataclass(frozen=True)
class EntryView:
    """One timeline entry, detached from the database.

    Attributes:
        id: Entry id; citations refer to it.
        at: When the entry was posted.
        author: Display name of the author.
        kind: ``"message"``, ``"note"``, ``"status_change"``, ``"severity_change"``, ...
        text: Entry text.
        permalink: Link to the Slack message, when there is one.
        deleted: Deleted entries are ignored by every function here.
    """

    id: int
    at: datetime
    author: str
    kind: str
    text: str
    permalink: str | None = None
    deleted: bool = False


@dataclass(frozen=True)
class IncidentView:
    """The incident record, detached from the database.

    Attributes:
        public_id: Human-facing id, e.g. ``"INC-42"``.
        title: Incident title.
        severity: Current severity, e.g. ``"SEV-2"``.
        status: Current status, e.g. ``"investigating"``.
        declared_at: When the incident was declared.
        stable_at: When it was marked stable (mitigated), if it was.
        resolved_at: When it was resolved, if it was.
        commander: Incident commander's display name.
        services: Affected services.
        customer_impact: Recorded customer impact.
        root_cause: Recorded root cause. Never guessed when missing.
        remediation: Recorded remediation.
        summary: Recorded summary.
    """

    public_id: str
    title: str
    severity: str
    status: str
    declared_at: datetime
    stable_at: datetime | None = None
    resolved_at: datetime | None = None
    commander: str | None = None
    services: tuple[str, ...] = ()
    customer_impact: str | None = None
    root_cause: str | None = None
    remediation: str | None = None
    summary: str | None = None


class Citation(BaseModel):
    """A reference to the timeline entry a point came from."""

    model_config = ConfigDict(frozen=True)

    entry_id: int = Field(description="Id of the cited timeline entry.")
    at: datetime = Field(description="When the cited entry was posted.")
    author: str = Field(description="Author of the cited entry.")
    permalink: str | None = Field(default=None, description="Link to the Slack message, if any.")


class Point(BaseModel):
    """One statement in a summary section, with its sources."""

    model_config = ConfigDict(frozen=True)

    text: str = Field(description="One short statement taken from the incident record or timeline.")
    citations: list[Citation] = Field(
        default_factory=list,
        description="Timeline entries the statement came from; empty when it comes from the incident record.",
    )


class Summary(BaseModel):
    """Catch-up summary of an incident, section by section."""

    model_config = ConfigDict(frozen=True)

    incident_public_id: str = Field(description="Public id of the summarised incident, e.g. INC-42.")
    incident_title: str = Field(description="Title of the summarised incident.")
    generated_at: datetime = Field(description="When the summary was produced.")
    method: Literal["extractive", "model"] = Field(
        default="extractive",
        description="'extractive' when selected from the timeline by rules, 'model' when written by a model.",
    )
    message_count: int = Field(description="Number of (non-deleted) messages the summary was built from.")
    what_is_happening: list[Point] = Field(
        default_factory=list, description="What the incident is about and the latest understanding of it."
    )
    impact: list[Point] = Field(
        default_factory=list, description="Who or what is affected and how badly (customers, errors, %)."
    )
    status: list[Point] = Field(
        default_factory=list, description="Current status and severity, and recent status/severity changes."
    )
    tried: list[Point] = Field(
        default_factory=list,
        description="What responders have tried or found so far (rollbacks, restarts, findings).",
    )
    who: list[Point] = Field(default_factory=list, description="People involved, incident commander first.")
    next_steps: list[Point] = Field(default_factory=list, description="Planned next steps and follow-ups.")
    unknowns: list[Point] = Field(
        default_factory=list,
        description="Open questions and facts not known yet (e.g. the root cause); never guessed.",
    )


class NotEnoughTimeline(BaseModel):
    """Returned instead of a :class:`Summary` when the timeline is too thin to summarise."""

    model_config = ConfigDict(frozen=True)

    incident_public_id: str
    message_count: int
    min_messages: int

    @property
    def reason(self) -> str:
        """One sentence for the user (fit for a tool's ``{"error": ...}`` result)."""
        noun = "message" if self.message_count == 1 else "messages"
        return (
            f"{self.incident_public_id} has only {self.message_count} {noun} in its timeline and a "
            f"summary needs at least {self.min_messages}, so the channel itself is quicker to read."
        )


# Lookarounds instead of \b so that service names such as "payments-api" are not impact words.
IMPACT_RE = re.compile(
    r"(?<![\w-])(?:customers?|users?|clients?|merchants?|tenants?|errors?|error rate|5xx|5\d\ds?|timeouts?|"
    r"timing out|latency|checkout|payments?|log ?ins?|sign ?ins?|failing|outage|degraded|"
    r"unavailable|unreachable|impact(?:ed|ing)?|affect(?:ed|ing|s)?|(?:is|are|was|were|went|still) down)(?![\w-])"
    r"|\d+(?:\.\d+)?\s?%",
    re.IGNORECASE,
)


_TRIED_RE = re.compile(
    r"\b(?:roll(?:ed|ing)? ?back|rollback|revert(?:ed|ing)?|restart(?:ed|ing)?|reboot(?:ed|ing)?|"
    r"bounc(?:ed|ing)|fail(?:ed|ing)? ?over|failover|scal(?:ed|ing)|deploy(?:ed|ing)?|redeploy(?:ed|ing)?|"
    r"hot-?fix(?:ed)?|patch(?:ed|ing)|flush(?:ed|ing)|purg(?:ed|ing)|clear(?:ed|ing)|disabl(?:ed|ing)|"
    r"enabl(?:ed|ing)|drain(?:ed|ing)|block(?:ed|ing)|throttl(?:ed|ing)|rate-?limit(?:ed|ing)|"
    r"increas(?:ed|ing)|bump(?:ed|ing)|mitigat(?:ed|ing)|tried|trying|found|suspect(?:s|ed)?|"
    r"looks like|seems like|identified|confirmed|caused by|culprit)\b",
    re.IGNORECASE,
)


NEXT_RE = re.compile(
    r"\b(?:next(?! time)|will|we'll|i'll|going to|gonna|todo|to-do|follow[- ]?ups?|action items?|"
    r"plan is|planning to|need to|needs to|let's|eta)\b",
    re.IGNORECASE,
)


FINDING_RE = re.compile(
    r"\b(?:found|identified|root cause|caused by|looks like|seems like|suspect(?:s|ed)?|confirmed|"
    r"culprit|the (?:issue|problem) is)\b",
    re.IGNORECASE,
)


_ANSWER_START_RE = re.compile(
    r"^(?:yes|yeah|yep|no|nope|not yet|confirmed|correct|affirmative|negative)\b", re.IGNORECASE
)


_WORD_RE = re.compile(r"[a-z0-9][a-z0-9_\-']{3,}")


_SPACE_RE = re.compile(r"\s+")


_STOPWORDS = frozenset(
    "this that with from have has had been were what when where which while there their they them "
    "then than will would could should does did doing done about into onto over some any anyone "
    "anybody know knows also just like still yet here your yours ours our is are was".split()
)


@dataclass(frozen=True)
class TimelineMessage:
    """A non-deleted message/note with its pre-computed classification."""

    entry: EntryView
    text: str  # whitespace-collapsed, untruncated
    question: bool
    words: frozenset[str]
    lowered: str


def extractive_summary(
    incident: IncidentView,
    entries: Iterable[EntryView],
    *,
    now: datetime,
    min_messages: int = 10,
) -> Summary | NotEnoughTimeline:
    """Summarise an incident for someone catching up, without a model.

    Args:
        incident: The incident record.
        entries: Its timeline, in any order; deleted entries are ignored.
        now: Current time, used for ``generated_at`` and how long an open incident has run.
        min_messages: Fewest non-deleted ``message`` entries worth summarising.

    Returns:
        The summary, or :class:`NotEnoughTimeline` (saying how many messages there are
        and how many are needed) when there are fewer than ``min_messages`` messages.
    """
    live = live_entries(entries)
    message_count = sum(1 for entry in live if entry.kind == "message")
    if message_count < min_messages:
        return NotEnoughTimeline(
            incident_public_id=incident.public_id, message_count=message_count, min_messages=min_messages
        )
    messages = timeline_messages(live)
    statements = [m for m in messages if not m.question]
    events = [entry for entry in live if entry.kind not in MESSAGE_KINDS]
    impact = _impact_points(incident, statements)
    return Summary(
        incident_public_id=incident.public_id,
        incident_title=incident.title,
        generated_at=now,
        message_count=message_count,
        what_is_happening=_happening_points(incident, messages, statements),
        impact=impact,
        status=_status_points(incident, events, now),
        tried=_points(latest_messages([m for m in statements if _is_tried(m.text)], MAX_POINTS_PER_SECTION)),
        who=_who_points(incident, live),
        next_steps=_points(
            latest_messages([m for m in statements if NEXT_RE.search(m.text)], MAX_POINTS_PER_SECTION)
        ),
        unknowns=_unknown_points(incident, messages, impact_known=bool(impact)),
    )


def _happening_points(
    incident: IncidentView, messages: list[TimelineMessage], statements: list[TimelineMessage]
) -> list[Point]:
    """The incident as recorded, how it was first reported, and the latest understanding."""
    record = f"{incident.public_id}: {incident.title} (incident record)"
    if incident.summary:
        record = f"{incident.public_id}: {incident.title}. {truncate_point(collapse_space(incident.summary))} (incident record)"
    points = [Point(text=record)]
    used: set[int] = set()
    if messages:
        first = messages[0]
        points.append(_point(first, prefix="First report: "))
        used.add(first.entry.id)
    findings = [m for m in statements if FINDING_RE.search(m.text) and m.entry.id not in used]
    if findings:
        points.append(_point(findings[-1], prefix="Latest finding: "))
        used.add(findings[-1].entry.id)
    latest = [m for m in statements if m.entry.id not in used]
    if latest:
        points.append(_point(latest[-1], prefix="Latest update: "))
    return points[:MAX_POINTS_PER_SECTION]


def _impact_points(incident: IncidentView, statements: list[TimelineMessage]) -> list[Point]:
    """Declared impact first, then the most recent messages that talk about impact."""
    points = []
    if incident.customer_impact:
        points.append(
            Point(
                text=f"Declared impact: {truncate_point(collapse_space(incident.customer_impact))} (incident record)"
            )
        )
    room = MAX_POINTS_PER_SECTION - len(points)
    points += _points(latest_messages([m for m in statements if IMPACT_RE.search(m.text)], room))
    return points


def _status_points(incident: IncidentView, events: list[EntryView], now: datetime) -> list[Point]:
    """Current status and severity (from the record), then the latest recorded changes."""
    status_events = [entry for entry in events if entry.kind in STATUS_KINDS]
    if incident.resolved_at is not None:
        timing = (
            f"Resolved {utc_stamp(incident.resolved_at)} after "
            f"{format_duration(to_utc(incident.resolved_at) - to_utc(incident.declared_at))}."
        )
    else:
        timing = (
            f"Open for {format_duration(to_utc(now) - to_utc(incident.declared_at))} "
            f"(declared {utc_stamp(incident.declared_at)})."
        )
    latest_by_kind = {entry.kind: entry for entry in status_events}  # later entries overwrite earlier ones
    current = Point(
        text=f"Status: {incident.status}. Severity: {incident.severity}. {timing}",
        citations=[citation_for(entry) for entry in sorted(latest_by_kind.values(), key=entry_order)],
    )
    changes = [
        Point(text=truncate_point(collapse_space(entry.text)), citations=[citation_for(entry)])
        for entry in status_events[-(MAX_POINTS_PER_SECTION - 1) :]
    ]
    return [current, *changes]


def _who_points(incident: IncidentView, live: list[EntryView]) -> list[Point]:
    """Commander first, then the most active authors; the rest are named in one line."""
    counts = Counter(entry.author for entry in live if entry.author)
    latest: dict[str, EntryView] = {}
    for entry in live:
        latest[entry.author] = entry
    points = []
    if incident.commander:
        count = counts.pop(incident.commander, 0)
        cites = [citation_for(latest[incident.commander])] if incident.commander in latest else []
        points.append(
            Point(text=f"{incident.commander}: incident commander, {_entries(count)}", citations=cites)
        )
    # Counter.most_common keeps first-seen order for ties, i.e. who joined first.
    ranked = counts.most_common()
    room = MAX_POINTS_PER_SECTION - len(points)
    shown = ranked if len(ranked) <= room else ranked[: room - 1]
    for author, count in shown:
        points.append(Point(text=f"{author}: {_entries(count)}", citations=[citation_for(latest[author])]))
    rest = ranked[len(shown) :]
    if rest:
        names = ", ".join(author for author, _ in rest[:10])
        more = f" and {len(rest) - 10} more" if len(rest) > 10 else ""
        points.append(Point(text=f"Also involved: {names}{more}"))
    return points


def _unknown_points(
    incident: IncidentView, messages: list[TimelineMessage], *, impact_known: bool
) -> list[Point]:
    """What is not recorded yet, then the most recent questions nobody answered."""
    points = []
    if not (incident.root_cause and incident.root_cause.strip()):
        points.append(Point(text="Root cause not known: none has been recorded on the incident."))
    if not impact_known:
        points.append(
            Point(text="Customer impact not known: none declared and none mentioned in the timeline.")
        )
    room = MAX_POINTS_PER_SECTION - len(points)
    open_questions = _unanswered(messages)
    points += _points(latest_messages(open_questions, room), prefix="Open question: ")
    return points


def _unanswered(messages: list[TimelineMessage]) -> list[TimelineMessage]:
    """Questions with no later message that looks like an answer.

    A later message (not itself a question, by someone else) counts as an answer when
    it names the asker, starts with yes/no/confirmed right after the question, or
    shares at least two content words with the question (all of them when the
    question has fewer). This errs towards "answered": an unknown listed wrongly
    would send people chasing a settled question, one missed is still in the channel.
    """
    questions = []
    for index, question in enumerate(messages):
        if not question.question:
            continue
        asker = question.entry.author
        # Compiled once per question: the inner loop may run over hundreds of messages.
        asker_lower = asker.lower()
        names_asker = re.compile(rf"(?<!\w){re.escape(asker)}(?!\w)", re.IGNORECASE) if asker else None
        needed = min(2, len(question.words))
        answered = False
        for offset, later in enumerate(messages[index + 1 :]):
            if later.question or later.entry.author == asker:
                continue
            answered = (
                (needed > 0 and len(question.words & later.words) >= needed)
                or (offset < 3 and _ANSWER_START_RE.match(later.text) is not None)
                # Substring test first: the regex only confirms word boundaries on the rare hit.
                or (
                    names_asker is not None
                    and asker_lower in later.lowered
                    and names_asker.search(later.text) is not None
                )
            )
            if answered:
                break
        if not answered:
            questions.append(question)
    return questions


def live_entries(entries: Iterable[EntryView]) -> list[EntryView]:
    """Non-deleted entries in time order (id breaks ties, as entries posted together)."""
    return sorted((entry for entry in entries if not entry.deleted), key=entry_order)


def entry_order(entry: EntryView) -> tuple[datetime, int]:
    return to_utc(entry.at), entry.id


def timeline_messages(live: list[EntryView]) -> list[TimelineMessage]:
    """Classify free-text entries once, so each rule is a cheap lookup afterwards."""
    messages = []
    for entry in live:
        if entry.kind not in MESSAGE_KINDS:
            continue
        text = collapse_space(entry.text)
        if not text:
            continue
        lowered = text.lower()
        words = frozenset(word for word in _WORD_RE.findall(lowered) if word not in _STOPWORDS)
        messages.append(
            TimelineMessage(entry=entry, text=text, question=text.endswith("?"), words=words, lowered=lowered)
        )
    return messages


def _is_tried(text: str) -> bool:
    """Whether a message reports something done or found, not just planned."""
    return reports_rule(_TRIED_RE, text)


def reports_rule(pattern: re.Pattern[str], text: str) -> bool:
    """Whether ``pattern`` matches as a report of the past or present, not as a plan.

    "going to roll back" names an action but governed by a future marker, so it is a
    next step; "rolled back, next we watch" reports the action first, so it counts.
    """
    action = pattern.search(text)
    if action is None:
        return False
    plan = NEXT_RE.search(text)
    return plan is None or plan.start() > action.start()


def latest_messages(messages: list[TimelineMessage], limit: int) -> list[TimelineMessage]:
    """The ``limit`` most recent messages, kept in time order."""
    return messages[-limit:] if limit > 0 else []


def _points(messages: list[TimelineMessage], prefix: str = "") -> list[Point]:
    return [_point(m, prefix=prefix) for m in messages]


def _point(message: TimelineMessage, *, prefix: str = "") -> Point:
    return Point(text=prefix + truncate_point(message.text), citations=[citation_for(message.entry)])


def citation_for(entry: EntryView) -> Citation:
    return Citation(entry_id=entry.id, at=entry.at, author=entry.author, permalink=entry.permalink)


def _entries(count: int) -> str:
    return "1 timeline entry" if count == 1 else f"{count} timeline entries"


def collapse_space(text: str | None) -> str:
    return _SPACE_RE.sub(" ", text or "").strip()


def truncate_point(text: str, limit: int = MAX_POINT_CHARS) -> str:
    """Shorten on a word boundary; the citation leads to the full message."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut.rstrip(",;:. ") + "…"


def to_utc(moment: datetime) -> datetime:
    """Aware UTC datetime; naive values are taken to be UTC already (as the store keeps them)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def spans_days(moments: Iterable[datetime]) -> bool:
    return len({to_utc(moment).date() for moment in moments}) > 1


def clock_time(moment: datetime, with_date: bool) -> str:
    """``14:03``, or ``06-02 14:03`` when the times shown span several days."""
    return to_utc(moment).strftime("%m-%d %H:%M" if with_date else "%H:%M")


def utc_stamp(moment: datetime) -> str:
    return to_utc(moment).strftime("%Y-%m-%d %H:%M UTC")

"""Offline (no model) extraction: catch-up summaries and postmortem sections.

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

from agent.postmortems.templates import Template, parse_template, render_template
from agent.serialize import format_duration

__all__ = [
    "DRAFT_BANNER",
    "EXTRACTED_MARKER",
    "MAX_POINTS_PER_SECTION",
    "SUMMARY_SECTIONS",
    "Citation",
    "EntryView",
    "IncidentView",
    "NotEnoughTimeline",
    "Point",
    "Section",
    "Summary",
    "draft_offline_postmortem",
    "extract_ai_sections",
    "extractive_summary",
    "fixed_variables",
    "format_duration",
    "render_summary_markdown",
    "render_summary_slack_mrkdwn",
]

MAX_POINTS_PER_SECTION = 5
"""Upper bound on points per summary section, so a catch-up stays a catch-up."""

MAX_POINT_CHARS = 280
MAX_KEY_TIMELINE_ITEMS = 20
MAX_SECTION_ITEMS = 8

EXTRACTED_MARKER = "_Extracted from the timeline (no model)._"
"""First line of every offline postmortem section, so readers know no model wrote it."""

DRAFT_BANNER = (
    "> **AI-generated first draft.** This postmortem was drafted automatically from the "
    "incident record and its timeline. It needs human review: check every statement against "
    "the cited timeline entries, fill in what is marked as not known, and edit freely before "
    "sharing."
)
"""Banner to put at the top of every drafted postmortem."""

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


# --- inputs --------------------------------------------------------------------------------


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


# --- outputs -------------------------------------------------------------------------------


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


class Section(BaseModel):
    """One drafted postmortem section (the value of an ``ai_*`` template variable)."""

    model_config = ConfigDict(frozen=True)

    text: str = Field(description="Markdown text of the section.")
    citations: list[Citation] = Field(
        default_factory=list, description="Every timeline entry cited in the text."
    )


# --- keyword rules -------------------------------------------------------------------------
# Word lists are deliberately plain: they only decide which entries to quote, and a
# wrong pick is visible (and cited) rather than silently turned into a claim.

# Lookarounds instead of \b so that service names such as "payments-api" are not impact words.
_IMPACT_RE = re.compile(
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
_NEXT_RE = re.compile(
    r"\b(?:next(?! time)|will|we'll|i'll|going to|gonna|todo|to-do|follow[- ]?ups?|action items?|"
    r"plan is|planning to|need to|needs to|let's|eta)\b",
    re.IGNORECASE,
)
_ACTION_ITEM_RE = re.compile(
    r"\b(?:action items?|follow[- ]?ups?|todo|to-do|we should(?! have)|need to|needs to|ticket|"
    r"post-?mortem item|next step)\b",
    re.IGNORECASE,
)
_LESSON_RE = re.compile(
    r"\b(?:lessons?(?: learned)?|should have|shouldn't have|should've|next time|we learned|"
    r"learned that|takeaway|in hindsight|went well|went wrong)\b",
    re.IGNORECASE,
)
_FINDING_RE = re.compile(
    r"\b(?:found|identified|root cause|caused by|looks like|seems like|suspect(?:s|ed)?|confirmed|"
    r"culprit|the (?:issue|problem) is)\b",
    re.IGNORECASE,
)
_FIX_RE = re.compile(
    r"\b(?:roll(?:ed)? ?back|rollback|revert(?:ed)?|restart(?:ed)?|fail(?:ed)? ?over|failover|scaled|"
    r"deployed|hot-?fix(?:ed)?|patched|fix(?:ed)?|mitigated|recovered|resolved)\b",
    re.IGNORECASE,
)
_HYPOTHESIS_RE = re.compile(
    r"\b(?:root cause|caused by|suspect(?:s|ed)?|looks like|seems like|culprit|the (?:issue|problem) is)\b",
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
class _Message:
    """A non-deleted message/note with its pre-computed classification."""

    entry: EntryView
    text: str  # whitespace-collapsed, untruncated
    question: bool
    words: frozenset[str]
    lowered: str


# --- public functions ----------------------------------------------------------------------


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
    live = _live(entries)
    message_count = sum(1 for entry in live if entry.kind == "message")
    if message_count < min_messages:
        return NotEnoughTimeline(
            incident_public_id=incident.public_id, message_count=message_count, min_messages=min_messages
        )
    messages = _messages(live)
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
        tried=_points(_recent([m for m in statements if _is_tried(m.text)], MAX_POINTS_PER_SECTION)),
        who=_who_points(incident, live),
        next_steps=_points(
            _recent([m for m in statements if _NEXT_RE.search(m.text)], MAX_POINTS_PER_SECTION)
        ),
        unknowns=_unknown_points(incident, messages, impact_known=bool(impact)),
    )


def extract_ai_sections(incident: IncidentView, entries: Iterable[EntryView]) -> dict[str, Section]:
    """Draft every AI postmortem section offline, by extraction.

    Args:
        incident: The incident record.
        entries: Its timeline, in any order; deleted entries are ignored.

    Returns:
        Section name -> section, for ``summary``, ``system_overview``, ``key_timeline``,
        ``customer_impact``, ``action_items``, ``lessons_learned`` and ``root_cause``
        (the ``ai_*`` template variables without the prefix). Each text starts with
        :data:`EXTRACTED_MARKER` and cites entries as ``[#<id> 14:03 alice]``.
    """
    live = _live(entries)
    messages = _messages(live)
    statements = [m for m in messages if not m.question]
    events = [entry for entry in live if entry.kind not in MESSAGE_KINDS]
    with_date = _spans_days([incident.declared_at, *(entry.at for entry in live)])
    builders = {
        "summary": _ai_summary,
        "system_overview": _ai_system_overview,
        "key_timeline": _ai_key_timeline,
        "customer_impact": _ai_customer_impact,
        "action_items": _ai_action_items,
        "lessons_learned": _ai_lessons_learned,
        "root_cause": _ai_root_cause,
    }
    sections: dict[str, Section] = {}
    for name, build in builders.items():
        lines, cited = build(incident, statements, events, with_date)
        body = "\n".join(lines).strip()
        sections[name] = Section(
            text=f"{EXTRACTED_MARKER}\n\n{body}",
            citations=[_citation(entry) for entry in _unique(cited)],
        )
    return sections


def fixed_variables(
    incident: IncidentView, entries: Iterable[EntryView], *, now: datetime | None = None
) -> dict[str, str]:
    """Values for the fixed template variables (``{{incident.title}}``...).

    Args:
        incident: The incident record.
        entries: Its timeline, in any order; deleted entries are left out of ``timeline``.
        now: Current time; when given, an open incident's duration says how long it has run so far.

    Returns:
        Field name -> Markdown value. Fields with nothing recorded are left out, so
        :func:`agent.postmortems.templates.render_template` shows them as not known.
    """
    live = _live(entries)
    with_date = _spans_days([incident.declared_at, *(entry.at for entry in live)])
    values: dict[str, str | None] = {
        "title": incident.title,
        "public_id": incident.public_id,
        "severity": incident.severity,
        "status": incident.status,
        "declared_at": _timestamp(incident.declared_at),
        "resolved_at": _timestamp(incident.resolved_at) if incident.resolved_at else None,
        "commander": incident.commander,
        "services": ", ".join(incident.services),
        "customer_impact": incident.customer_impact,
        "root_cause": incident.root_cause,
        "remediation": incident.remediation,
    }
    if incident.resolved_at is not None:
        values["duration"] = format_duration(_utc(incident.resolved_at) - _utc(incident.declared_at))
    elif now is not None:
        values["duration"] = f"ongoing ({format_duration(_utc(now) - _utc(incident.declared_at))} so far)"
    timeline = []
    for entry in live:
        when = _clock(entry.at, with_date)
        if entry.permalink:
            when = f"[{when}]({entry.permalink})"
        timeline.append(f"- **{when}** {entry.author}: {_collapse(entry.text)}")
    values["timeline"] = "\n".join(timeline)
    return {key: value for key, value in values.items() if value and value.strip()}


def draft_offline_postmortem(
    template: Template | str,
    incident: IncidentView,
    entries: Iterable[EntryView],
    *,
    now: datetime | None = None,
) -> str:
    """Render a postmortem template offline: record fields plus extracted AI sections.

    Args:
        template: Parsed template or template source.
        incident: The incident record.
        entries: Its timeline, in any order; deleted entries are ignored.
        now: Current time, for the duration of an open incident.

    Returns:
        The rendered Markdown, headed by :data:`DRAFT_BANNER` when the template uses
        AI variables (a template of record fields only is not a generated draft).

    Raises:
        agent.postmortems.templates.TemplateValidationError: If ``template`` is invalid source.
    """
    parsed = parse_template(template) if isinstance(template, str) else template
    timeline = list(entries)  # read twice below; the caller may pass a generator
    sections = extract_ai_sections(incident, timeline) if parsed.uses_ai else {}
    body = render_template(
        parsed,
        fixed_variables(incident, timeline, now=now),
        {name: section.text for name, section in sections.items()},
    )
    return f"{DRAFT_BANNER}\n\n{body}" if parsed.uses_ai else body


def render_summary_markdown(summary: Summary) -> str:
    """Render a summary as Markdown, with a citation after every point.

    Args:
        summary: The summary to render.

    Returns:
        Markdown text; empty sections say "_Not known._".
    """
    with_date = _spans_days(_summary_times(summary))
    how = "Extracted from the timeline (no model)" if summary.method == "extractive" else "Written by a model"
    lines = [
        f"## Catch-up: {summary.incident_public_id}: {summary.incident_title}",
        "",
        f"_{how}, from {summary.message_count} messages; {_timestamp(summary.generated_at)}. Times are UTC._",
    ]
    for field, heading in SUMMARY_SECTIONS:
        lines += ["", f"### {heading}", ""]
        points: list[Point] = getattr(summary, field)
        if not points:
            lines.append("- _Not known._")
        for point in points:
            cites = " ".join(_markdown_citation(c, with_date) for c in point.citations)
            lines.append(f"- {point.text}" + (f" {cites}" if cites else ""))
    return "\n".join(lines) + "\n"


def render_summary_slack_mrkdwn(summary: Summary) -> str:
    """Render a summary as Slack mrkdwn.

    Citations look like ``[14:03 alice]``, linked as ``[<url|14:03 alice>]`` when the
    entry has a permalink. Text is escaped for Slack, keeping Slack's own
    ``<@U123>`` mentions and ``<url|label>`` links intact.

    Args:
        summary: The summary to render.

    Returns:
        Slack mrkdwn text; empty sections say "_Not known._".
    """
    with_date = _spans_days(_summary_times(summary))
    how = "Extracted from the timeline (no model)" if summary.method == "extractive" else "Written by a model"
    lines = [
        f"*Catch-up: {_slack_escape(summary.incident_public_id)}: {_slack_escape(summary.incident_title)}*",
        f"_{how}, from {summary.message_count} messages. Times are UTC._",
    ]
    for field, heading in SUMMARY_SECTIONS:
        lines += ["", f"*{heading}*"]
        points: list[Point] = getattr(summary, field)
        if not points:
            lines.append("• _Not known._")
        for point in points:
            cites = " ".join(_slack_citation(c, with_date) for c in point.citations)
            lines.append(f"• {_slack_escape(point.text)}" + (f" {cites}" if cites else ""))
    return "\n".join(lines)


# --- summary sections ----------------------------------------------------------------------


def _happening_points(
    incident: IncidentView, messages: list[_Message], statements: list[_Message]
) -> list[Point]:
    """The incident as recorded, how it was first reported, and the latest understanding."""
    record = f"{incident.public_id}: {incident.title} (incident record)"
    if incident.summary:
        record = f"{incident.public_id}: {incident.title}. {_truncate(_collapse(incident.summary))} (incident record)"
    points = [Point(text=record)]
    used: set[int] = set()
    if messages:
        first = messages[0]
        points.append(_point(first, prefix="First report: "))
        used.add(first.entry.id)
    findings = [m for m in statements if _FINDING_RE.search(m.text) and m.entry.id not in used]
    if findings:
        points.append(_point(findings[-1], prefix="Latest finding: "))
        used.add(findings[-1].entry.id)
    latest = [m for m in statements if m.entry.id not in used]
    if latest:
        points.append(_point(latest[-1], prefix="Latest update: "))
    return points[:MAX_POINTS_PER_SECTION]


def _impact_points(incident: IncidentView, statements: list[_Message]) -> list[Point]:
    """Declared impact first, then the most recent messages that talk about impact."""
    points = []
    if incident.customer_impact:
        points.append(
            Point(text=f"Declared impact: {_truncate(_collapse(incident.customer_impact))} (incident record)")
        )
    room = MAX_POINTS_PER_SECTION - len(points)
    points += _points(_recent([m for m in statements if _IMPACT_RE.search(m.text)], room))
    return points


def _status_points(incident: IncidentView, events: list[EntryView], now: datetime) -> list[Point]:
    """Current status and severity (from the record), then the latest recorded changes."""
    status_events = [entry for entry in events if entry.kind in STATUS_KINDS]
    if incident.resolved_at is not None:
        timing = (
            f"Resolved {_timestamp(incident.resolved_at)} after "
            f"{format_duration(_utc(incident.resolved_at) - _utc(incident.declared_at))}."
        )
    else:
        timing = (
            f"Open for {format_duration(_utc(now) - _utc(incident.declared_at))} "
            f"(declared {_timestamp(incident.declared_at)})."
        )
    latest_by_kind = {entry.kind: entry for entry in status_events}  # later entries overwrite earlier ones
    current = Point(
        text=f"Status: {incident.status}. Severity: {incident.severity}. {timing}",
        citations=[_citation(entry) for entry in sorted(latest_by_kind.values(), key=_entry_key)],
    )
    changes = [
        Point(text=_truncate(_collapse(entry.text)), citations=[_citation(entry)])
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
        cites = [_citation(latest[incident.commander])] if incident.commander in latest else []
        points.append(
            Point(text=f"{incident.commander}: incident commander, {_entries(count)}", citations=cites)
        )
    # Counter.most_common keeps first-seen order for ties, i.e. who joined first.
    ranked = counts.most_common()
    room = MAX_POINTS_PER_SECTION - len(points)
    shown = ranked if len(ranked) <= room else ranked[: room - 1]
    for author, count in shown:
        points.append(Point(text=f"{author}: {_entries(count)}", citations=[_citation(latest[author])]))
    rest = ranked[len(shown) :]
    if rest:
        names = ", ".join(author for author, _ in rest[:10])
        more = f" and {len(rest) - 10} more" if len(rest) > 10 else ""
        points.append(Point(text=f"Also involved: {names}{more}"))
    return points


def _unknown_points(incident: IncidentView, messages: list[_Message], *, impact_known: bool) -> list[Point]:
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
    points += _points(_recent(open_questions, room), prefix="Open question: ")
    return points


def _unanswered(messages: list[_Message]) -> list[_Message]:
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


# --- postmortem sections -------------------------------------------------------------------

_Built = tuple[list[str], list[EntryView]]


def _ai_summary(
    incident: IncidentView, statements: list[_Message], events: list[EntryView], with_date: bool
) -> _Built:
    """A short factual paragraph from the record, plus the first report and latest fix."""
    state = f"is {incident.status}"
    if incident.resolved_at is not None:
        duration = format_duration(_utc(incident.resolved_at) - _utc(incident.declared_at))
        state = f"was resolved at {_timestamp(incident.resolved_at)} after {duration}"
    sentences = [
        f"{incident.title} ({incident.public_id}) was declared at {_timestamp(incident.declared_at)} "
        f"with severity {incident.severity} and {state}."
    ]
    if incident.summary:
        sentences.append(_collapse(incident.summary))
    if incident.services:
        sentences.append(f"Affected services: {', '.join(incident.services)}")
    sentences.append(
        f"Customer impact: {_collapse(incident.customer_impact)}"
        if incident.customer_impact
        else "Customer impact: not known"
    )
    sentences.append(
        f"Root cause: {_collapse(incident.root_cause)}"
        if incident.root_cause and incident.root_cause.strip()
        else "Root cause: not known (none has been recorded)"
    )
    lines = [" ".join(_sentence(sentence) for sentence in sentences)]
    cited: list[EntryView] = []
    if statements:
        first = statements[0]
        lines += ["", f"- First report: {_quote(first)} {_ref(first.entry, with_date)}"]
        cited.append(first.entry)
        fixes = [m for m in statements[1:] if _reports(_FIX_RE, m.text)]
        if fixes:
            lines.append(
                f"- Latest fix or mitigation: {_quote(fixes[-1])} {_ref(fixes[-1].entry, with_date)}"
            )
            cited.append(fixes[-1].entry)
    return lines, cited


def _ai_system_overview(
    incident: IncidentView, statements: list[_Message], events: list[EntryView], with_date: bool
) -> _Built:
    """The recorded services, and the latest messages that mention them."""
    if not incident.services:
        return ["_Not known: no services were recorded for this incident._"], []
    lines = ["Services affected: " + ", ".join(f"`{service}`" for service in incident.services) + "."]
    patterns = [
        re.compile(rf"(?<![\w-]){re.escape(service)}(?![\w-])", re.IGNORECASE)
        for service in incident.services
    ]
    mentions = _recent(
        [m for m in statements if any(pattern.search(m.text) for pattern in patterns)], MAX_POINTS_PER_SECTION
    )
    if mentions:
        lines += ["", "Mentioned in the timeline:", ""]
        lines += [f"- {_quote(m)} {_ref(m.entry, with_date)}" for m in mentions]
    return lines, [m.entry for m in mentions]


def _ai_key_timeline(
    incident: IncidentView, statements: list[_Message], events: list[EntryView], with_date: bool
) -> _Built:
    """Record milestones, events (status/severity changes...) and key finding/fix messages."""
    # (time, tie-breaker, line, cited entry); the record milestones have no entry to cite.
    items: list[tuple[datetime, int, str, EntryView | None]] = [
        (
            _utc(incident.declared_at),
            -1,
            f"- **{_clock(incident.declared_at, with_date)}** Incident declared (incident record).",
            None,
        )
    ]
    for label, moment in (("Marked stable", incident.stable_at), ("Resolved", incident.resolved_at)):
        if moment is not None:
            items.append(
                (_utc(moment), 1 << 62, f"- **{_clock(moment, with_date)}** {label} (incident record).", None)
            )
    room = MAX_KEY_TIMELINE_ITEMS - len(items)
    chosen_events = events[-(room // 2) :] if room // 2 else []
    room -= len(chosen_events)
    key_messages = _recent(
        [m for m in statements if _reports(_FINDING_RE, m.text) or _reports(_FIX_RE, m.text)], room
    )
    for entry in [*chosen_events, *(m.entry for m in key_messages)]:
        line = (
            f"- **{_clock(entry.at, with_date)}** {_truncate(_collapse(entry.text))} {_ref(entry, with_date)}"
        )
        items.append((_utc(entry.at), entry.id, line, entry))
    items.sort(key=lambda item: (item[0], item[1]))
    return [line for _, _, line, _ in items], [entry for *_, entry in items if entry is not None]


def _ai_customer_impact(
    incident: IncidentView, statements: list[_Message], events: list[EntryView], with_date: bool
) -> _Built:
    """Declared impact, then the latest messages that talk about impact."""
    mentions = _recent([m for m in statements if _IMPACT_RE.search(m.text)], MAX_POINTS_PER_SECTION)
    lines = []
    if incident.customer_impact:
        lines.append(f"Declared impact (incident record): {_collapse(incident.customer_impact)}")
    if mentions:
        lines += ["", "From the timeline:", ""] if lines else ["From the timeline:", ""]
        lines += [f"- {_quote(m)} {_ref(m.entry, with_date)}" for m in mentions]
    if not lines:
        lines = ["_Not known: no customer impact was recorded._"]
    return lines, [m.entry for m in mentions]


def _ai_action_items(
    incident: IncidentView, statements: list[_Message], events: list[EntryView], with_date: bool
) -> _Built:
    """Recorded remediation, then follow-ups mentioned in the timeline, as a checklist."""
    items = _recent([m for m in statements if _ACTION_ITEM_RE.search(m.text)], MAX_SECTION_ITEMS)
    lines = []
    if incident.remediation:
        lines.append(f"Remediation recorded on the incident: {_collapse(incident.remediation)}")
    if items:
        lines += (
            ["", "Follow-ups mentioned in the timeline (confirm owners and due dates):", ""]
            if lines
            else [
                "Follow-ups mentioned in the timeline (confirm owners and due dates):",
                "",
            ]
        )
        lines += [f"- [ ] {_quote(m)} {_ref(m.entry, with_date)}" for m in items]
    if not lines:
        lines = ["_Not known: no follow-up actions were recorded in the timeline._"]
    return lines, [m.entry for m in items]


def _ai_lessons_learned(
    incident: IncidentView, statements: list[_Message], events: list[EntryView], with_date: bool
) -> _Built:
    """Only lessons people actually wrote down; nothing is inferred."""
    lessons = _recent([m for m in statements if _LESSON_RE.search(m.text)], MAX_POINTS_PER_SECTION)
    if not lessons:
        return ["_Not known: no lessons were recorded in the timeline._"], []
    return [f"- {_quote(m)} {_ref(m.entry, with_date)}" for m in lessons], [m.entry for m in lessons]


def _ai_root_cause(
    incident: IncidentView, statements: list[_Message], events: list[EntryView], with_date: bool
) -> _Built:
    """The stored root cause only; timeline hypotheses are quoted as unconfirmed."""
    discussion = _recent([m for m in statements if _HYPOTHESIS_RE.search(m.text)], 3)
    if incident.root_cause and incident.root_cause.strip():
        lines = [f"{_collapse(incident.root_cause)} (incident record)"]
        heading = "Related discussion in the timeline:"
    else:
        lines = ["_Not known: no root cause has been recorded for this incident._"]
        heading = "Hypotheses mentioned in the timeline (unconfirmed, not a root cause):"
    if discussion:
        lines += ["", heading, ""]
        lines += [f"- {_quote(m)} {_ref(m.entry, with_date)}" for m in discussion]
    return lines, [m.entry for m in discussion]


# --- helpers -------------------------------------------------------------------------------


def _live(entries: Iterable[EntryView]) -> list[EntryView]:
    """Non-deleted entries in time order (id breaks ties, as entries posted together)."""
    return sorted((entry for entry in entries if not entry.deleted), key=_entry_key)


def _entry_key(entry: EntryView) -> tuple[datetime, int]:
    return _utc(entry.at), entry.id


def _messages(live: list[EntryView]) -> list[_Message]:
    """Classify free-text entries once, so each rule is a cheap lookup afterwards."""
    messages = []
    for entry in live:
        if entry.kind not in MESSAGE_KINDS:
            continue
        text = _collapse(entry.text)
        if not text:
            continue
        lowered = text.lower()
        words = frozenset(word for word in _WORD_RE.findall(lowered) if word not in _STOPWORDS)
        messages.append(
            _Message(entry=entry, text=text, question=text.endswith("?"), words=words, lowered=lowered)
        )
    return messages


def _is_tried(text: str) -> bool:
    """Whether a message reports something done or found, not just planned."""
    return _reports(_TRIED_RE, text)


def _reports(pattern: re.Pattern[str], text: str) -> bool:
    """Whether ``pattern`` matches as a report of the past or present, not as a plan.

    "going to roll back" names an action but governed by a future marker, so it is a
    next step; "rolled back, next we watch" reports the action first, so it counts.
    """
    action = pattern.search(text)
    if action is None:
        return False
    plan = _NEXT_RE.search(text)
    return plan is None or plan.start() > action.start()


def _recent(messages: list[_Message], limit: int) -> list[_Message]:
    """The ``limit`` most recent messages, kept in time order."""
    return messages[-limit:] if limit > 0 else []


def _points(messages: list[_Message], prefix: str = "") -> list[Point]:
    return [_point(m, prefix=prefix) for m in messages]


def _point(message: _Message, *, prefix: str = "") -> Point:
    return Point(text=prefix + _truncate(message.text), citations=[_citation(message.entry)])


def _citation(entry: EntryView) -> Citation:
    return Citation(entry_id=entry.id, at=entry.at, author=entry.author, permalink=entry.permalink)


def _unique(entries: Iterable[EntryView]) -> list[EntryView]:
    seen: dict[int, EntryView] = {}
    for entry in entries:
        seen.setdefault(entry.id, entry)
    return sorted(seen.values(), key=_entry_key)


def _entries(count: int) -> str:
    return "1 timeline entry" if count == 1 else f"{count} timeline entries"


def _collapse(text: str | None) -> str:
    return _SPACE_RE.sub(" ", text or "").strip()


def _truncate(text: str, limit: int = MAX_POINT_CHARS) -> str:
    """Shorten on a word boundary; the citation leads to the full message."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut.rstrip(",;:. ") + "…"


def _sentence(text: str) -> str:
    """End with a full stop unless the text already ends with punctuation."""
    text = text.strip()
    return text if not text or text[-1] in ".!?…" else text + "."


def _quote(message: _Message) -> str:
    return f"“{_truncate(message.text)}”"


def _utc(moment: datetime) -> datetime:
    """Aware UTC datetime; naive values are taken to be UTC already (as the store keeps them)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _spans_days(moments: Iterable[datetime]) -> bool:
    return len({_utc(moment).date() for moment in moments}) > 1


def _clock(moment: datetime, with_date: bool) -> str:
    """``14:03``, or ``06-02 14:03`` when the times shown span several days."""
    return _utc(moment).strftime("%m-%d %H:%M" if with_date else "%H:%M")


def _timestamp(moment: datetime) -> str:
    return _utc(moment).strftime("%Y-%m-%d %H:%M UTC")


def _ref(entry: EntryView, with_date: bool) -> str:
    """Postmortem citation ``[#12 14:03 alice]``, linked when there is a permalink."""
    label = f"[#{entry.id} {_clock(entry.at, with_date)} {entry.author}]"
    return f"{label}({entry.permalink})" if entry.permalink else label


def _summary_times(summary: Summary) -> list[datetime]:
    return [
        citation.at
        for field, _ in SUMMARY_SECTIONS
        for point in getattr(summary, field)
        for citation in point.citations
    ]


def _markdown_citation(citation: Citation, with_date: bool) -> str:
    label = f"{_clock(citation.at, with_date)} {citation.author}"
    return f"[{label}]({citation.permalink})" if citation.permalink else f"[{label}]"


_SLACK_TOKEN_RE = re.compile(r"<(?:[@#!][^<>\s]+|https?://[^<>\s]+)>")


def _slack_escape(text: str) -> str:
    """Escape ``&``, ``<`` and ``>`` for Slack, keeping Slack's own ``<...>`` tokens."""
    parts = []
    position = 0
    for token in _SLACK_TOKEN_RE.finditer(text):
        parts.append(_slack_escape_plain(text[position : token.start()]))
        parts.append(token.group())
        position = token.end()
    parts.append(_slack_escape_plain(text[position:]))
    return "".join(parts)


def _slack_escape_plain(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_citation(citation: Citation, with_date: bool) -> str:
    label = _slack_escape(f"{_clock(citation.at, with_date)} {citation.author}").replace("|", "/")
    return f"[<{citation.permalink}|{label}>]" if citation.permalink else f"[{label}]"

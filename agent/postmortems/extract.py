"""Offline (no model) postmortem sections and drafts, quoted and cited from the timeline.

The timeline is read with the views and keyword rules of `agent.summaries.extract`, so a postmortem
section cites entries exactly as a catch-up summary does; the same honesty rules hold (see there): a
root cause is only ever the one stored on the incident, hypotheses are quoted as unconfirmed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from agent.postmortems.templates import Template, parse_template, render_template
from agent.serialize import format_duration
from agent.summaries.extract import (
    FINDING_RE,
    IMPACT_RE,
    MAX_POINTS_PER_SECTION,
    MESSAGE_KINDS,
    Citation,
    EntryView,
    IncidentView,
    TimelineMessage,
    citation_for,
    clock_time,
    collapse_space,
    entry_order,
    latest_messages,
    live_entries,
    reports_rule,
    spans_days,
    timeline_messages,
    to_utc,
    truncate_point,
    utc_stamp,
)

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


class Section(BaseModel):
    """One drafted postmortem section (the value of an ``ai_*`` template variable)."""

    model_config = ConfigDict(frozen=True)

    text: str = Field(description="Markdown text of the section.")
    citations: list[Citation] = Field(
        default_factory=list, description="Every timeline entry cited in the text."
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


_FIX_RE = re.compile(
    r"\b(?:roll(?:ed)? ?back|rollback|revert(?:ed)?|restart(?:ed)?|fail(?:ed)? ?over|failover|scaled|"
    r"deployed|hot-?fix(?:ed)?|patched|fix(?:ed)?|mitigated|recovered|resolved)\b",
    re.IGNORECASE,
)


_HYPOTHESIS_RE = re.compile(
    r"\b(?:root cause|caused by|suspect(?:s|ed)?|looks like|seems like|culprit|the (?:issue|problem) is)\b",
    re.IGNORECASE,
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
    live = live_entries(entries)
    messages = timeline_messages(live)
    statements = [m for m in messages if not m.question]
    events = [entry for entry in live if entry.kind not in MESSAGE_KINDS]
    with_date = spans_days([incident.declared_at, *(entry.at for entry in live)])
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
            citations=[citation_for(entry) for entry in _unique(cited)],
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
    live = live_entries(entries)
    with_date = spans_days([incident.declared_at, *(entry.at for entry in live)])
    values: dict[str, str | None] = {
        "title": incident.title,
        "public_id": incident.public_id,
        "severity": incident.severity,
        "status": incident.status,
        "declared_at": utc_stamp(incident.declared_at),
        "resolved_at": utc_stamp(incident.resolved_at) if incident.resolved_at else None,
        "commander": incident.commander,
        "services": ", ".join(incident.services),
        "customer_impact": incident.customer_impact,
        "root_cause": incident.root_cause,
        "remediation": incident.remediation,
    }
    if incident.resolved_at is not None:
        values["duration"] = format_duration(to_utc(incident.resolved_at) - to_utc(incident.declared_at))
    elif now is not None:
        values["duration"] = f"ongoing ({format_duration(to_utc(now) - to_utc(incident.declared_at))} so far)"
    timeline = []
    for entry in live:
        when = clock_time(entry.at, with_date)
        if entry.permalink:
            when = f"[{when}]({entry.permalink})"
        timeline.append(f"- **{when}** {entry.author}: {collapse_space(entry.text)}")
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


_Built = tuple[list[str], list[EntryView]]


def _ai_summary(
    incident: IncidentView, statements: list[TimelineMessage], events: list[EntryView], with_date: bool
) -> _Built:
    """A short factual paragraph from the record, plus the first report and latest fix."""
    state = f"is {incident.status}"
    if incident.resolved_at is not None:
        duration = format_duration(to_utc(incident.resolved_at) - to_utc(incident.declared_at))
        state = f"was resolved at {utc_stamp(incident.resolved_at)} after {duration}"
    sentences = [
        f"{incident.title} ({incident.public_id}) was declared at {utc_stamp(incident.declared_at)} "
        f"with severity {incident.severity} and {state}."
    ]
    if incident.summary:
        sentences.append(collapse_space(incident.summary))
    if incident.services:
        sentences.append(f"Affected services: {', '.join(incident.services)}")
    sentences.append(
        f"Customer impact: {collapse_space(incident.customer_impact)}"
        if incident.customer_impact
        else "Customer impact: not known"
    )
    sentences.append(
        f"Root cause: {collapse_space(incident.root_cause)}"
        if incident.root_cause and incident.root_cause.strip()
        else "Root cause: not known (none has been recorded)"
    )
    lines = [" ".join(_sentence(sentence) for sentence in sentences)]
    cited: list[EntryView] = []
    if statements:
        first = statements[0]
        lines += ["", f"- First report: {_quote(first)} {_ref(first.entry, with_date)}"]
        cited.append(first.entry)
        fixes = [m for m in statements[1:] if reports_rule(_FIX_RE, m.text)]
        if fixes:
            lines.append(
                f"- Latest fix or mitigation: {_quote(fixes[-1])} {_ref(fixes[-1].entry, with_date)}"
            )
            cited.append(fixes[-1].entry)
    return lines, cited


def _ai_system_overview(
    incident: IncidentView, statements: list[TimelineMessage], events: list[EntryView], with_date: bool
) -> _Built:
    """The recorded services, and the latest messages that mention them."""
    if not incident.services:
        return ["_Not known: no services were recorded for this incident._"], []
    lines = ["Services affected: " + ", ".join(f"`{service}`" for service in incident.services) + "."]
    patterns = [
        re.compile(rf"(?<![\w-]){re.escape(service)}(?![\w-])", re.IGNORECASE)
        for service in incident.services
    ]
    mentions = latest_messages(
        [m for m in statements if any(pattern.search(m.text) for pattern in patterns)], MAX_POINTS_PER_SECTION
    )
    if mentions:
        lines += ["", "Mentioned in the timeline:", ""]
        lines += [f"- {_quote(m)} {_ref(m.entry, with_date)}" for m in mentions]
    return lines, [m.entry for m in mentions]


def _ai_key_timeline(
    incident: IncidentView, statements: list[TimelineMessage], events: list[EntryView], with_date: bool
) -> _Built:
    """Record milestones, events (status/severity changes...) and key finding/fix messages."""
    # (time, tie-breaker, line, cited entry); the record milestones have no entry to cite.
    items: list[tuple[datetime, int, str, EntryView | None]] = [
        (
            to_utc(incident.declared_at),
            -1,
            f"- **{clock_time(incident.declared_at, with_date)}** Incident declared (incident record).",
            None,
        )
    ]
    for label, moment in (("Marked stable", incident.stable_at), ("Resolved", incident.resolved_at)):
        if moment is not None:
            items.append(
                (
                    to_utc(moment),
                    1 << 62,
                    f"- **{clock_time(moment, with_date)}** {label} (incident record).",
                    None,
                )
            )
    room = MAX_KEY_TIMELINE_ITEMS - len(items)
    chosen_events = events[-(room // 2) :] if room // 2 else []
    room -= len(chosen_events)
    key_messages = latest_messages(
        [m for m in statements if reports_rule(FINDING_RE, m.text) or reports_rule(_FIX_RE, m.text)], room
    )
    for entry in [*chosen_events, *(m.entry for m in key_messages)]:
        line = f"- **{clock_time(entry.at, with_date)}** {truncate_point(collapse_space(entry.text))} {_ref(entry, with_date)}"
        items.append((to_utc(entry.at), entry.id, line, entry))
    items.sort(key=lambda item: (item[0], item[1]))
    return [line for _, _, line, _ in items], [entry for *_, entry in items if entry is not None]


def _ai_customer_impact(
    incident: IncidentView, statements: list[TimelineMessage], events: list[EntryView], with_date: bool
) -> _Built:
    """Declared impact, then the latest messages that talk about impact."""
    mentions = latest_messages([m for m in statements if IMPACT_RE.search(m.text)], MAX_POINTS_PER_SECTION)
    lines = []
    if incident.customer_impact:
        lines.append(f"Declared impact (incident record): {collapse_space(incident.customer_impact)}")
    if mentions:
        lines += ["", "From the timeline:", ""] if lines else ["From the timeline:", ""]
        lines += [f"- {_quote(m)} {_ref(m.entry, with_date)}" for m in mentions]
    if not lines:
        lines = ["_Not known: no customer impact was recorded._"]
    return lines, [m.entry for m in mentions]


def _ai_action_items(
    incident: IncidentView, statements: list[TimelineMessage], events: list[EntryView], with_date: bool
) -> _Built:
    """Recorded remediation, then follow-ups mentioned in the timeline, as a checklist."""
    items = latest_messages([m for m in statements if _ACTION_ITEM_RE.search(m.text)], MAX_SECTION_ITEMS)
    lines = []
    if incident.remediation:
        lines.append(f"Remediation recorded on the incident: {collapse_space(incident.remediation)}")
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
    incident: IncidentView, statements: list[TimelineMessage], events: list[EntryView], with_date: bool
) -> _Built:
    """Only lessons people actually wrote down; nothing is inferred."""
    lessons = latest_messages([m for m in statements if _LESSON_RE.search(m.text)], MAX_POINTS_PER_SECTION)
    if not lessons:
        return ["_Not known: no lessons were recorded in the timeline._"], []
    return [f"- {_quote(m)} {_ref(m.entry, with_date)}" for m in lessons], [m.entry for m in lessons]


def _ai_root_cause(
    incident: IncidentView, statements: list[TimelineMessage], events: list[EntryView], with_date: bool
) -> _Built:
    """The stored root cause only; timeline hypotheses are quoted as unconfirmed."""
    discussion = latest_messages([m for m in statements if _HYPOTHESIS_RE.search(m.text)], 3)
    if incident.root_cause and incident.root_cause.strip():
        lines = [f"{collapse_space(incident.root_cause)} (incident record)"]
        heading = "Related discussion in the timeline:"
    else:
        lines = ["_Not known: no root cause has been recorded for this incident._"]
        heading = "Hypotheses mentioned in the timeline (unconfirmed, not a root cause):"
    if discussion:
        lines += ["", heading, ""]
        lines += [f"- {_quote(m)} {_ref(m.entry, with_date)}" for m in discussion]
    return lines, [m.entry for m in discussion]


def _unique(entries: Iterable[EntryView]) -> list[EntryView]:
    seen: dict[int, EntryView] = {}
    for entry in entries:
        seen.setdefault(entry.id, entry)
    return sorted(seen.values(), key=entry_order)


def _sentence(text: str) -> str:
    """End with a full stop unless the text already ends with punctuation."""
    text = text.strip()
    return text if not text or text[-1] in ".!?…" else text + "."


def _quote(message: TimelineMessage) -> str:
    return f"“{truncate_point(message.text)}”"


def _ref(entry: EntryView, with_date: bool) -> str:
    """Postmortem citation ``[#12 14:03 alice]``, linked when there is a permalink."""
    label = f"[#{entry.id} {clock_time(entry.at, with_date)} {entry.author}]"
    return f"{label}({entry.permalink})" if entry.permalink else label

"""Block Kit builders: answers, incident lists, confirmations, outcomes, catch-ups and help.

Every builder returns plain lists of block dicts (what `chat.postMessage` takes) and stays inside Slack's
limits: 50 blocks a message, 3,000 characters a section, 12,000 for a markdown block.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from agent.serialize import format_duration
from prompts import slack as slack_text

Block = dict[str, Any]

CONFIRM_ACTION = "incident_confirm"
"""`action_id` of the Confirm button."""

CANCEL_ACTION = "incident_cancel"
"""`action_id` of the Cancel button."""

MAX_LISTED = 10
"""Incidents shown as sections under an answer; the answer's text already carries the counts."""

MAX_SECTION_CHARS = 3000
MAX_MARKDOWN_CHARS = 12000

_LIST_ITEM_RE = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+(?:\*\*|\*|_)?(incident-\d+)\b", re.IGNORECASE)
_REASONS_RE = re.compile(r"\((?:matched|why|reasons?):\s*(.*)\)\s*$", re.IGNORECASE)

SEVERITY_EMOJI = {
    "SEV-1": ":red_circle:",
    "SEV-2": ":large_orange_circle:",
    "SEV-3": ":large_yellow_circle:",
    "SEV-4": ":large_blue_circle:",
    "SEV-5": ":white_circle:",
}

HELP_TEXT = (
    "*Incident Copilot*: mention me with a question, e.g. _@Incident Copilot how many incidents are "
    "ongoing?_, or use `/incident`:\n"
    "• `/incident summary [incident-123]`: catch up on an incident (only you see it)\n"
    "• `/incident related [past month]`: related incidents (active in the past 2 hours, or in a time frame)\n"
    "• `/incident declare <title> [sev2] [service ...]`: declare an incident\n"
    "• `/incident severity <sev1..sev5> [incident-123]`: change the severity\n"
    "• `/incident status <active|stable|resolved|completed> [incident-123]`: change the status\n"
    "• `/incident help`: this text\n"
    "In an `incident-` channel, _this incident_ means the channel's incident. Changes are shown first and "
    "apply only once someone allowed to change the incident presses Confirm."
)


def escape(text: str) -> str:
    """Returns text with the three characters Slack mrkdwn reserves escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str | None, label: str) -> str:
    """Returns a mrkdwn link, or the escaped label alone when there is no address."""
    return f"<{url}|{escape(label)}>" if url else escape(label)


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, MAX_SECTION_CHARS)}}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(text, MAX_SECTION_CHARS)}]}


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not value:
        return None
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def incident_line(brief: Mapping[str, Any], *, now: datetime, url: str | None = None) -> str:
    """Returns one incident as compact mrkdwn: linked id and title, then severity, status, services and age.

    Args:
        brief: An `IncidentBrief` (`id`, `title`, `severity`, `status`, `services`, `declared_at`,
            `resolved_at`, `commander`), optionally with `score` and `reasons` from `related_incidents`.
        now: The clock the ages are measured from.
        url: Where the incident id links to (its Slack channel), if anywhere.
    """
    severity = str(brief.get("severity") or "unknown")
    emoji = SEVERITY_EMOJI.get(severity, ":black_circle:")
    facts = [severity, str(brief.get("status") or "unknown")]
    services = brief.get("services") or []
    facts.append(", ".join(services) if services else "no services recorded")
    declared, resolved = _moment(brief.get("declared_at")), _moment(brief.get("resolved_at"))
    if resolved is not None:
        facts.append(f"resolved {format_duration(now - resolved)} ago")
    elif declared is not None:
        facts.append(f"declared {format_duration(now - declared)} ago")
    if brief.get("commander"):
        facts.append(f"commander {brief['commander']}")
    line = f"{emoji} *{link(url, str(brief['id']))}* {escape(str(brief.get('title') or ''))}\n"
    line += escape(" · ".join(facts))
    reasons = brief.get("reasons") or []
    if reasons:
        line += "\n_" + escape("; ".join(str(reason) for reason in reasons[:2])) + "_"
    return line


def incident_list_blocks(
    incidents: Sequence[Mapping[str, Any]],
    *,
    now: datetime,
    url_for: Callable[[str], str | None] = lambda _public_id: None,
) -> list[Block]:
    """Returns incidents as compact sections (at most `MAX_LISTED`), with a note of how many were left out."""
    blocks: list[Block] = [
        _section(incident_line(brief, now=now, url=url_for(str(brief["id"]))))
        for brief in incidents[:MAX_LISTED]
    ]
    if len(incidents) > MAX_LISTED:
        blocks.append(_context(f"…and {len(incidents) - MAX_LISTED} more."))
    return blocks


def split_incident_list(answer: str, known: Collection[str]) -> tuple[str, list[tuple[str, list[str]]]]:
    """Returns the answer without its list items about known incidents, and those incidents in list order.

    A list item is a Markdown bullet or numbered line that starts with an incident id (bold or not), e.g.
    `- incident-300 (SEV-1, active) ...`; a trailing `(matched: a; b)` gives the reasons it was listed.
    """
    kept: list[str] = []
    listed: list[tuple[str, list[str]]] = []
    for line in answer.splitlines():
        item = _LIST_ITEM_RE.match(line)
        if item is None or item.group(1).lower() not in known:
            kept.append(line)
            continue
        reasons = _REASONS_RE.search(line)
        listed.append((item.group(1).lower(), reasons.group(1).split("; ") if reasons else []))
    return "\n".join(kept).strip(), listed


def answer_blocks(
    answer: str,
    *,
    incidents: Sequence[Mapping[str, Any]] = (),
    now: datetime,
    url_for: Callable[[str], str | None] = lambda _public_id: None,
) -> list[Block]:
    """Returns the agent's Markdown answer, its list of incidents (if it has one) as compact sections.

    List items about the given incidents are taken out of the text and shown as sections built from the
    store (severity, status, services and age as they are now, the id linked to the incident's channel);
    an answer without such a list is shown as it is.
    """
    briefs = {str(brief["id"]).lower(): brief for brief in incidents}
    text, listed = split_incident_list(answer, briefs)
    if not listed:
        return [{"type": "markdown", "text": _clip(answer or "…", MAX_MARKDOWN_CHARS)}]
    blocks: list[Block] = [{"type": "markdown", "text": _clip(text, MAX_MARKDOWN_CHARS)}] if text else []
    shown = [briefs[public_id] | ({"reasons": reasons} if reasons else {}) for public_id, reasons in listed]
    return blocks + incident_list_blocks(shown, now=now, url_for=url_for)


def button_value(*, thread_id: str, incident: str | None) -> str:
    """Returns what the Confirm and Cancel buttons carry: the paused agent thread and its incident."""
    return json.dumps({"thread": thread_id, "incident": incident}, separators=(",", ":"))


def parse_button_value(value: str) -> tuple[str, str | None]:
    """Returns (thread id, incident) from a button value; raises ValueError for anything else."""
    data = json.loads(value)
    if not isinstance(data, dict) or not isinstance(data.get("thread"), str):
        raise ValueError(f"not a confirmation button value: {value!r}")
    incident = data.get("incident")
    return data["thread"], incident if isinstance(incident, str) else None


def _change_lines(changes: Mapping[str, Any]) -> list[str]:
    lines = []
    for field, values in changes.items():
        if isinstance(values, list | tuple) and len(values) == 2:
            before, after = values
            before_text = "—" if before in (None, "", []) else _plain(before)
            lines.append(f"• *{escape(field)}*: {escape(before_text)} → *{escape(_plain(after))}*")
        else:
            lines.append(f"• *{escape(field)}*: {escape(_plain(values))}")
    return lines


def _plain(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value) or "none"
    return str(value)


def confirmation_text(pending: Mapping[str, Any]) -> str:
    """Returns the one-line description of a pending write, used as the message's fallback text."""
    summary = str(pending.get("summary") or pending.get("action") or "a change").strip().rstrip(".?!")
    return f"Confirm: {summary}?"


def confirmation_blocks(pending: Mapping[str, Any], *, thread_id: str, who_may_confirm: str) -> list[Block]:
    """Returns the message asking to confirm a write, with Confirm / Cancel buttons.

    Args:
        pending: The interrupt payload: `action`, `incident`, `summary`, `changes` ({field: [before,
            after]}) and `requested_by`.
        thread_id: The paused agent thread the buttons resume.
        who_may_confirm: Says who is allowed to press Confirm, e.g. "members of this channel".
    """
    incident = pending.get("incident")
    value = button_value(thread_id=thread_id, incident=str(incident) if incident else None)
    text = f":warning: *{escape(confirmation_text(pending))}*"
    lines = _change_lines(pending.get("changes") or {})
    if lines:
        text += "\n" + "\n".join(lines)
    requested_by = pending.get("requested_by")
    note = f"Requested by {escape(str(requested_by))}. " if requested_by else ""
    note += f"Nothing changes until one of {escape(who_may_confirm)} presses Confirm."
    return [
        _section(text),
        _context(note),
        {
            "type": "actions",
            "block_id": "incident_confirmation",
            "elements": [
                {
                    "type": "button",
                    "action_id": CONFIRM_ACTION,
                    "text": {"type": "plain_text", "text": "Confirm"},
                    "style": "primary",
                    "value": value,
                },
                {
                    "type": "button",
                    "action_id": CANCEL_ACTION,
                    "text": {"type": "plain_text", "text": "Cancel"},
                    "value": value,
                },
            ],
        },
    ]


def outcome_blocks(*, headline: str, detail: str | None = None) -> list[Block]:
    """Returns what replaces a confirmation once it was answered: what happened, and by whom."""
    blocks = [_section(headline)]
    if detail:
        blocks.append({"type": "markdown", "text": _clip(detail, MAX_MARKDOWN_CHARS)})
    return blocks


def catchup_blocks(mrkdwn: str) -> list[Block]:
    """Returns a catch-up summary (Slack mrkdwn) as sections, split between paragraphs to fit Slack's limits."""
    blocks: list[Block] = []
    current = ""
    for paragraph in mrkdwn.split("\n\n"):
        candidate = f"{current}\n\n{paragraph}" if current else paragraph
        if len(candidate) > MAX_SECTION_CHARS and current:
            blocks.append(_section(current))
            candidate = paragraph
        current = candidate
    if current:
        blocks.append(_section(current))
    blocks.append(_context("Only you can see this catch-up; it is not stored."))
    return blocks[:50]


def help_blocks() -> list[Block]:
    """Returns the help text of the `/incident` command and of an empty mention."""
    return [_section(HELP_TEXT)]


FEEDBACK_ACTION = "answer_feedback"
"""`action_id` of the feedback buttons under every answer."""

FULL_SUMMARY_ACTION = "catchup_full_summary"
"""`action_id` of the button that turns a since-last-time catch-up into the full summary."""


def feedback_value(*, answer_id: int, helpful: bool) -> str:
    """Returns what a feedback button carries: the stored answer and the vote."""
    return json.dumps({"answer": answer_id, "helpful": helpful}, separators=(",", ":"))


def parse_feedback_value(value: str) -> tuple[int, bool]:
    """Returns (answer id, helpful) from a feedback button value; raises ValueError for anything else."""
    data = json.loads(value)
    if not isinstance(data, dict) or not isinstance(data.get("answer"), int):
        raise ValueError(f"not a feedback button value: {value!r}")
    return data["answer"], bool(data.get("helpful"))


def feedback_block(answer_id: int) -> Block:
    """Returns Slack's feedback buttons (a `context_actions` block) for a stored answer."""
    return {
        "type": "context_actions",
        "block_id": f"feedback:{answer_id}",
        "elements": [
            {
                "type": "feedback_buttons",
                "action_id": FEEDBACK_ACTION,
                "positive_button": {
                    "text": {"type": "plain_text", "text": slack_text.FEEDBACK_GOOD},
                    "accessibility_label": slack_text.FEEDBACK_GOOD,
                    "value": feedback_value(answer_id=answer_id, helpful=True),
                },
                "negative_button": {
                    "text": {"type": "plain_text", "text": slack_text.FEEDBACK_BAD},
                    "accessibility_label": slack_text.FEEDBACK_BAD,
                    "value": feedback_value(answer_id=answer_id, helpful=False),
                },
            }
        ],
    }


def since_blocks(
    *,
    public_id: str,
    incident_id: int,
    since: datetime,
    now: datetime,
    changes: Sequence[Mapping[str, Any]],
    entries: Sequence[Mapping[str, Any]],
    more_entries: int = 0,
) -> list[Block]:
    """Returns the since-last-time catch-up: severity and status changes, new messages, a Full summary button.

    Args:
        public_id: The incident, e.g. `incident-12`.
        incident_id: Its number, which the button carries.
        since: The person's last catch-up.
        now: The clock.
        changes: `{field, before, after, actor, at}` in order.
        entries: `{at, author, text}` in order (the newest ones).
        more_entries: New entries left out.
    """
    ago = format_duration(now - since)
    if not changes and not entries:
        blocks = [_section(slack_text.SINCE_NOTHING.format(incident=public_id, ago=ago))]
    else:
        lines = [slack_text.SINCE_HEADER.format(incident=public_id, ago=ago)]
        for change in changes:
            lines.append(
                slack_text.SINCE_CHANGE.format(
                    field=escape(str(change["field"]).capitalize()),
                    before=escape(str(change.get("before") or "—")),
                    after=escape(str(change.get("after"))),
                    actor=escape(str(change.get("actor") or "")),
                    at=_clock(change["at"]),
                )
            )
        if more_entries:
            lines.append(slack_text.SINCE_MORE.format(count=more_entries))
        for entry in entries:
            lines.append(
                slack_text.SINCE_ENTRY.format(
                    at=_clock(entry["at"]),
                    author=escape(str(entry["author"])),
                    text=escape(_clip(" ".join(str(entry["text"]).split()), 300)),
                )
            )
        blocks = _line_sections(lines)
    return [
        *blocks,
        _context(slack_text.SINCE_NOTE),
        {
            "type": "actions",
            "block_id": "catchup",
            "elements": [
                {
                    "type": "button",
                    "action_id": FULL_SUMMARY_ACTION,
                    "text": {"type": "plain_text", "text": slack_text.FULL_SUMMARY_BUTTON},
                    "value": str(incident_id),
                }
            ],
        },
    ]


def _line_sections(lines: Sequence[str]) -> list[Block]:
    """Returns lines as sections, each as full as Slack's section limit allows, split between lines."""
    blocks: list[Block] = []
    current = ""
    for line in lines:
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > MAX_SECTION_CHARS and current:
            blocks.append(_section(current))
            candidate = line
        current = candidate
    if current:
        blocks.append(_section(current))
    return blocks


def _clock(value: Any) -> str:
    moment = _moment(value)
    return moment.strftime("%H:%M") if moment is not None else ""

"""Writing the offline model's final answers from tool results, in the words of an on-call engineer.

Everything an answer states comes from the tool results: counts are the tool's `total`, `by_status` and
`by_severity` echoed as given (never counted here), a root cause or remediation is quoted or said to be
not known, and an error is relayed as the tool worded it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from langchain_core.messages import AIMessage, ToolMessage

from agent.lexicon import Aspect, asks_latest
from prompts.offline import (
    ANSWER_APPLIED_DECLARE,
    ANSWER_APPLIED_SEVERITY,
    ANSWER_APPLIED_STATUS,
    ANSWER_BEST_MATCH,
    ANSWER_CHANNEL,
    ANSWER_CLOSEST_HEADER,
    ANSWER_COMMANDER,
    ANSWER_COUNT,
    ANSWER_DECLARED,
    ANSWER_DURATION,
    ANSWER_IMPACT,
    ANSWER_LATEST_MATCH,
    ANSWER_LIST_HEADER,
    ANSWER_MITIGATED_AFTER,
    ANSWER_NO_COMMANDER,
    ANSWER_NO_EXACT_TEXT,
    ANSWER_NO_IMPACT,
    ANSWER_NO_MATCHES,
    ANSWER_NO_RELATED,
    ANSWER_NO_SEARCH_MATCH,
    ANSWER_NOT_APPLIED,
    ANSWER_NOT_MITIGATED,
    ANSWER_OLDEST,
    ANSWER_OPEN_FOR,
    ANSWER_OTHER_MATCHES,
    ANSWER_POSTMORTEM,
    ANSWER_POSTMORTEM_SAVED,
    ANSWER_RELATED_HEADER,
    ANSWER_RELAXED_TEXT,
    ANSWER_REMEDIATION,
    ANSWER_REMEDIATION_UNKNOWN,
    ANSWER_RESOLVED_AT,
    ANSWER_RESPONDERS,
    ANSWER_ROOT_CAUSE,
    ANSWER_ROOT_CAUSE_UNKNOWN,
    ANSWER_SEARCH_HEADER,
    ANSWER_SERVICES,
    ANSWER_SHOWN_OF_TOTAL,
    ANSWER_STILL_OPEN,
    ANSWER_SUGGEST_DECLARE,
    ANSWER_SUMMARY,
    ANSWER_UNREADABLE_RESULT,
    ANSWER_WIDENED,
)

OTHER_MATCHES = 3
"""Runners-up named under an answer about the best search match."""

_PRESENT_STATUSES = frozenset({"ongoing", "active", "stable"})


@dataclass(frozen=True)
class ToolOutcome:
    """One tool call of this turn and its result (the parsed JSON, or None when it was not JSON)."""

    name: str
    args: dict[str, Any]
    result: dict[str, Any] | None


def outcomes_of(turn: Sequence[Any]) -> list[ToolOutcome]:
    """Returns this turn's tool calls paired with their results, in call order; unanswered calls are left out."""
    results: dict[str, str] = {}
    for message in turn:
        if isinstance(message, ToolMessage):
            results[message.tool_call_id] = (
                message.text if isinstance(message.text, str) else str(message.content)
            )
    outcomes: list[ToolOutcome] = []
    for message in turn:
        if not isinstance(message, AIMessage):
            continue
        for call in message.tool_calls:
            if call.get("id") not in results:
                continue
            try:
                parsed = json.loads(results[call["id"]])
            except ValueError:
                parsed = None
            outcomes.append(
                ToolOutcome(call["name"], dict(call["args"]), parsed if isinstance(parsed, dict) else None)
            )
    return outcomes


# --- formatting --------------------------------------------------------------------------------------


def format_time(value: str | None) -> str | None:
    """Returns an ISO-8601 time as `2026-11-26 14:03 UTC`."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def format_incident(brief: dict[str, Any]) -> str:
    """Returns one incident as `incident-12 (SEV-1, active) Checkout failing — payments, checkout, declared ...`."""
    head = f"{brief.get('id', 'incident-?')} ({brief.get('severity', 'unknown')}, {brief.get('status', 'unknown')})"
    title = brief.get("title") or ""
    details = [", ".join(brief.get("services") or [])]
    declared = format_time(brief.get("declared_at"))
    if declared:
        details.append(f"declared {declared}")
    if brief.get("commander"):
        # "what's open and who's IC on each?" is answered by the list itself.
        details.append(f"commander {brief['commander']}")
    tail = ", ".join(part for part in details if part)
    return f"{head} {title}".rstrip() + (f" — {tail}" if tail else "")


def _bullets(briefs: Sequence[dict[str, Any]]) -> str:
    return "\n".join(f"- {format_incident(brief)}" for brief in briefs)


def _counts(counts: Any) -> str:
    if not isinstance(counts, dict) or not counts:
        return ""
    return ", ".join(f"{number} {name}" for name, number in counts.items())


def window_phrase(label: str | None) -> str:
    """Returns a time-frame label as it reads in a sentence: "past week" -> "in the past week"."""
    if not label:
        return ""
    if re.match(r"(past|last|previous|prev|this past)\b", label, re.IGNORECASE):
        return f"in the {label}"
    return label


# --- per tool ----------------------------------------------------------------------------------------


def _describe_filters(args: dict[str, Any], result: dict[str, Any]) -> tuple[str, str]:
    """Returns the words before and after "incidents" that say what was asked ("SEV-1 ", " in the past week")."""
    filters = result.get("filters") if isinstance(result.get("filters"), dict) else {}
    before: list[str] = []
    severities = filters.get("severity") or args.get("severity")
    levels = [severity for severity in severities or () if severity != "unknown"]
    no_severity = bool(severities) and "unknown" in severities
    if levels and not no_severity:
        before.append(" or ".join(levels))
    frame = filters.get("time_frame")
    # The tool says which timestamp the window was applied to; the answer must not say another.
    by_resolution = isinstance(frame, dict) and frame.get("applies_to") == "resolved_at"
    statuses = args.get("status") or filters.get("status")
    if statuses and not (by_resolution and set(statuses) == {"resolved", "completed"}):
        before.append(" or ".join(statuses))
    after: list[str] = []
    services = filters.get("services") or args.get("services")
    if services:
        after.append(f"that impacted {' or '.join(services)}")
    if no_severity:
        after.append(
            f"that are {' or '.join(levels)} or have no severity set" if levels else "with no severity set"
        )
    excluded = filters.get("exclude_services") or args.get("exclude_services")
    if excluded:
        after.append(f"not touching {' or '.join(excluded)}")
    among = filters.get("among")
    if among:
        after.append(f"among the {len(among)} found before")
    label = frame.get("label") if isinstance(frame, dict) else args.get("time_frame")
    if label:
        after.append(f"{'resolved' if by_resolution else 'declared'} {window_phrase(label)}")
    text = filters.get("text") or (None if result.get("relaxed") else args.get("text"))
    if text:
        after.append(f'mentioning "{text}"')
    return (" ".join(before) + " " if before else ""), (" " + " ".join(after) if after else "")


def answer_query(question: str, args: dict[str, Any], result: dict[str, Any]) -> str:
    """Returns the answer to a count or list question from `query_incidents`' result."""
    total = result.get("total", 0)
    before, after = _describe_filters(args, result)
    present = bool(set(args.get("status") or ()) & _PRESENT_STATUSES) and not args.get("time_frame")
    if not total:
        return ANSWER_NO_MATCHES.format(
            verb="are" if present else "were", filters_before=before, filters_after=after
        )
    by_status = result.get("by_status") if isinstance(result.get("by_status"), dict) else {}
    breakdown = f" ({_counts(by_status)})" if len(by_status) > 1 else ""
    noun = "incident" if total == 1 else "incidents"
    counting = bool(re.search(r"\b(how many|number of|count|total)\b", question, re.IGNORECASE))
    if counting:
        verb = ("is" if total == 1 else "are") if present else ("was" if total == 1 else "were")
        lines = [
            ANSWER_COUNT.format(
                verb=verb,
                total=total,
                filters_before=before,
                noun=noun,
                filters_after=after,
                breakdown=breakdown,
            )
        ]
        by_severity = result.get("by_severity") if isinstance(result.get("by_severity"), dict) else {}
        if len(by_severity) > 1:
            lines[0] += f" By severity: {_counts(by_severity)}."
    else:
        lines = [
            ANSWER_LIST_HEADER.format(
                total=total, filters_before=before, noun=noun, filters_after=after, breakdown=breakdown
            )
        ]
    relaxed = result.get("relaxed")
    if isinstance(relaxed, dict) and relaxed.get("text"):
        lines.insert(0, ANSWER_RELAXED_TEXT.format(text=relaxed["text"]))
    incidents = [i for i in result.get("incidents") or [] if isinstance(i, dict)]
    shown = result.get("shown", len(incidents))
    if incidents and shown == total and _OLDEST_RE.search(question):
        # "what's the oldest incident that's still open?": every match is listed, so the oldest is known.
        incidents = by_newest(incidents)[::-1]
        lines.append(ANSWER_OLDEST.format(incident=format_incident(incidents[0])))
    if incidents:
        lines.append(_bullets(incidents))
    if isinstance(shown, int) and shown < total and incidents:
        lines.append(ANSWER_SHOWN_OF_TOTAL.format(shown=shown, total=total))
    return "\n".join(lines)


_OLDEST_RE = re.compile(r"\b(?:oldest|earliest|longest[\s-](?:running|open|lived))\b", re.IGNORECASE)


def _with_reasons(result: dict[str, Any]) -> str:
    line = f"- {format_incident(result)}"
    reasons = [str(reason) for reason in result.get("reasons") or [] if reason]
    return line + (f" (matched: {'; '.join(reasons)})" if reasons else "")


def by_newest(briefs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Returns incident briefs ordered by when they were declared, newest first."""
    return sorted(briefs, key=lambda brief: str(brief.get("declared_at") or ""), reverse=True)


LATEST_SHOWN = 5
"""Matches shown, newest first, to "when was the last time ...?" (the search looks at more)."""


def answer_related(args: dict[str, Any], result: dict[str, Any], *, newest_first: bool = False) -> str:
    """Returns the answer from `related_incidents`: the matches and why, or that there are none.

    `newest_first`: the question asks for the latest occurrence; the matches are listed by date, newest first.
    """
    window = result.get("window") if isinstance(result.get("window"), dict) else {}
    recently = result.get("mode") == "active_recently"
    where = window.get("label") if recently else window_phrase(window.get("label"))
    where = where or ("active recently" if recently else "in that time frame")
    widened = ANSWER_WIDENED.format(window=result["widened_from"]) if result.get("widened_from") else None
    matches = [r for r in result.get("results") or [] if isinstance(r, dict)]
    query = args.get("query")
    if query and not args.get("incident"):
        if not matches:
            answer = ANSWER_NO_SEARCH_MATCH.format(query=query, where=where)
            return answer + (" " + ANSWER_SUGGEST_DECLARE if recently else "")
        header = (ANSWER_CLOSEST_HEADER if result.get("closest") else ANSWER_SEARCH_HEADER).format(
            query=query, where=where
        )
    else:
        if not matches:
            return ANSWER_NO_RELATED.format(where=where)
        header = ANSWER_RELATED_HEADER.format(where=where)
    if newest_first and matches:
        matches = by_newest(matches)[:LATEST_SHOWN]
        header = f"{header}\n{ANSWER_LATEST_MATCH.format(incident=format_incident(matches[0]))}"
    return "\n".join([*([widened] if widened else []), header, *(_with_reasons(match) for match in matches)])


def answer_incident(aspects: Sequence[Aspect], result: dict[str, Any]) -> str:
    """Returns the answer about one incident from `get_incident`: the attributes asked for, or its details."""
    incident_id = result.get("id", "the incident")
    title = result.get("title") or ""
    parts: list[str] = []
    for aspect in aspects:
        if aspect is Aspect.root_cause:
            cause = result.get("root_cause")
            parts.append(
                ANSWER_ROOT_CAUSE.format(id=incident_id, title=title, text=cause)
                if cause
                else ANSWER_ROOT_CAUSE_UNKNOWN.format(id=incident_id)
            )
        elif aspect is Aspect.remediation:
            remediation = result.get("remediation")
            parts.append(
                ANSWER_REMEDIATION.format(id=incident_id, title=title, text=remediation)
                if remediation
                else ANSWER_REMEDIATION_UNKNOWN.format(id=incident_id)
            )
        else:
            parts.append(_attribute(aspect, incident_id, result))
    if parts:
        return "\n".join(parts)
    return _details(result)


def _attribute(aspect: Aspect, incident_id: str, result: dict[str, Any]) -> str:
    """Returns one sentence stating an attribute of an incident, as the tool gave it."""
    declared = format_time(result.get("declared_at"))
    if aspect is Aspect.duration:
        if result.get("duration"):
            return ANSWER_DURATION.format(
                id=incident_id,
                duration=result["duration"],
                declared=declared,
                resolved=format_time(result.get("resolved_at")),
            )
        if result.get("open_for"):
            still_open = ANSWER_OPEN_FOR.format(
                id=incident_id, duration=result["open_for"], status=result.get("status"), declared=declared
            )
            if result.get("mitigated_after"):
                # Mitigated but not resolved: how long the impact lasted is the time to mitigation.
                return still_open + " " + _attribute(Aspect.mitigation_time, incident_id, result)
            return still_open
        return ANSWER_STILL_OPEN.format(id=incident_id, status=result.get("status"), declared=declared)
    if aspect is Aspect.mitigation_time:
        if result.get("mitigated_after"):
            return ANSWER_MITIGATED_AFTER.format(
                id=incident_id,
                duration=result["mitigated_after"],
                declared=declared,
                stable=format_time(result.get("stable_at")),
            )
        return ANSWER_NOT_MITIGATED.format(id=incident_id, status=result.get("status"))
    if aspect is Aspect.commander:
        commander = result.get("commander")
        return (
            ANSWER_COMMANDER.format(id=incident_id, name=commander)
            if commander
            else ANSWER_NO_COMMANDER.format(id=incident_id)
        )
    if aspect is Aspect.responders:
        return ANSWER_RESPONDERS.format(
            id=incident_id, names=", ".join(result.get("responders") or []) or "nobody recorded"
        )
    if aspect is Aspect.declared:
        return ANSWER_DECLARED.format(id=incident_id, declared=declared)
    if aspect is Aspect.resolved:
        resolved = format_time(result.get("resolved_at"))
        if resolved:
            return ANSWER_RESOLVED_AT.format(id=incident_id, resolved=resolved)
        return ANSWER_STILL_OPEN.format(id=incident_id, status=result.get("status"), declared=declared)
    if aspect is Aspect.services:
        return ANSWER_SERVICES.format(
            id=incident_id, services=", ".join(result.get("services") or []) or "none recorded"
        )
    if aspect is Aspect.impact:
        impact = result.get("customer_impact")
        return (
            ANSWER_IMPACT.format(id=incident_id, text=impact)
            if impact
            else ANSWER_NO_IMPACT.format(id=incident_id)
        )
    if aspect is Aspect.channel:
        channel = result.get("channel")
        return ANSWER_CHANNEL.format(id=incident_id, channel=f"#{channel}" if channel else "none")
    # Severity and status are both in the incident's line.
    return format_incident(result) + "."


def _details(result: dict[str, Any]) -> str:
    lines = [format_incident({**result, "commander": None})]  # the commander has a line of its own
    facts = [
        ("Commander", result.get("commander")),
        ("Responders", ", ".join(result.get("responders") or []) or None),
        ("Stable since", format_time(result.get("stable_at"))),
        ("Resolved", format_time(result.get("resolved_at"))),
        ("Channel", f"#{result['channel']}" if result.get("channel") else None),
        ("Summary", result.get("summary")),
        ("Customer impact", result.get("customer_impact")),
        ("Root cause", result.get("root_cause") or "not known (none was recorded)"),
        ("Remediation", result.get("remediation") or "not recorded"),
        ("Timeline messages", result.get("message_count")),
    ]
    lines.extend(f"{name}: {value}" for name, value in facts if value not in (None, ""))
    return "\n".join(lines)


def answer_write(name: str, args: dict[str, Any], result: dict[str, Any]) -> str:
    """Returns the answer after `declare`, `update_severity` or `set_status`: what changed, or why nothing did."""
    if not result.get("applied"):
        return ANSWER_NOT_APPLIED.format(reason=result.get("reason") or "the change was not confirmed.")
    brief = result.get("incident") if isinstance(result.get("incident"), dict) else {}
    incident_id = brief.get("id") or args.get("incident") or "The incident"
    if name == "declare":
        return ANSWER_APPLIED_DECLARE.format(incident=format_incident(brief))
    if name == "update_severity":
        return ANSWER_APPLIED_SEVERITY.format(
            id=incident_id, value=brief.get("severity") or args.get("severity")
        )
    return ANSWER_APPLIED_STATUS.format(id=incident_id, value=brief.get("status") or args.get("status"))


def _incident_id(value: Any, fallback: Any) -> str:
    if isinstance(value, dict):
        value = value.get("id")
    return str(value or fallback or "the incident")


def answer_outcome(question: str, outcome: ToolOutcome, aspects: Sequence[Aspect] = ()) -> str:
    """Returns the answer one tool result gives to the question."""
    result = outcome.result
    if result is None:
        return ANSWER_UNREADABLE_RESULT.format(tool=outcome.name)
    if result.get("error"):
        return str(result["error"])
    if outcome.name == "query_incidents":
        return answer_query(question, outcome.args, result)
    if outcome.name == "related_incidents":
        return answer_related(outcome.args, result, newest_first=asks_latest(question))
    if outcome.name == "get_incident":
        return answer_incident(aspects, result)
    if outcome.name in {"declare", "update_severity", "set_status"}:
        return answer_write(outcome.name, outcome.args, result)
    if outcome.name == "summarize_timeline":
        incident_id = _incident_id(result.get("incident"), outcome.args.get("incident"))
        return ANSWER_SUMMARY.format(
            id=incident_id, markdown=str(result.get("summary_markdown") or "").strip()
        )
    if outcome.name == "draft_postmortem":
        if result.get("applied") is False:
            return ANSWER_NOT_APPLIED.format(reason=result.get("reason") or "the draft was not confirmed.")
        incident_id = _incident_id(result.get("incident"), outcome.args.get("incident"))
        saved = result.get("postmortem_id")
        return ANSWER_POSTMORTEM.format(
            id=incident_id,
            saved=ANSWER_POSTMORTEM_SAVED.format(postmortem_id=saved) if saved is not None else "",
            markdown=str(result.get("markdown") or "").strip(),
        )
    return json.dumps(result, ensure_ascii=False)


def write_answer(question: str, outcomes: Sequence[ToolOutcome], aspects: Sequence[Aspect] = ()) -> str:
    """Returns the final answer of a turn from its tool results.

    A search followed by a look at its best match ("what caused the checkout outage yesterday?") is
    answered about that match, naming it first.
    """
    if (
        len(outcomes) == 2
        and outcomes[0].name == "related_incidents"
        and outcomes[1].name == "get_incident"
        and outcomes[1].result is not None
        and not outcomes[1].result.get("error")
    ):
        best = ANSWER_BEST_MATCH.format(incident=format_incident(outcomes[1].result))
        answer = f"{best}\n{answer_outcome(question, outcomes[1], aspects)}"
        searched = outcomes[0].result or {}
        others = [
            r
            for r in searched.get("results") or []
            if isinstance(r, dict) and r.get("id") != outcomes[1].result.get("id")
        ][:OTHER_MATCHES]
        if others:
            # The best match may not be the one meant ("which incident was that?"): name the runners-up.
            answer += "\n" + ANSWER_OTHER_MATCHES + "\n" + "\n".join(_with_reasons(r) for r in others)
        return answer
    if [o.name for o in outcomes] == ["query_incidents", "related_incidents"] and (
        outcomes[0].result or {}
    ).get("relaxed"):
        # The exact words matched nothing and the search by meaning followed: say so, then what it found.
        relaxed = (outcomes[0].result or {})["relaxed"]
        opening = ANSWER_NO_EXACT_TEXT.format(text=relaxed.get("text", ""))
        return f"{opening}\n{answer_outcome(question, outcomes[1], aspects)}"
    if [o.name for o in outcomes] == ["related_incidents", "related_incidents"]:
        # What is active now, then the history without the incidents already listed.
        listed = {r.get("id") for r in (outcomes[0].result or {}).get("results") or [] if isinstance(r, dict)}
        earlier = outcomes[1].result or {}
        kept = [r for r in earlier.get("results") or [] if isinstance(r, dict) and r.get("id") not in listed]
        outcomes = [
            outcomes[0],
            *([replace(outcomes[1], result={**earlier, "results": kept})] if kept else []),
        ]
    return "\n\n".join(answer_outcome(question, outcome, aspects) for outcome in outcomes)

"""Tool `query_incidents`: counts and lists of incidents by status, severity, service, time and text."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from langgraph.prebuilt import ToolRuntime
from pydantic import BaseModel, Field

from agent.db import session_for
from agent.incidents import catalogue, service
from agent.incidents.enums import RESOLVED_STATUSES, Severity, Status
from agent.normalize import parse_incident_ref, parse_severity, parse_status_filter, resolve_service
from agent.serialize import incident_brief, iso
from agent.time_windows import parse_window_argument
from tools.results import tool_reply
from tools.runtime import agent_tool, context_of


class QueryIncidentsArgs(BaseModel):
    """Arguments of `query_incidents`."""

    status: list[str] | None = None
    severity: list[str] | None = None
    services: list[str] | None = None
    time_frame: str | None = None
    text: str | None = None
    exclude_services: list[str] | None = None
    among: list[str] | None = None
    limit: int = Field(default=10, ge=0, le=50)


def _ordered(counts: dict[str, int], order: list[str]) -> dict[str, int]:
    return {key: counts[key] for key in order if key in counts}


@agent_tool(QueryIncidentsArgs)
def query_incidents(
    runtime: ToolRuntime,
    status: list[str] | None = None,
    severity: list[str] | None = None,
    services: list[str] | None = None,
    time_frame: str | None = None,
    text: str | None = None,
    exclude_services: list[str] | None = None,
    among: list[str] | None = None,
    limit: int = 10,
) -> Any:
    """Count and list incidents matching filters; use for "how many", "show me", "any ... in ...".

    Filters combine with AND; leave out what the question does not restrict. The counts in `total`,
    `by_status` and `by_severity` are exact; `incidents` shows the newest matches.

    Args:
        status: Statuses: active, stable, resolved, completed, or ongoing (= active or stable).
        severity: Severities such as SEV-1 or sev2.
        services: Service names or aliases.
        time_frame: Incidents declared in this window ("past week", "since Monday", "last 30 days", an
            ISO date); when status is only resolved/completed, incidents resolved in it.
        text: A word or phrase that must appear in the title, summary, impact or root cause. When no
            incident matches the text but some match the other filters, those are returned instead,
            with `relaxed: {"text", "matched": 0}`: say that nothing mentions the text.
        exclude_services: Leave out incidents that touched any of these services ("apart from payments").
        among: Only these incidents ("which of those were sev1?" after a list): ids like incident-12.
        limit: Most incidents to list (counts are unaffected).
    """
    context = context_of(runtime)
    now = context.clock()
    window = parse_window_argument(time_frame, now)
    statuses = parse_status_filter(status) if status else None
    severities = frozenset(parse_severity(value) for value in severity) if severity else None
    with session_for(context.database_url) as db_session:
        vocabulary = catalogue.service_vocabulary(db_session=db_session)
        service_names = tuple(dict.fromkeys(resolve_service(name, vocabulary) for name in services or ()))
        excluded = tuple(dict.fromkeys(resolve_service(name, vocabulary) for name in exclude_services or ()))
        listed = frozenset(parse_incident_ref(ref) for ref in among) if among else None
        criteria = service.IncidentFilter(
            statuses=statuses,
            severities=severities,
            services=service_names,
            exclude_services=excluded,
            ids=listed,
            since=window.since if window else None,
            until=window.until if window else None,
            # "What got resolved this week?" asks when they were resolved, not when they began.
            by_resolution=bool(statuses) and statuses <= RESOLVED_STATUSES,
            text=text.strip() if text and text.strip() else None,
        )
        result = service.query(db_session=db_session, criteria=criteria, limit=limit)
        relaxed: dict[str, Any] | None = None
        if criteria.text and result.total == 0:
            # Never a false zero: when only the text empties the answer, answer without it and say so.
            broader = service.query(db_session=db_session, criteria=replace(criteria, text=None), limit=limit)
            if broader.total:
                relaxed = {"text": criteria.text, "matched": 0}
                criteria, result = replace(criteria, text=None), broader
        briefs = [incident_brief(incident) for incident in result.incidents]
    filters: dict[str, Any] = {
        "status": sorted(s.value for s in statuses) if statuses else None,
        "severity": sorted(s.value for s in severities) if severities else None,
        "services": list(service_names) or None,
        "exclude_services": list(excluded) or None,
        "among": [f"incident-{number}" for number in sorted(listed)] if listed else None,
        "time_frame": (
            {
                "label": window.label,
                "since": iso(window.since),
                "until": iso(window.until),
                "applies_to": "resolved_at" if criteria.by_resolution else "declared_at",
            }
            if window
            else None
        ),
        "text": criteria.text,
    }
    payload = {
        "total": result.total,
        "by_status": _ordered(result.by_status, [s.value for s in Status]),
        "by_severity": _ordered(result.by_severity, [s.value for s in Severity]),
        "filters": filters,
        "incidents": briefs,
        "shown": len(briefs),
    }
    if relaxed is not None:
        payload["relaxed"] = relaxed
    return tool_reply(runtime, payload)

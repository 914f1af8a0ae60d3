"""Tool `related_incidents`: incidents similar in meaning and keywords, with the reasons they matched."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from langgraph.prebuilt import ToolRuntime
from pydantic import BaseModel, Field

from agent.db import session_for
from agent.incidents import service
from agent.incidents.enums import RESOLVED_STATUSES
from agent.incidents.exceptions import InvalidInput
from agent.incidents.models import Incident
from agent.search.hybrid import SIMILARITY_FLOOR, search_incidents
from agent.serialize import incident_brief, iso
from agent.time_windows import ALL_TIME_START, TimeWindow, parse_window_argument
from tools.results import tool_reply
from tools.runtime import agent_tool, context_of, index_for, resolve_incident, state_value

CLOSEST_FLOOR = 0.25
"""Similarity down to which the closest incidents are still shown, as weak matches, when none clears the
search's own floor (unrelated incident documents score 0.13-0.38 against each other)."""

CLOSEST_LIMIT = 3
"""How many weak matches are shown at most."""


class RelatedIncidentsArgs(BaseModel):
    """Arguments of `related_incidents`."""

    incident: str | None = None
    query: str | None = None
    time_frame: str | None = None
    limit: int = Field(default=5, ge=1, le=20)


def incident_document(incident: Incident) -> str:
    """Returns the text an incident is compared by: title, summary and customer impact."""
    return "\n".join(part for part in (incident.title, incident.summary, incident.customer_impact) if part)


@agent_tool(RelatedIncidentsArgs)
def related_incidents(
    runtime: ToolRuntime,
    incident: str | None = None,
    query: str | None = None,
    time_frame: str | None = None,
    limit: int = 5,
) -> Any:
    """Find incidents related by meaning and keywords to an incident or a description; says why each matched.

    Without a time frame it looks at incidents active in the past 2 hours (is something else going on
    now?); with one, at active and resolved incidents in that frame. About a resolved incident, or for a
    description that matches nothing active now, it searches the whole history (`mode: "history"`;
    `widened_from` names the window that was empty). When nothing in the past matches well, the closest
    few are returned with `closest: true`: say they are weak matches. The incident compared with is excluded.

    Args:
        incident: The incident to compare with; defaults to the incident in focus.
        query: What to look for, e.g. "DDoS attack" or "customers cannot check out".
        time_frame: e.g. "past month", "since Monday"; omit for "right now".
        limit: Most incidents to return.
    """
    context = context_of(runtime)
    now = context.clock()
    window = parse_window_argument(time_frame, now)
    mode = "time_frame" if window else "active_recently"
    if window is None:
        hours = context.related_window_hours
        window = TimeWindow(now - timedelta(hours=hours), now, f"active in the past {hours:g} hours")
    with session_for(context.database_url) as db_session:
        focus: Incident | None = None
        if incident or (not query and state_value(runtime, "focus_incident") is not None):
            focus = resolve_incident(db_session, incident, runtime)
        whole_incident = not (query or "").strip()
        text = (query or "").strip() or (incident_document(focus) if focus else "")
        if not text:
            raise InvalidInput("Related to what? Name an incident or describe what to look for.")
        if mode == "active_recently" and focus is not None and focus.status in RESOLVED_STATUSES:
            # "Similar ones?" about a past incident means across history, not what is burning now.
            mode, window = "history", TimeWindow(ALL_TIME_START, now, "all time")

        def search(within: TimeWindow, *, most: int = limit, floor: float = SIMILARITY_FLOOR) -> list[Any]:
            criteria = service.IncidentFilter(since=within.since, until=within.until, overlapping=True)
            return search_incidents(
                db_session,
                index_for(context),
                query=text,
                criteria=criteria,
                limit=most,
                exclude_ids=frozenset({focus.id}) if focus else frozenset(),
                min_similarity=floor,
                whole_incident=whole_incident,
            )

        hits = search(window)
        widened_from: str | None = None
        if not hits and mode == "active_recently" and not whole_incident:
            # A described problem that matches nothing open now may still have happened before: say
            # which window was empty and answer from the whole history.
            widened_from, mode = window.label, "history"
            window = TimeWindow(ALL_TIME_START, now, "all time")
            hits = search(window)
        closest = False
        if not hits and mode != "active_recently" and not whole_incident:
            # A description of the past that clears no bar still has nearest incidents: show the few
            # closest, said to be weak matches, rather than a "none" no search can prove.
            # Inside a named window the few incidents it holds are the candidates, however weak the match:
            # "none" there would be a false zero about a window that has incidents.
            floor = CLOSEST_FLOOR if mode == "history" else 0.0
            hits = search(window, most=min(limit, CLOSEST_LIMIT), floor=floor)
            closest = bool(hits)
        found = {
            i.id: i
            for i in service.get_many(db_session=db_session, incident_ids=[h.incident_id for h in hits])
        }
        results = [
            {
                **incident_brief(found[hit.incident_id]),
                "score": round(hit.score, 3),
                "reasons": list(hit.reasons),
            }
            for hit in hits
            if hit.incident_id in found
        ]
    payload: dict[str, Any] = {
        "mode": mode,
        "window": {"label": window.label, "since": iso(window.since), "until": iso(window.until)},
        "focus": focus.public_id if focus else None,
        "results": results,
    }
    if widened_from is not None:
        payload["widened_from"] = widened_from
    if closest:
        payload["closest"] = True
    return tool_reply(runtime, payload)

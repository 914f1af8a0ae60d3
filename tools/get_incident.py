"""Tool `get_incident`: one incident's fields, root cause, remediation and timeline excerpts."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from langgraph.prebuilt import ToolRuntime
from pydantic import BaseModel

from agent.db import session_for
from agent.incidents import timeline
from agent.postmortems import service as postmortems
from agent.serialize import duration_text, incident_detail
from tools.results import tool_reply
from tools.runtime import agent_tool, context_of, resolve_incident


class GetIncidentArgs(BaseModel):
    """Arguments of `get_incident`."""

    incident: str


@agent_tool(GetIncidentArgs)
def get_incident(runtime: ToolRuntime, incident: str) -> Any:
    """Get one incident: status, severity, impact, root cause, remediation and timeline excerpts.

    Use for questions about a single incident. `root_cause` or `remediation` null means not recorded.
    `postmortem_blocker` says why no postmortem can be drafted yet (null: one can).

    Args:
        incident: "incident-123", "#123", "INC-123", or "this incident" for the incident in focus.
    """
    context = context_of(runtime)
    with session_for(context.database_url) as db_session:
        found = resolve_incident(db_session, incident, runtime)
        payload = incident_detail(
            found,
            timeline=timeline.get_timeline(db_session=db_session, incident_id=found.id),
            message_count=timeline.count_messages(db_session=db_session, incident_id=found.id),
        )
        # Whether a postmortem can be drafted, by the postmortem service's own rule.
        payload["postmortem_blocker"] = postmortems.not_ready_reason(db_session=db_session, incident=found)
        if found.resolved_at is None:
            declared = (
                found.declared_at if found.declared_at.tzinfo else found.declared_at.replace(tzinfo=UTC)
            )
            # How long it has been open, from the run's clock: "how long have we been at this?"
            payload["open_for"] = duration_text(context.clock() - declared)
    return tool_reply(runtime, payload, focus=found.id)

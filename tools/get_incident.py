"""Tool `get_incident`: one incident's fields, root cause, remediation and timeline excerpts."""

from __future__ import annotations

from typing import Any

from langgraph.prebuilt import ToolRuntime
from pydantic import BaseModel

from agent.incidents import service
from agent.serialize import incident_detail
from tools._common import agent_tool, context_of, resolve_incident, store_session, tool_reply


class GetIncidentArgs(BaseModel):
    """Arguments of `get_incident`."""

    incident: str


@agent_tool(GetIncidentArgs)
def get_incident(runtime: ToolRuntime, incident: str) -> Any:
    """Get one incident: status, severity, impact, root cause, remediation and timeline excerpts.

    Use for questions about a single incident. `root_cause` or `remediation` null means not recorded.

    Args:
        incident: "incident-123", "#123", "INC-123", or "this incident" for the incident in focus.
    """
    with store_session(context_of(runtime)) as db_session:
        found = resolve_incident(db_session, incident, runtime)
        payload = incident_detail(
            found,
            timeline=service.get_timeline(db_session=db_session, incident_id=found.id),
            message_count=service.count_messages(db_session=db_session, incident_id=found.id),
        )
    return tool_reply(runtime, payload, focus=found.id)

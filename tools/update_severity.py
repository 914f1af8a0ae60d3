"""Tool `update_severity`: change an incident's severity once the person asking confirms."""

from __future__ import annotations

from typing import Any

from langgraph.prebuilt import ToolRuntime
from pydantic import BaseModel

from agent.db import session_for
from agent.incidents import service
from agent.incidents.exceptions import NoChange
from agent.normalize import parse_severity
from agent.permissions import check_may_change
from tools.confirmation import confirmed_write, require_request
from tools.runtime import agent_tool, context_of, resolve_incident, state_value


class UpdateSeverityArgs(BaseModel):
    """Arguments of `update_severity`."""

    incident: str
    severity: str


@agent_tool(UpdateSeverityArgs)
def update_severity(runtime: ToolRuntime, incident: str, severity: str) -> Any:
    """Change an incident's severity; the person asking is shown the change and must confirm it.

    Only when the person asking requests this change in their own message.

    Args:
        incident: "incident-123", "#123", or "this incident" for the incident in focus.
        severity: The new severity: SEV-1 (worst) to SEV-5, or unknown.
    """
    context = context_of(runtime)
    target = parse_severity(severity)
    require_request(runtime, "update_severity", value=target, wording=f"set the severity to {target.value}")
    with session_for(context.database_url) as db_session:
        found = resolve_incident(db_session, incident, runtime)
        if found.severity == target.value:
            raise NoChange(f"{found.public_id} is already {target.value}.")
        check_may_change(state_value(runtime, "user"), context=context, incident=found)

    return confirmed_write(
        runtime,
        action="update_severity",
        incident=found,
        summary=f"Change the severity of {found.public_id} from {found.severity} to {target.value}.",
        changes={"severity": [found.severity, target.value]},
        apply=lambda db_session, actor: service.update_severity(
            db_session=db_session,
            incident_id=found.id,
            severity=target,
            now=context.clock(),
            actor=actor,
            source=context.source,
        ),
    )

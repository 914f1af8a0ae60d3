"""Tool `set_status`: move an incident through its lifecycle once the person asking confirms."""

from __future__ import annotations

from typing import Any

from langgraph.prebuilt import ToolRuntime
from pydantic import BaseModel

from agent.db import session_for
from agent.incidents import service
from agent.incidents.enums import Status
from agent.normalize import parse_status
from agent.permissions import check_may_change
from tools.confirmation import confirmed_write, require_request
from tools.runtime import agent_tool, context_of, resolve_incident, state_value


class SetStatusArgs(BaseModel):
    """Arguments of `set_status`."""

    incident: str
    status: str


@agent_tool(SetStatusArgs)
def set_status(runtime: ToolRuntime, incident: str, status: str) -> Any:
    """Change an incident's status; the person asking is shown the change and must confirm it.

    Only when the person asking requests this change in their own message. The lifecycle is
    active -> stable -> resolved -> completed; stable can flare up to active, resolved can be reopened.

    Args:
        incident: "incident-123", "#123", or "this incident" for the incident in focus.
        status: The new status: active, stable, resolved or completed.
    """
    context = context_of(runtime)
    target = parse_status(status)
    require_request(runtime, "set_status", value=target, wording=f"mark an incident {target.value}")
    with session_for(context.database_url) as db_session:
        found = resolve_incident(db_session, incident, runtime)
        service.check_transition(Status(found.status), target, found.public_id)
        check_may_change(state_value(runtime, "user"), context=context, incident=found)

    return confirmed_write(
        runtime,
        action="set_status",
        incident=found,
        summary=f"Change the status of {found.public_id} from {found.status} to {target.value}.",
        changes={"status": [found.status, target.value]},
        apply=lambda db_session, actor: service.set_status(
            db_session=db_session,
            incident_id=found.id,
            status=target,
            now=context.clock(),
            actor=actor,
            source=context.source,
        ),
    )

"""Tool `draft_postmortem`: a first-draft postmortem of a resolved incident, from a template."""

from __future__ import annotations

from typing import Any

from langgraph.prebuilt import ToolRuntime
from pydantic import BaseModel

from agent.db import session_for
from agent.postmortems import service as postmortems
from tools.results import tool_reply
from tools.runtime import agent_tool, context_of, drafting_model, resolve_incident, state_value


class DraftPostmortemArgs(BaseModel):
    """Arguments of `draft_postmortem`."""

    incident: str | None = None
    template: str = "ai"
    replace: bool = False


@agent_tool(DraftPostmortemArgs)
def draft_postmortem(
    runtime: ToolRuntime, incident: str | None = None, template: str = "ai", replace: bool = False
) -> Any:
    """Draft a first postmortem of a resolved incident from a template, for people to revise.

    Args:
        incident: The incident; defaults to the incident in focus.
        template: Template name: "ai" (generated sections), "plain", or a team's own template.
        replace: Replace the postmortem already linked to the incident (the old one stays in its history).
    """
    context = context_of(runtime)
    model = drafting_model(context)
    with session_for(context.database_url) as db_session:
        found = resolve_incident(db_session, incident, runtime)
        # Refuses (with the reason) unless resolved with enough messages and, without `replace`, unlinked.
        draft = postmortems.generate(
            db_session=db_session,
            incident_id=found.id,
            now=context.clock(),
            actor=state_value(runtime, "user") or "copilot",
            template_name=template,
            model=model,
            replace=replace,
            min_messages=context.postmortem_min_messages,
            source=context.source,
        )
    return tool_reply(
        runtime,
        {"incident": found.public_id, "postmortem_id": draft.id, "markdown": draft.body},
        focus=found.id,
    )

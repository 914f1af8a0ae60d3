"""Tool `draft_postmortem`: a first-draft postmortem of a resolved incident, once the person asking confirms."""

from __future__ import annotations

from typing import Any

from langgraph.prebuilt import ToolRuntime
from pydantic import BaseModel

from agent.db import session_for
from agent.permissions import check_may_change
from agent.postmortems import service as postmortems
from tools.confirmation import confirm, not_confirmed
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
    """Draft a first postmortem of a resolved incident from a template, for people to revise; the person
    asking is shown what will be drafted and must confirm it.

    Args:
        incident: The incident; defaults to the incident in focus.
        template: Template name: "ai" (generated sections), "plain", or a team's own template.
        replace: Replace the postmortem already linked to the incident (the old one stays in its history).
    """
    context = context_of(runtime)
    with session_for(context.database_url) as db_session:
        found = resolve_incident(db_session, incident, runtime)
        # Refuses (with the reason) unless resolved with enough messages and, without `replace`, unlinked.
        postmortems.check_draftable(
            db_session=db_session,
            incident_id=found.id,
            now=context.clock(),
            template_name=template,
            replace=replace,
            min_messages=context.postmortem_min_messages,
        )
        check_may_change(state_value(runtime, "user"), context=context, incident=found)
        linked = postmortems.get_linked(db_session=db_session, incident_id=found.id)
    replaced = f", replacing postmortem #{linked.id} (kept in its history)" if linked is not None else ""
    confirmed, user = confirm(
        runtime,
        action="draft_postmortem",
        incident=found.public_id,
        summary=f"Draft a postmortem of {found.public_id} from the {template!r} template{replaced}.",
        changes={"postmortem": [linked.id if linked is not None else None, f"new draft ({template})"]},
    )
    if not confirmed:
        return not_confirmed(runtime, user, focus=found.id)
    with session_for(context.database_url) as db_session:
        # The one who confirmed is checked too, and named as the author in the audit log.
        check_may_change(user, context=context, incident=found)
        draft = postmortems.generate(
            db_session=db_session,
            incident_id=found.id,
            now=context.clock(),
            actor=user or "copilot",
            template_name=template,
            model=drafting_model(context),
            replace=replace,
            min_messages=context.postmortem_min_messages,
            source=context.source,
        )
    return tool_reply(
        runtime,
        {"applied": True, "incident": found.public_id, "postmortem_id": draft.id, "markdown": draft.body},
        focus=found.id,
    )

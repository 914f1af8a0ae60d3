"""Tool `summarize_timeline`: a catch-up summary of an incident's timeline, citing its entries."""

from __future__ import annotations

from typing import Any

from langgraph.prebuilt import ToolRuntime
from pydantic import BaseModel

from agent.db import session_for
from agent.incidents.exceptions import InvalidInput
from agent.postmortems import service as postmortems
from agent.summaries.extract import SUMMARY_SECTIONS, NotEnoughTimeline
from agent.summaries.render import render_summary_markdown
from tools.results import tool_reply
from tools.runtime import agent_tool, context_of, drafting_model, resolve_incident


class SummarizeTimelineArgs(BaseModel):
    """Arguments of `summarize_timeline`."""

    incident: str | None = None


@agent_tool(SummarizeTimelineArgs)
def summarize_timeline(runtime: ToolRuntime, incident: str | None = None) -> Any:
    """Summarize an incident's timeline for someone catching up: what happened, impact, status, next steps.

    Args:
        incident: The incident; defaults to the incident in focus.
    """
    context = context_of(runtime)
    model = drafting_model(context)
    with session_for(context.database_url) as db_session:
        found = resolve_incident(db_session, incident, runtime)
        summary = postmortems.summarize(
            db_session=db_session,
            incident_id=found.id,
            now=context.clock(),
            model=model,
            min_messages=context.summary_min_messages,
        )
    if isinstance(summary, NotEnoughTimeline):
        if not summary.message_count:
            raise InvalidInput(
                f"{found.public_id} has no messages in its timeline yet; there is nothing to summarize."
            )
        raise InvalidInput(
            f"{found.public_id} has {summary.message_count} messages in its timeline; "
            f"a summary needs at least {summary.min_messages}."
        )
    payload = {
        "incident": found.public_id,
        "summary_markdown": render_summary_markdown(summary),
        "sections": {
            key: [point.text for point in getattr(summary, key)] for key, _heading in SUMMARY_SECTIONS
        },
        "message_count": summary.message_count,
    }
    return tool_reply(runtime, payload, focus=found.id)

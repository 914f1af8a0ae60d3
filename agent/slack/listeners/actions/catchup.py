"""The Full summary button under a since-last-time catch-up: the whole summary, privately."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond

from agent.slack.blocks import FULL_SUMMARY_ACTION, catchup_blocks
from agent.slack.runtime import runtime_of
from prompts import slack as text


def register(app: App) -> None:
    """Adds the Full summary button listener."""
    app.action(FULL_SUMMARY_ACTION)(handle_full_summary)


def handle_full_summary(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """Answers with the incident's full catch-up summary (the cached one), only for who pressed."""
    ack()
    runtime = runtime_of(context)
    incident_id = int(body["actions"][0]["value"])
    summary = runtime.catchup.get(incident_id)
    if summary is None:
        note = text.FULL_SUMMARY_NONE.format(incident=f"incident-{incident_id}")
        respond(text=note, response_type="ephemeral", replace_original=False)
        return
    respond(
        text=f"Catch-up on incident-{incident_id}",
        blocks=catchup_blocks(summary),
        response_type="ephemeral",
        replace_original=False,
    )

"""`member_joined_channel`: a private catch-up for whoever joins a busy incident channel."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from agent.slack.blocks import catchup_blocks
from agent.slack.runtime import runtime_of

logger = logging.getLogger(__name__)


def register(app: App) -> None:
    """Adds the join listener."""
    app.event("member_joined_channel")(handle_member_joined)


def handle_member_joined(
    event: dict[str, Any], body: dict[str, Any], context: BoltContext, client: WebClient
) -> None:
    """Sends the joiner, and only them, the incident's catch-up when the channel has one to give.

    Nothing is sent for the app joining, for channels without an incident, for private incidents, or for
    timelines under ten messages (see `agent.slack.catchup`).
    """
    runtime = runtime_of(context)
    user_id, channel_id = event["user"], event["channel"]
    if user_id == context.bot_user_id:
        return
    incident_id = runtime.directory.incident_id(channel_id)
    if incident_id is None or not runtime.deduper.claim(body.get("event_id")):
        return
    summary = runtime.catchup.get(incident_id)
    if summary is None:
        return
    client.chat_postEphemeral(
        channel=channel_id,
        user=user_id,
        text=f"Catch-up on incident-{incident_id}",
        blocks=catchup_blocks(summary),
    )
    logger.info("Sent the incident-%s catch-up to %s", incident_id, user_id)

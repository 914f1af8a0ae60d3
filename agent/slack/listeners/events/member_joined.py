"""`member_joined_channel`: a private catch-up for whoever joins a busy incident channel."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from agent.catchups import service as catchups
from agent.slack.catchup import personal_catchup
from agent.slack.runtime import runtime_of

logger = logging.getLogger(__name__)


def register(app: App) -> None:
    """Adds the join listener."""
    app.event("member_joined_channel")(handle_member_joined)


def handle_member_joined(
    event: dict[str, Any], body: dict[str, Any], context: BoltContext, client: WebClient
) -> None:
    """Sends the joiner, and only them, the incident's catch-up when the channel has one to give.

    Someone rejoining after a catch-up gets what changed since. Nothing is sent for the app joining, for
    channels without an incident, for private incidents, or for a first catch-up on a timeline under ten
    messages (see `agent.slack.catchup`).
    """
    runtime = runtime_of(context)
    user_id, channel_id = event["user"], event["channel"]
    if user_id == context.bot_user_id:
        return
    incident_id = runtime.directory.incident_id(channel_id)
    if incident_id is None or not runtime.deduper.claim(body.get("event_id")):
        return
    now = runtime.now()
    message = personal_catchup(
        engine=runtime.engine, cache=runtime.catchup, user_id=user_id, incident_id=incident_id, now=now
    )
    if message is None:
        return
    client.chat_postEphemeral(channel=channel_id, user=user_id, **message)
    runtime.writer.run(
        lambda session: catchups.mark_seen(
            db_session=session, user_id=user_id, incident_id=incident_id, now=now
        )
    )
    logger.info("Sent the incident-%s catch-up to %s", incident_id, user_id)

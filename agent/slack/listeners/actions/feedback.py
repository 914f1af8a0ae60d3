"""The feedback buttons under every answer: one vote per person and answer; pressing again changes it."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond

from agent.feedback import service as feedback
from agent.slack.blocks import FEEDBACK_ACTION, parse_feedback_value
from agent.slack.runtime import runtime_of
from prompts import slack as text

logger = logging.getLogger(__name__)


def register(app: App) -> None:
    """Adds the feedback button listener."""
    app.action(FEEDBACK_ACTION)(handle_feedback)


def handle_feedback(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    """Stores the vote (only the Slack user id of who pressed) and thanks them privately."""
    ack()
    runtime = runtime_of(context)
    try:
        answer_id, helpful = parse_feedback_value(body["actions"][0]["value"])
    except (KeyError, IndexError, ValueError):
        logger.warning("Ignoring a feedback press with an unreadable value")
        return
    voter, now = body["user"]["id"], runtime.now()
    kept = runtime.writer.run(
        lambda session: feedback.vote(
            db_session=session, answer_id=answer_id, voter=voter, helpful=helpful, now=now
        )
    )
    if not kept:
        note = text.FEEDBACK_GONE.format(days=runtime.settings.feedback_retention_days)
    else:
        note = text.FEEDBACK_THANKS_UP if helpful else text.FEEDBACK_THANKS_DOWN
    respond(text=note, response_type="ephemeral", replace_original=False)

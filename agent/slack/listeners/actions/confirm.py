"""The Confirm / Cancel buttons of a pending write: check who pressed, then resume the paused agent.

The agent paused with a LangGraph interrupt and its checkpoint is durable, so the press may come from
another process than the one that asked. Only someone allowed to change the incident (per
`INCIDENT_COPILOT_WRITE_PERMISSION`) may answer; anyone else gets a private refusal and nothing changes.
Each confirmation message is answered once, even when two people press at the same moment.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from agent import permissions
from agent.context import Context
from agent.db import session_scope
from agent.incidents import service
from agent.normalize import parse_incident_ref
from agent.slack.blocks import CANCEL_ACTION, CONFIRM_ACTION, outcome_blocks, parse_button_value
from agent.slack.runtime import SlackRuntime, runtime_of
from agent.slack.turns import drafted_postmortem, error_sentence, post_postmortem_file, post_reply
from prompts.slack import POSTMORTEM_IN_THREAD

logger = logging.getLogger(__name__)


def register(app: App) -> None:
    """Adds the Confirm and Cancel button listeners."""
    app.action(CONFIRM_ACTION)(handle_confirm)
    app.action(CANCEL_ACTION)(handle_cancel)


def handle_confirm(
    ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient, respond: Respond
) -> None:
    """Applies the pending write, if the person pressing may."""
    ack()
    _answer(body, context, client, respond, confirmed=True)


def handle_cancel(
    ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient, respond: Respond
) -> None:
    """Drops the pending write, if the person pressing may."""
    ack()
    _answer(body, context, client, respond, confirmed=False)


def may_change(runtime: SlackRuntime, *, user_id: str, channel_id: str, incident: str | None) -> bool:
    """Returns whether a person may confirm a change to `incident` (None: a declaration).

    The policy is `agent.permissions.may_change`, the one the agent applies too; Slack contributes whether
    the person is a member of the incident's channel right now (`conversations.members`, never cached).
    """
    person = runtime.directory.user(user_id)
    policy = runtime.settings.write_permission
    with session_scope(runtime.engine) as session:
        found = (
            service.get(db_session=session, incident_id=parse_incident_ref(incident)) if incident else None
        )
    # "Members of its channel": the incident's own channel when it has one, else where the button is.
    incident_channel = (found.slack_channel_id if found is not None else None) or channel_id
    member = policy == "channel_members" and user_id in runtime.directory.members(incident_channel)
    context = Context(
        source="slack", write_permission=policy, allowed_confirmers=[person.name] if member else []
    )
    return permissions.may_change(person.name, context=context, incident=found)


def _answer(
    body: dict[str, Any], context: BoltContext, client: WebClient, respond: Respond, *, confirmed: bool
) -> None:
    runtime = runtime_of(context)
    user_id = body["user"]["id"]
    channel_id = (body.get("channel") or {}).get("id") or body["container"]["channel_id"]
    message = body.get("message") or {}
    message_ts = message.get("ts") or body["container"]["message_ts"]
    thread_ts = message.get("thread_ts")
    try:
        thread_id, incident = parse_button_value(body["actions"][0]["value"])
        # Private notes go through the button's response_url: Slack refuses an ephemeral message to someone
        # outside the channel, and people outside it are exactly those who may be refused.
        if not may_change(runtime, user_id=user_id, channel_id=channel_id, incident=incident):
            who = runtime.who_may_confirm()
            _tell(respond, f"Only {who} can confirm or cancel this change; nothing was changed.")
            return
        if not runtime.deduper.claim(f"confirm:{channel_id}:{message_ts}"):
            _tell(respond, "This change was already answered.")
            return
        name = runtime.directory.name(user_id)
        verb = "Confirmed" if confirmed else "Cancelled"
        # The buttons go at once, so nobody presses them again while the change is applied.
        client.chat_update(
            channel=channel_id,
            ts=message_ts,
            text=f"{verb} by {name}; working on it…",
            blocks=outcome_blocks(headline=f":hourglass_flowing_sand: {verb} by *{name}*; working on it…"),
        )
        runtime.submit(_resume, runtime, channel_id, message_ts, thread_ts, thread_id, name, confirmed)
    except Exception as error:
        logger.exception("Answering a confirmation in %s failed", channel_id)
        _tell(respond, f":warning: {error_sentence(error)}")


def _tell(respond: Respond, text: str) -> None:
    respond(text=text, response_type="ephemeral", replace_original=False)


def _resume(
    runtime: SlackRuntime,
    channel_id: str,
    message_ts: str,
    thread_ts: str | None,
    thread_id: str,
    name: str,
    confirmed: bool,
) -> None:
    try:
        reply = runtime.runner.resume(thread_id, confirmed=confirmed, user=name, now=runtime.now())
    except Exception as error:
        logger.exception("Resuming agent thread %s failed", thread_id)
        headline = f":warning: {error_sentence(error)}"
        runtime.delivery.send(
            "chat_update",
            key=f"{thread_id}:outcome:{message_ts}",
            channel=channel_id,
            ts=message_ts,
            text=headline,
            blocks=outcome_blocks(headline=headline),
        )
        return
    if confirmed:
        headline = f":white_check_mark: Confirmed by *{name}*."
    else:
        headline = f":no_entry_sign: Cancelled by *{name}*; nothing was changed."
    # A drafted postmortem goes to the thread as a file; the confirmation message only says so.
    detail = POSTMORTEM_IN_THREAD if drafted_postmortem(reply) is not None else reply.answer or None
    runtime.delivery.send(
        "chat_update",
        key=f"{thread_id}:outcome:{message_ts}",
        channel=channel_id,
        ts=message_ts,
        text=f"{headline} {detail or ''}".strip(),
        blocks=outcome_blocks(headline=headline, detail=detail),
    )
    post_postmortem_file(
        runtime, reply, channel_id=channel_id, thread_ts=thread_ts, key=f"{thread_id}:postmortem"
    )
    if reply.pending is not None:
        # The agent paused again at its next write: ask for that one too.
        post_reply(runtime, reply, channel_id=channel_id, thread_ts=thread_ts, thread_id=thread_id)

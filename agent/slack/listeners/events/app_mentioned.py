"""`app_mention`: answer in the thread, with the thread (or the channel's recent talk) as memory."""

from __future__ import annotations

import logging
from typing import Any

from langchain_core.messages import BaseMessage
from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from agent.slack.blocks import HELP_TEXT, help_blocks
from agent.slack.history import HISTORY_LIMIT, plain_text, to_messages
from agent.slack.runtime import SlackRuntime, runtime_of
from agent.slack.turns import agent_thread_id, answer_in_thread, post_error

logger = logging.getLogger(__name__)

WORKING_REACTION = "eyes"
"""Put on the mention while the agent works, taken off when the answer is posted."""

REPLIES_PAGE = 200
MAX_REPLY_PAGES = 5


def register(app: App) -> None:
    """Adds the mention listener."""
    app.event("app_mention")(handle_app_mention)


def handle_app_mention(
    event: dict[str, Any], body: dict[str, Any], context: BoltContext, client: WebClient
) -> None:
    """Shows that the mention was seen and hands the answer to the agent executor (Bolt has acked already)."""
    runtime = runtime_of(context)
    if not runtime.deduper.claim(body.get("event_id")):
        logger.info("Ignoring redelivered mention %s", body.get("event_id"))
        return
    _react(client, "reactions_add", event["channel"], event["ts"])
    runtime.submit(
        answer_mention,
        runtime,
        client,
        event,
        context.bot_user_id,
        context.bot_id,
        body.get("event_id"),
        body.get("team_id") or event.get("team"),
    )


def answer_mention(
    runtime: SlackRuntime,
    client: WebClient,
    event: dict[str, Any],
    bot_user_id: str | None,
    bot_id: str | None,
    event_id: str | None = None,
    team_id: str | None = None,
) -> None:
    """Answers a mention in its thread (a long answer streamed); any failure becomes one short sentence."""
    channel_id, ts = event["channel"], event["ts"]
    thread_ts = event.get("thread_ts") or ts
    try:
        question = plain_text(event.get("text") or "", name_of=runtime.directory.name, drop_user=bot_user_id)
        thread_id = agent_thread_id(channel_id, thread_ts, ts)
        if not question:
            runtime.delivery.send(
                "chat_postMessage",
                key=f"{thread_id}:help",
                event_id=event_id,
                channel=channel_id,
                thread_ts=thread_ts,
                text=HELP_TEXT,
                blocks=help_blocks(),
            )
            return
        history = load_history(
            runtime, client, event=event, thread_ts=thread_ts, bot_user_id=bot_user_id, bot_id=bot_id
        )
        answer_in_thread(
            runtime,
            question=question,
            history=history,
            channel_id=channel_id,
            thread_ts=thread_ts,
            thread_id=thread_id,
            user_id=event.get("user") or "",
            team_id=team_id,
            event_id=event_id,
        )
    except Exception as error:
        logger.exception("Answering mention %s in %s (event %s) failed", ts, channel_id, event_id or "-")
        post_error(
            runtime,
            channel_id=channel_id,
            thread_ts=thread_ts,
            error=error,
            key=f"{agent_thread_id(channel_id, thread_ts, ts)}:error",
            event_id=event_id,
        )
    finally:
        _react(client, "reactions_remove", channel_id, ts)


def load_history(
    runtime: SlackRuntime,
    client: WebClient,
    *,
    event: dict[str, Any],
    thread_ts: str,
    bot_user_id: str | None,
    bot_id: str | None,
) -> list[BaseMessage]:
    """Returns the conversation before the mention: the thread's replies, or the channel's recent messages."""
    channel_id = event["channel"]
    if event.get("thread_ts"):
        messages = _thread_replies(client, channel_id, thread_ts)
    else:
        messages = client.conversations_history(
            channel=channel_id, latest=event["ts"], inclusive=False, limit=HISTORY_LIMIT
        )["messages"]
    return to_messages(
        messages or [],
        name_of=runtime.directory.name,
        bot_user_id=bot_user_id,
        bot_id=bot_id,
        before_ts=event["ts"],
    )


def _thread_replies(client: WebClient, channel_id: str, thread_ts: str) -> list[dict[str, Any]]:
    # Replies come oldest first, so a long thread is paged to its end; only the newest are kept.
    messages: list[dict[str, Any]] = []
    cursor: str | None = None
    for _page in range(MAX_REPLY_PAGES):
        page = client.conversations_replies(
            channel=channel_id, ts=thread_ts, limit=REPLIES_PAGE, cursor=cursor
        )
        messages = (messages + list(page.get("messages") or []))[-HISTORY_LIMIT * 2 :]
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
        if not page.get("has_more") or cursor is None:
            break
    return messages


def _react(client: WebClient, method: str, channel_id: str, ts: str) -> None:
    # The reaction only shows progress; failing to set or clear it must not stop the answer.
    try:
        getattr(client, method)(channel=channel_id, timestamp=ts, name=WORKING_REACTION)
    except SlackApiError as error:
        logger.info("%s on %s failed: %s", method, ts, error.response.get("error"))

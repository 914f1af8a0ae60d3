"""The assistant panel, through Bolt's `Assistant` middleware: greeting, suggested prompts, context, answers.

* `assistant_thread_started`: a short greeting and suggested prompts fitted to where the person is (an
  incident channel gets "Give me a summary of this incident"; elsewhere, "How many incidents are currently
  ongoing?"); the context Slack sends is saved.
* `assistant_thread_context_changed`: the channel the person now has open is saved, so "this incident" in
  the panel means that channel's incident.
* a message in the panel thread: the same agent as mentions, with the thread as memory; the status line
  follows the tool being called, the thread is titled after its first question, and a long answer streams.
  Writes get the same Confirm / Cancel message, checked by the same permission rules.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, Assistant, BoltContext
from slack_bolt.context.assistant.thread_context_store.store import AssistantThreadContextStore
from slack_bolt.context.get_thread_context import GetThreadContext
from slack_bolt.context.save_thread_context import SaveThreadContext
from slack_bolt.context.set_status import SetStatus
from slack_bolt.context.set_suggested_prompts import SetSuggestedPrompts
from slack_bolt.context.set_title import SetTitle
from slack_sdk import WebClient

from agent.db import session_scope
from agent.incidents import service
from agent.slack.history import plain_text
from agent.slack.listeners.events.app_mentioned import load_history
from agent.slack.runtime import SlackRuntime, runtime_of
from agent.slack.turns import agent_thread_id, answer_in_thread, post_error
from prompts import slack as text

logger = logging.getLogger(__name__)


def register(app: App, *, thread_context_store: AssistantThreadContextStore | None = None) -> None:
    """Adds the assistant panel's listeners as Bolt's `Assistant` middleware."""
    assistant = Assistant(thread_context_store=thread_context_store)
    assistant.thread_started(handle_thread_started)
    assistant.thread_context_changed(handle_context_changed)
    assistant.user_message(handle_user_message)
    app.assistant(assistant)


def viewed_incident(runtime: SlackRuntime, channel_id: str | None) -> tuple[str, str] | None:
    """Returns (public id, title) of the incident linked to the channel the person has open, if any."""
    if not channel_id:
        return None
    number = runtime.directory.incident_id(channel_id)
    if number is None:
        return None
    with session_scope(runtime.engine) as session:
        found = service.get_many(db_session=session, incident_ids=[number])
        title = found[0].title if found else None
    return (f"incident-{number}", title) if title is not None else None


def handle_thread_started(
    payload: dict[str, Any],
    body: dict[str, Any],
    context: BoltContext,
    set_suggested_prompts: SetSuggestedPrompts,
    save_thread_context: SaveThreadContext,
) -> None:
    """Greets briefly and suggests prompts fitted to the channel the person has open."""
    runtime = runtime_of(context)
    if not runtime.deduper.claim(body.get("event_id")):
        return  # Slack delivered the same opening again: one greeting is enough.
    thread = payload["assistant_thread"]
    channel_id, thread_ts = thread["channel_id"], thread["thread_ts"]
    viewed = dict(thread.get("context") or {})
    if viewed.get("channel_id"):
        save_thread_context(viewed)
    incident = viewed_incident(runtime, viewed.get("channel_id"))
    greeting = (
        text.PANEL_GREETING_INCIDENT.format(incident=incident[0], title=incident[1])
        if incident
        else text.PANEL_GREETING
    )
    runtime.delivery.send(
        "chat_postMessage",
        key=f"assistant:{channel_id}:{thread_ts}:greeting",
        event_id=body.get("event_id"),
        channel=channel_id,
        thread_ts=thread_ts,
        text=greeting,
    )
    set_suggested_prompts(
        prompts=text.PANEL_PROMPTS_INCIDENT if incident else text.PANEL_PROMPTS,
        title=text.PANEL_PROMPTS_TITLE,
    )


def handle_context_changed(payload: dict[str, Any], save_thread_context: SaveThreadContext) -> None:
    """Remembers the channel the person now has open beside the panel."""
    save_thread_context(payload["assistant_thread"].get("context") or {})


def handle_user_message(
    payload: dict[str, Any],
    body: dict[str, Any],
    context: BoltContext,
    client: WebClient,
    set_status: SetStatus,
    set_title: SetTitle,
    get_thread_context: GetThreadContext,
) -> None:
    """Shows that the question was seen and hands it to the agent executor (Bolt has acked already)."""
    runtime = runtime_of(context)
    if not runtime.deduper.claim(body.get("event_id")):
        logger.info("Ignoring redelivered panel message %s", body.get("event_id"))
        return
    try:
        set_status(text.STATUS_THINKING)
    except Exception as error:
        logger.info("Setting the panel status failed: %s", error)
    runtime.submit(
        answer_in_panel,
        runtime,
        client,
        payload,
        set_status,
        set_title,
        get_thread_context,
        context.bot_user_id,
        context.bot_id,
        body.get("event_id"),
    )


def answer_in_panel(
    runtime: SlackRuntime,
    client: WebClient,
    event: dict[str, Any],
    set_status: SetStatus,
    set_title: SetTitle,
    get_thread_context: GetThreadContext,
    bot_user_id: str | None,
    bot_id: str | None,
    event_id: str | None,
) -> None:
    """Answers a panel question in its thread, about the channel the person has open; failures in one line."""
    channel_id, ts, thread_ts = event["channel"], event["ts"], event["thread_ts"]
    thread_id = agent_thread_id(channel_id, thread_ts, ts)
    try:
        question = plain_text(event.get("text") or "", name_of=runtime.directory.name, drop_user=bot_user_id)
        history = load_history(
            runtime, client, event=event, thread_ts=thread_ts, bot_user_id=bot_user_id, bot_id=bot_id
        )
        if not any(message.type == "human" for message in history):
            _title(set_title, question)
        viewed = get_thread_context()
        answer_in_thread(
            runtime,
            question=question,
            history=history,
            channel_id=channel_id,
            thread_ts=thread_ts,
            thread_id=thread_id,
            user_id=event.get("user") or "",
            team_id=event.get("team"),
            event_id=event_id,
            # "This incident" is the incident of the channel open beside the panel, if Slack said which.
            about_channel_id=(viewed or {}).get("channel_id"),
            set_status=set_status,
        )
    except Exception as error:
        logger.exception("Answering panel message %s (event %s) failed", ts, event_id or "-")
        post_error(
            runtime,
            channel_id=channel_id,
            thread_ts=thread_ts,
            error=error,
            key=f"{thread_id}:error",
            event_id=event_id,
        )


def _title(set_title: SetTitle, question: str) -> None:
    title = " ".join(question.split())
    if len(title) > text.TITLE_MAX_CHARS:
        title = title[: text.TITLE_MAX_CHARS - 1].rsplit(" ", 1)[0] + "…"
    try:
        set_title(title or text.PANEL_PROMPTS_TITLE)
    except Exception as error:
        logger.info("Setting the panel title failed: %s", error)

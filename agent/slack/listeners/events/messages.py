"""Channel messages into the incident timeline: new, edited, deleted, pinned and unpinned.

With `INCIDENT_COPILOT_TIMELINE_SYNC=all` every person's message in a linked channel (thread replies
included) is stored; with `pinned`, a message is stored when it is pinned. Bots' messages, the app's own
included, are never stored. A message is stored once, whatever Slack redelivers: the event id is claimed
and the timeline is unique on (channel, ts). The listeners only describe the change; `agent.slack.ingest`
writes it, batched with the others that arrive at the same time.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext

from agent.incidents.timeline import SlackMessage
from agent.slack.history import is_bot_message, message_text, ts_to_datetime
from agent.slack.ingest import TimelineChange
from agent.slack.runtime import SlackRuntime, runtime_of

NEW_MESSAGE_SUBTYPES = frozenset({None, "thread_broadcast", "file_share", "me_message"})


def register(app: App) -> None:
    """Adds the message and pin listeners."""
    app.event("message")(handle_message)
    app.event("pin_added")(handle_pin_added)
    app.event("pin_removed")(handle_pin_removed)


def handle_message(event: dict[str, Any], body: dict[str, Any], context: BoltContext) -> None:
    """Queues the timeline change of a message in a linked channel: a new entry, an edit or a deletion."""
    subtype = event.get("subtype")
    if subtype not in NEW_MESSAGE_SUBTYPES and subtype not in {"message_changed", "message_deleted"}:
        return
    runtime = runtime_of(context)
    channel_id = event["channel"]
    incident_id = runtime.directory.incident_id(channel_id)
    if incident_id is None:
        return
    event_id = body.get("event_id")
    change: TimelineChange | None = None
    if subtype == "message_changed":
        change = _edit(runtime, event, event_id, channel_id, context.bot_user_id)
    elif subtype == "message_deleted":
        deleted_at = ts_to_datetime(event.get("event_ts") or event["ts"])
        change = TimelineChange(event_id, "delete", channel_id, event["deleted_ts"], at=deleted_at)
    elif runtime.settings.timeline_sync == "all" and not is_bot_message(event):
        entry = slack_message(
            runtime, incident_id, channel_id, event, bot_user_id=context.bot_user_id, pinned=False
        )
        change = TimelineChange(event_id, "add", channel_id, event["ts"], message=entry)
    if change is not None:
        runtime.ingest.put(change)


def handle_pin_added(event: dict[str, Any], body: dict[str, Any], context: BoltContext) -> None:
    """Marks a message pinned, storing it first when it is a person's message not stored yet."""
    _pin(event, body, context, pinned=True)


def handle_pin_removed(event: dict[str, Any], body: dict[str, Any], context: BoltContext) -> None:
    """Marks a message as no longer pinned (it stays in the timeline)."""
    _pin(event, body, context, pinned=False)


def _pin(event: dict[str, Any], body: dict[str, Any], context: BoltContext, *, pinned: bool) -> None:
    item = event.get("item") or {}
    message = item.get("message") or {}
    channel_id = event.get("channel_id") or item.get("channel")
    if item.get("type") != "message" or "ts" not in message or not channel_id:
        return
    runtime = runtime_of(context)
    incident_id = runtime.directory.incident_id(channel_id)
    if incident_id is None:
        return
    entry = None
    if pinned and not is_bot_message(message):
        entry = slack_message(
            runtime, incident_id, channel_id, message, bot_user_id=context.bot_user_id, pinned=True
        )
    action = "pin" if pinned else "unpin"
    runtime.ingest.put(TimelineChange(body.get("event_id"), action, channel_id, message["ts"], message=entry))


def slack_message(
    runtime: SlackRuntime,
    incident_id: int,
    channel_id: str,
    message: dict[str, Any],
    *,
    bot_user_id: str | None,
    pinned: bool,
) -> SlackMessage:
    """Returns a person's message as a timeline entry to store: author's name, readable text, permalink."""
    ts = message["ts"]
    return SlackMessage(
        incident_id=incident_id,
        at=ts_to_datetime(ts),
        author=runtime.directory.name(message.get("user") or ""),
        text=message_text(message, name_of=runtime.directory.name, drop_user=bot_user_id),
        slack_channel_id=channel_id,
        slack_ts=ts,
        permalink=runtime.directory.permalink(channel_id, ts, message.get("thread_ts")),
        pinned=pinned,
    )


def _edit(
    runtime: SlackRuntime,
    event: dict[str, Any],
    event_id: str | None,
    channel_id: str,
    bot_user_id: str | None,
) -> TimelineChange | None:
    message = event.get("message") or {}
    if "ts" not in message or is_bot_message(message):
        return None
    if (event.get("previous_message") or {}).get("text") == message.get("text"):
        # Slack also sends message_changed for unfurls and new thread replies; the words did not change.
        return None
    edited_at = ts_to_datetime(
        (message.get("edited") or {}).get("ts") or event.get("event_ts") or event["ts"]
    )
    text = message_text(message, name_of=runtime.directory.name, drop_user=bot_user_id)
    return TimelineChange(event_id, "edit", channel_id, message["ts"], text=text, at=edited_at)

"""Bolt's assistant thread-context store, kept in our store so that every replica knows each panel's channel.

Bolt's default keeps the context in the metadata of the app's first reply in the thread, which costs a
`conversations.replies` and a `chat.update` per change and is lost when that reply is. Ours is one row per
panel thread (`agent.assistant`), written through the app's `StoreWriter`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from slack_bolt.context.assistant.thread_context import AssistantThreadContext
from slack_bolt.context.assistant.thread_context_store.store import AssistantThreadContextStore
from sqlalchemy import Engine

from agent.assistant import service as threads
from agent.db import session_scope
from agent.slack.store import StoreWriter


class StoreThreadContexts(AssistantThreadContextStore):
    """Saves and finds assistant thread contexts in the incident store."""

    def __init__(self, *, engine: Engine, writer: StoreWriter, now: Callable[[], datetime]) -> None:
        self._engine = engine
        self._writer = writer
        self._now = now

    def save(self, *, channel_id: str, thread_ts: str, context: dict[str, str]) -> None:
        """Records the channel (and team) the person has open beside a panel thread."""
        now = self._now()
        self._writer.run(
            lambda session: threads.save(
                db_session=session, channel_id=channel_id, thread_ts=thread_ts, context=dict(context), now=now
            )
        )

    def find(self, *, channel_id: str, thread_ts: str) -> AssistantThreadContext | None:
        """Returns the context last saved for a panel thread, None when Slack never reported one."""
        with session_scope(self._engine) as session:
            found = threads.find(db_session=session, channel_id=channel_id, thread_ts=thread_ts)
        return AssistantThreadContext(found) if found and found.get("channel_id") else None

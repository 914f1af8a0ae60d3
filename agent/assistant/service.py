"""Saving and finding assistant thread contexts (keyword-only functions over a session)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent.assistant.models import AssistantThread
from agent.db import upsert


def save(
    *, db_session: Session, channel_id: str, thread_ts: str, context: dict[str, Any], now: datetime
) -> None:
    """Records the context of a panel thread, replacing the one before (one upsert)."""
    upsert(
        db_session,
        AssistantThread,
        values={"channel_id": channel_id, "thread_ts": thread_ts, "context": context, "updated_at": now},
        keys=["channel_id", "thread_ts"],
        update={"context": context, "updated_at": now},
    )
    db_session.commit()


def find(*, db_session: Session, channel_id: str, thread_ts: str) -> dict[str, Any] | None:
    """Returns the context last saved for a panel thread, None when none was."""
    return db_session.scalar(
        select(AssistantThread.context).where(
            AssistantThread.channel_id == channel_id, AssistantThread.thread_ts == thread_ts
        )
    )

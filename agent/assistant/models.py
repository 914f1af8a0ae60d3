"""Models for assistant thread resources: the context Slack reports for each panel thread."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from agent.incidents.models import Base


class AssistantThread(Base):
    """One assistant-panel thread and the context Slack last reported for it (`channel_id`, `team_id`...)."""

    __tablename__ = "assistant_threads"
    __table_args__ = (UniqueConstraint("channel_id", "thread_ts", name="uq_assistant_threads_thread"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(40))
    thread_ts: Mapped[str] = mapped_column(String(40))
    context: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime]

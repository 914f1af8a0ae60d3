"""The outbox table: one row per reply that a front door could not deliver at the first attempt."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from agent.incidents.models import Base


class OutboxMessage(Base):
    """A reply waiting to be delivered, with its attempts so far.

    `key` names the reply (the Slack turn it answers and its kind), so that enqueueing the same reply twice,
    from a redelivery or another replica, keeps one row. A row is leased while a sender works on it, so two
    replicas never deliver it at once.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    """Where it goes: `slack`."""
    method: Mapped[str] = mapped_column(String(50))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    leased_until: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    given_up_at: Mapped[datetime | None]

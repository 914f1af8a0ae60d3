"""Models for catch-up resources: one mark per person and incident, and what changed since it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from agent.incidents.models import Base


class CatchupMark(Base):
    """The last time a person got a catch-up on an incident (kept in the store: any replica may answer)."""

    __tablename__ = "catchup_marks"
    __table_args__ = (UniqueConstraint("user_id", "incident_id", name="uq_catchup_marks_user_incident"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(String(40))
    """The Slack user id; nothing else about the person is kept."""
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    seen_at: Mapped[datetime]


class EntryRead(BaseModel):
    """A timeline entry as the since-last-time message shows it."""

    at: datetime
    author: str
    text: str


class ChangeRead(BaseModel):
    """A severity or status change as the since-last-time message shows it."""

    at: datetime
    field: str
    before: str | None
    after: str | None
    actor: str


class SinceLastTime(BaseModel):
    """What happened on an incident between a person's last catch-up and now."""

    incident_id: int
    since: datetime
    entries: list[EntryRead]
    changes: list[ChangeRead]
    more_entries: int = 0
    """Entries left out of `entries` (the oldest ones) to keep the message short."""

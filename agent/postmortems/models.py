"""The postmortem tables: templates, and drafts linked to (or unlinked from) their incidents."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from agent.incidents.models import Base


class PostmortemTemplate(Base):
    """A Markdown postmortem template with `{{incident.*}}` variables."""

    __tablename__ = "postmortem_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    body: Mapped[str] = mapped_column(Text)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Postmortem(Base):
    """A postmortem draft; at most one per incident is linked, unlinked ones stay as history."""

    __tablename__ = "postmortems"
    __table_args__ = (
        Index(
            "uq_postmortem_linked_per_incident",
            "incident_id",
            unique=True,
            sqlite_where=text("linked"),
            postgresql_where=text("linked"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    template_name: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    generated_by: Mapped[str] = mapped_column(String(100))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    linked: Mapped[bool] = mapped_column(Boolean, default=True)
    unlinked_at: Mapped[datetime | None]
    unlinked_by: Mapped[str | None] = mapped_column(String(200))

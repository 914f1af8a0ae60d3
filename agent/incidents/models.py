"""SQLAlchemy models of incidents, their timelines, the service catalogue and the audit log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    SQLite has no time zones, so values are stored as naive UTC there and made aware again on load;
    PostgreSQL stores `timestamptz`. Naive datetimes are refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: times must carry a time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every table."""

    type_annotation_map = {datetime: UTCDateTime()}


incident_services = Table(
    "incident_services",
    Base.metadata,
    Column("incident_id", ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True),
    Column("service_id", ForeignKey("services.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_incident_services_service_id", "service_id"),
)


class Service(Base):
    """A service that incidents can impact, with the other names people use for it."""

    __tablename__ = "services"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)


class Incident(Base):
    """An incident; its public id is `incident-<id>`."""

    __tablename__ = "incidents"

    # Numbers come from the source system on import and from max+1 on declare, never a sequence,
    # so imported and declared incidents share one numbering on every backend.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(String(500))
    severity: Mapped[str] = mapped_column(String(10), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    declared_at: Mapped[datetime] = mapped_column(index=True)
    stable_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    commander: Mapped[str | None] = mapped_column(String(200))
    customer_impact: Mapped[str | None] = mapped_column(Text)
    root_cause: Mapped[str | None] = mapped_column(Text)
    remediation: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    slack_channel_id: Mapped[str | None] = mapped_column(String(40), unique=True)
    slack_channel_name: Mapped[str | None] = mapped_column(String(200), index=True)
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    responders: Mapped[list[str]] = mapped_column(JSON, default=list)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    updated_at: Mapped[datetime]

    services: Mapped[list[Service]] = relationship(secondary=incident_services, lazy="selectin")
    timeline: Mapped[list[TimelineEntry]] = relationship(
        back_populates="incident", order_by="TimelineEntry.at", cascade="all, delete-orphan", lazy="raise"
    )

    # Optimistic locking: an UPDATE that lost a race matches no row and raises StaleDataError.
    __mapper_args__ = {"version_id_col": version}

    @property
    def public_id(self) -> str:
        """Returns the id people use, `incident-<n>`."""
        return f"incident-{self.id}"

    @property
    def service_names(self) -> list[str]:
        """Returns the names of the impacted services, sorted."""
        return sorted(service.name for service in self.services)


class TimelineEntry(Base):
    """One entry of an incident's timeline: a Slack message, a status change, a note."""

    __tablename__ = "timeline_entries"
    __table_args__ = (
        # A redelivered Slack message maps onto the row it already created.
        UniqueConstraint("slack_channel_id", "slack_ts", name="uq_timeline_slack_message"),
        Index("ix_timeline_incident_at", "incident_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    author: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(30))
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(20))
    slack_channel_id: Mapped[str | None] = mapped_column(String(40))
    slack_ts: Mapped[str | None] = mapped_column(String(40))
    permalink: Mapped[str | None] = mapped_column(String(500))
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    edited_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]

    incident: Mapped[Incident] = relationship(back_populates="timeline")

    @property
    def deleted(self) -> bool:
        """Returns whether the message was deleted in Slack (the row is kept as a record)."""
        return self.deleted_at is not None


class AuditRecord(Base):
    """Who changed what, when, from where, with the values before and after."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(50))
    incident_id: Mapped[int | None] = mapped_column(Integer, index=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ProcessedEvent(Base):
    """A Slack event id already handled, so a redelivery does nothing twice."""

    __tablename__ = "processed_events"

    event_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    received_at: Mapped[datetime]

"""Incidents: declaring one, reading one or many, counting and filtering them, changing severity and status.

Tools, the CLI and the Slack app call these and the other modules of the domain (`catalogue` for services,
`timeline` for timeline entries and Slack messages, `audit` for the audit log); nothing else touches the
session. Write functions commit, retry when they lose an optimistic-locking race, record an audit entry
and a timeline entry, and note the changed incident for the search index (`changes`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from agent.incidents.audit import record_audit, snapshot
from agent.incidents.catalogue import get_or_create_services
from agent.incidents.changes import MAX_WRITE_ATTEMPTS, mark_changed, retrying
from agent.incidents.enums import ALLOWED_TRANSITIONS, EntrySource, Severity, Status, TimelineKind
from agent.incidents.exceptions import (
    ConcurrentUpdate,
    IllegalTransition,
    IncidentNotFound,
    InvalidInput,
    NoChange,
)
from agent.incidents.models import Incident, Service, TimelineEntry, incident_services

# --- reads -------------------------------------------------------------------------------------------


def get(*, db_session: Session, incident_id: int) -> Incident | None:
    """Returns the incident with that number, or None."""
    return db_session.get(Incident, incident_id)


def get_or_raise(*, db_session: Session, incident_id: int) -> Incident:
    """Returns the incident with that number, or raises IncidentNotFound."""
    incident = get(db_session=db_session, incident_id=incident_id)
    if incident is None:
        raise IncidentNotFound(f"There is no incident-{incident_id}.")
    return incident


def get_by_channel(
    *, db_session: Session, channel_id: str | None = None, channel_name: str | None = None
) -> Incident | None:
    """Returns the incident linked to a Slack channel, by stored channel id first, then by name."""
    if channel_id:
        incident = db_session.scalar(select(Incident).where(Incident.slack_channel_id == channel_id))
        if incident is not None:
            return incident
    if channel_name:
        return db_session.scalar(select(Incident).where(Incident.slack_channel_name == channel_name))
    return None


def get_many(*, db_session: Session, incident_ids: Iterable[int]) -> list[Incident]:
    """Returns the incidents with those numbers, in the order asked, skipping unknown ones."""
    ids = list(dict.fromkeys(incident_ids))
    if not ids:
        return []
    found = {i.id: i for i in db_session.scalars(select(Incident).where(Incident.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


@dataclass(frozen=True)
class IncidentFilter:
    """What to look for; every field is optional and they combine with AND.

    The time window matches incidents declared inside it ("Sev-1 incidents in the past week"). With
    `overlapping`, it matches incidents open at any moment inside it instead (declared before its end and
    not resolved before its start), which is what "incidents active within the past 2 hours" means. With
    `by_resolution`, it matches incidents resolved inside it ("what got resolved this week?").
    """

    statuses: frozenset[Status] | None = None
    severities: frozenset[Severity] | None = None
    services: tuple[str, ...] = ()
    exclude_services: tuple[str, ...] = ()
    """Incidents touching any of these services are left out ("what's open apart from payments?")."""
    since: datetime | None = None
    until: datetime | None = None
    overlapping: bool = False
    by_resolution: bool = False
    text: str | None = None
    include_private: bool = False
    exclude_ids: frozenset[int] = frozenset()
    ids: frozenset[int] | None = None


@dataclass
class QueryResult:
    """Counts computed by the database, and the first incidents that match."""

    total: int
    by_status: dict[str, int] = field(default_factory=dict)
    by_severity: dict[str, int] = field(default_factory=dict)
    incidents: list[Incident] = field(default_factory=list)


def _touching(services: Sequence[str]) -> ColumnElement[bool]:
    """Returns whether the incident touched any of these services.

    Correlated (EXISTS per incident row) rather than `id IN (every incident of the service)`: at 100,000
    incidents a service's id list is ~9,000 long and was built again for each of a query's statements.
    """
    return exists().where(
        incident_services.c.incident_id == Incident.id,
        incident_services.c.service_id == Service.id,
        Service.name.in_(services),
    )


def _filtered(statement: Select[Any], criteria: IncidentFilter) -> Select[Any]:
    conditions = []
    if criteria.statuses is not None:
        conditions.append(Incident.status.in_([s.value for s in criteria.statuses]))
    if criteria.severities is not None:
        conditions.append(Incident.severity.in_([s.value for s in criteria.severities]))
    if criteria.services:
        conditions.append(_touching(criteria.services))
    if criteria.exclude_services:
        conditions.append(~_touching(criteria.exclude_services))
    if criteria.by_resolution:
        if criteria.since is not None:
            conditions.append(Incident.resolved_at >= criteria.since)
        if criteria.until is not None:
            conditions.append(Incident.resolved_at < criteria.until)
    elif criteria.until is not None:
        conditions.append(Incident.declared_at < criteria.until)
    if criteria.since is not None and not criteria.by_resolution:
        if criteria.overlapping:
            conditions.append(or_(Incident.resolved_at.is_(None), Incident.resolved_at >= criteria.since))
        else:
            conditions.append(Incident.declared_at >= criteria.since)
    if criteria.text:
        pattern = f"%{criteria.text.lower()}%"
        conditions.append(
            or_(
                func.lower(Incident.title).like(pattern),
                func.lower(Incident.summary).like(pattern),
                func.lower(Incident.customer_impact).like(pattern),
                func.lower(Incident.root_cause).like(pattern),
            )
        )
    if not criteria.include_private:
        conditions.append(Incident.private.is_(False))
    if criteria.exclude_ids:
        conditions.append(Incident.id.not_in(criteria.exclude_ids))
    if criteria.ids is not None:
        conditions.append(Incident.id.in_(criteria.ids))
    return statement.where(and_(*conditions)) if conditions else statement


def query(*, db_session: Session, criteria: IncidentFilter, limit: int = 20) -> QueryResult:
    """Returns the number of matching incidents, counts by status and severity, and the newest matches."""
    by_status: dict[str, int] = dict(  # type: ignore[arg-type]
        db_session.execute(
            _filtered(select(Incident.status, func.count()), criteria).group_by(Incident.status)
        ).all()
    )
    by_severity: dict[str, int] = dict(  # type: ignore[arg-type]
        db_session.execute(
            _filtered(select(Incident.severity, func.count()), criteria).group_by(Incident.severity)
        ).all()
    )
    incidents = list(
        db_session.scalars(
            _filtered(select(Incident), criteria)
            .order_by(Incident.declared_at.desc(), Incident.id.desc())
            .limit(limit)
            .options(selectinload(Incident.services))
        )
    )
    return QueryResult(
        total=sum(by_status.values()), by_status=by_status, by_severity=by_severity, incidents=incidents
    )


def list_incident_ids(
    *, db_session: Session, criteria: IncidentFilter | None = None, limit: int | None = None
) -> list[int]:
    """Returns the numbers of the incidents matching `criteria` (all of them, private included, when None), newest first."""
    statement = select(Incident.id)
    if criteria is not None:
        statement = _filtered(statement, criteria)
    statement = statement.order_by(Incident.declared_at.desc(), Incident.id.desc())
    if limit is not None:
        statement = statement.limit(limit)
    return list(db_session.scalars(statement))


def count_incidents(*, db_session: Session) -> int:
    """Returns how many incidents the store holds, private ones included."""
    return db_session.scalar(select(func.count()).select_from(Incident)) or 0


# --- writes ------------------------------------------------------------------------------------------


def next_incident_id(*, db_session: Session) -> int:
    """Returns the number the next declared incident gets."""
    return (db_session.scalar(select(func.max(Incident.id))) or 0) + 1


def declare(
    *,
    db_session: Session,
    title: str,
    severity: Severity,
    now: datetime,
    actor: str,
    source: EntrySource | str,
    services: Sequence[str] = (),
    commander: str | None = None,
    customer_impact: str | None = None,
    slack_channel_id: str | None = None,
    slack_channel_name: str | None = None,
    private: bool = False,
) -> Incident:
    """Declares a new active incident, with its first timeline entry and an audit record."""
    title = title.strip()
    if not title:
        raise InvalidInput("An incident needs a title.")

    def write() -> Incident:
        incident = Incident(
            id=next_incident_id(db_session=db_session),
            title=title,
            severity=severity.value,
            status=Status.active.value,
            declared_at=now,
            commander=commander or actor,
            customer_impact=customer_impact,
            slack_channel_id=slack_channel_id,
            slack_channel_name=slack_channel_name,
            private=private,
            responders=[actor],
            updated_at=now,
        )
        incident.services = get_or_create_services(db_session=db_session, names=services)
        db_session.add(incident)
        db_session.flush()
        db_session.add(
            TimelineEntry(
                incident_id=incident.id,
                at=now,
                author=actor,
                kind=TimelineKind.declared,
                text=f"{actor} declared {incident.public_id} ({severity.value}): {title}",
                source=str(source),
            )
        )
        record_audit(
            db_session=db_session,
            actor=actor,
            source=source,
            action="declare",
            now=now,
            incident_id=incident.id,
            after=snapshot(incident),
        )
        mark_changed(db_session=db_session, incident_ids=(incident.id,))
        return incident

    for _attempt in range(MAX_WRITE_ATTEMPTS):
        try:
            return retrying(db_session=db_session, write=write)
        except IntegrityError:
            # Two declarations took the same number at once; the loser takes the next one.
            db_session.rollback()
    raise ConcurrentUpdate("Could not allocate an incident number; please try again.")


def update_severity(
    *,
    db_session: Session,
    incident_id: int,
    severity: Severity,
    now: datetime,
    actor: str,
    source: EntrySource | str,
) -> Incident:
    """Changes an incident's severity; raises NoChange when it already has it."""

    def write() -> Incident:
        incident = get_or_raise(db_session=db_session, incident_id=incident_id)
        before = incident.severity
        if before == severity.value:
            raise NoChange(f"{incident.public_id} is already {severity.value}.")
        incident.severity = severity.value
        incident.updated_at = now
        db_session.add(
            TimelineEntry(
                incident_id=incident.id,
                at=now,
                author=actor,
                kind=TimelineKind.severity_change,
                text=f"{actor} changed severity from {before} to {severity.value}",
                source=str(source),
            )
        )
        db_session.flush()
        record_audit(
            db_session=db_session,
            actor=actor,
            source=source,
            action="update_severity",
            now=now,
            incident_id=incident.id,
            before={"severity": before},
            after={"severity": severity.value},
        )
        mark_changed(db_session=db_session, incident_ids=(incident.id,))
        return incident

    return retrying(db_session=db_session, write=write)


def check_transition(current: Status, target: Status, public_id: str) -> None:
    """Raises NoChange or IllegalTransition unless `current` may become `target`."""
    if current == target:
        raise NoChange(f"{public_id} is already {target.value}.")
    if target not in ALLOWED_TRANSITIONS[current]:
        allowed = ", ".join(sorted(s.value for s in ALLOWED_TRANSITIONS[current])) or "nothing"
        raise IllegalTransition(
            f"{public_id} is {current.value}; it can only become {allowed}, not {target.value}."
        )


def set_status(
    *,
    db_session: Session,
    incident_id: int,
    status: Status,
    now: datetime,
    actor: str,
    source: EntrySource | str,
) -> Incident:
    """Moves an incident to another status, refusing transitions the lifecycle does not allow."""

    def write() -> Incident:
        incident = get_or_raise(db_session=db_session, incident_id=incident_id)
        before = Status(incident.status)
        check_transition(before, status, incident.public_id)
        incident.status = status.value
        if status is Status.stable:
            incident.stable_at = now
        elif status is Status.resolved:
            incident.resolved_at = now
            incident.stable_at = incident.stable_at or now
        elif status is Status.completed:
            incident.completed_at = now
        elif status is Status.active:
            # Reopened or flared up again: it is no longer resolved or stable.
            incident.resolved_at = None
            incident.stable_at = None
        incident.updated_at = now
        db_session.add(
            TimelineEntry(
                incident_id=incident.id,
                at=now,
                author=actor,
                kind=TimelineKind.status_change,
                text=f"{actor} changed status from {before.value} to {status.value}",
                source=str(source),
            )
        )
        db_session.flush()
        record_audit(
            db_session=db_session,
            actor=actor,
            source=source,
            action="set_status",
            now=now,
            incident_id=incident.id,
            before={"status": before.value},
            after={"status": status.value},
        )
        mark_changed(db_session=db_session, incident_ids=(incident.id,))
        return incident

    return retrying(db_session=db_session, write=write)

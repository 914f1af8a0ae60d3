"""The service layer: every read and write of incidents goes through these functions.

Tools, the CLI and the Slack app call these and nothing else touches the session. Write functions
commit, retry when they lose an optimistic-locking race, record an audit entry and a timeline entry, and
note the changed incident in `db_session.info["changed_incident_ids"]` so the search index can follow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from agent.incidents.enums import ALLOWED_TRANSITIONS, EntrySource, Severity, Status, TimelineKind
from agent.incidents.exceptions import (
    ConcurrentUpdate,
    IllegalTransition,
    IncidentNotFound,
    InvalidInput,
    NoChange,
)
from agent.incidents.models import (
    AuditRecord,
    Incident,
    Service,
    TimelineEntry,
    incident_services,
)
from agent.normalize import ServiceName

MAX_WRITE_ATTEMPTS = 5
T = TypeVar("T")

CHANGED_KEY = "changed_incident_ids"
_TS_CHUNK = 500
"""Slack timestamps per `IN (...)` query; far below every backend's parameter limit."""


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


def get_timeline(
    *, db_session: Session, incident_id: int, include_deleted: bool = False, pinned_only: bool = False
) -> list[TimelineEntry]:
    """Returns the incident's timeline entries in time order."""
    statement = select(TimelineEntry).where(TimelineEntry.incident_id == incident_id)
    if not include_deleted:
        statement = statement.where(TimelineEntry.deleted_at.is_(None))
    if pinned_only:
        statement = statement.where(TimelineEntry.pinned.is_(True))
    return list(db_session.scalars(statement.order_by(TimelineEntry.at, TimelineEntry.id)))


def count_messages(*, db_session: Session, incident_id: int) -> int:
    """Returns how many live (not deleted) chat messages the incident's timeline holds."""
    return (
        db_session.scalar(
            select(func.count(TimelineEntry.id)).where(
                TimelineEntry.incident_id == incident_id,
                TimelineEntry.kind == TimelineKind.message,
                TimelineEntry.deleted_at.is_(None),
            )
        )
        or 0
    )


def list_services(*, db_session: Session) -> list[Service]:
    """Returns every service, by name."""
    return list(db_session.scalars(select(Service).order_by(Service.name)))


def service_vocabulary(*, db_session: Session) -> list[ServiceName]:
    """Returns the store's services with their aliases, as `agent.normalize` reads names."""
    return [
        ServiceName(name=s.name, aliases=tuple(s.aliases or ()), display_name=s.display_name)
        for s in list_services(db_session=db_session)
    ]


def get_service_by_name_or_alias(*, db_session: Session, name: str) -> Service | None:
    """Returns the service whose name or one of whose aliases is `name` (case-insensitive)."""
    wanted = name.strip().lower()
    for service in list_services(db_session=db_session):
        if service.name.lower() == wanted or wanted in (alias.lower() for alias in service.aliases):
            return service
    return None


def get_or_create_services(*, db_session: Session, names: Iterable[str]) -> list[Service]:
    """Returns the services with those names or aliases, creating unknown names as new services."""
    services: list[Service] = []
    for name in dict.fromkeys(n.strip() for n in names if n.strip()):
        service = get_service_by_name_or_alias(db_session=db_session, name=name)
        if service is None:
            service = Service(name=name.lower(), aliases=[])
            db_session.add(service)
            db_session.flush()
        services.append(service)
    return services


def upsert_service(
    *,
    db_session: Session,
    name: str,
    display_name: str | None = None,
    description: str | None = None,
    aliases: Sequence[str] = (),
) -> Service:
    """Creates the service or updates its display name, description and aliases."""
    service = db_session.scalar(select(Service).where(Service.name == name))
    if service is None:
        service = Service(name=name)
        db_session.add(service)
    service.display_name = display_name
    service.description = description
    service.aliases = list(aliases)
    db_session.flush()
    return service


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


# --- writes ------------------------------------------------------------------------------------------


def _mark_changed(db_session: Session, incident_id: int) -> None:
    db_session.info.setdefault(CHANGED_KEY, set()).add(incident_id)


def _retrying(db_session: Session, write: Callable[[], T]) -> T:
    """Runs `write` and commits, starting over on a lost optimistic-locking race or a busy database."""
    for _attempt in range(MAX_WRITE_ATTEMPTS):
        try:
            result = write()
            db_session.commit()
            return result
        except (StaleDataError, OperationalError) as error:
            db_session.rollback()
            if isinstance(error, OperationalError) and "locked" not in str(error).lower():
                raise
            # Someone else committed first: re-read fresh rows and apply the change on top of theirs.
            db_session.expire_all()
    raise ConcurrentUpdate("The incident kept changing while I tried to update it; please try again.")


def record_audit(
    *,
    db_session: Session,
    actor: str,
    source: EntrySource | str,
    action: str,
    now: datetime,
    incident_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditRecord:
    """Adds an audit record to the session (committed with the change it describes)."""
    record = AuditRecord(
        at=now,
        actor=actor,
        source=str(source),
        action=action,
        incident_id=incident_id,
        before=before,
        after=after,
    )
    db_session.add(record)
    return record


def record_import(
    *,
    db_session: Session,
    incident_ids: Iterable[int],
    actor: str,
    action: str,
    now: datetime,
    after: dict[str, Any],
) -> AuditRecord:
    """Returns the audit record of an import, added to the session; the incidents it wrote are reindexed on commit."""
    db_session.info.setdefault(CHANGED_KEY, set()).update(incident_ids)
    return record_audit(
        db_session=db_session, actor=actor, source=EntrySource.import_, action=action, now=now, after=after
    )


def audit_log(*, db_session: Session, incident_id: int | None = None, limit: int = 100) -> list[AuditRecord]:
    """Returns the newest audit records, optionally for one incident."""
    statement = select(AuditRecord).order_by(AuditRecord.at.desc(), AuditRecord.id.desc()).limit(limit)
    if incident_id is not None:
        statement = statement.where(AuditRecord.incident_id == incident_id)
    return list(db_session.scalars(statement))


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
        _mark_changed(db_session, incident.id)
        return incident

    for _attempt in range(MAX_WRITE_ATTEMPTS):
        try:
            return _retrying(db_session, write)
        except IntegrityError:
            # Two declarations took the same number at once; the loser takes the next one.
            db_session.rollback()
    raise ConcurrentUpdate("Could not allocate an incident number; please try again.")


def snapshot(incident: Incident) -> dict[str, Any]:
    """Returns the audited fields of an incident as JSON-ready values."""
    return {
        "title": incident.title,
        "severity": incident.severity,
        "status": incident.status,
        "commander": incident.commander,
        "services": incident.service_names,
        "version": incident.version,
    }


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
        _mark_changed(db_session, incident.id)
        return incident

    return _retrying(db_session, write)


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
        _mark_changed(db_session, incident.id)
        return incident

    return _retrying(db_session, write)


def add_timeline_entry(
    *,
    db_session: Session,
    incident_id: int,
    at: datetime,
    author: str,
    text: str,
    source: EntrySource | str,
    kind: TimelineKind = TimelineKind.message,
    slack_channel_id: str | None = None,
    slack_ts: str | None = None,
    permalink: str | None = None,
    pinned: bool = False,
) -> tuple[TimelineEntry, bool]:
    """Adds an entry and commits; returns (entry, created). A Slack message already stored is not added again."""
    if slack_ts is not None:
        existing = db_session.scalar(
            select(TimelineEntry).where(
                TimelineEntry.slack_channel_id == slack_channel_id, TimelineEntry.slack_ts == slack_ts
            )
        )
        if existing is not None:
            return existing, False
    entry = TimelineEntry(
        incident_id=incident_id,
        at=at,
        author=author,
        kind=kind.value,
        text=text,
        source=str(source),
        slack_channel_id=slack_channel_id,
        slack_ts=slack_ts,
        permalink=permalink,
        pinned=pinned,
    )
    try:
        with db_session.begin_nested():
            db_session.add(entry)
        _mark_changed(db_session, incident_id)
        db_session.commit()
    except IntegrityError:
        # The same message arrived twice at once; the other delivery stored it.
        db_session.rollback()
        existing = db_session.scalar(
            select(TimelineEntry).where(
                TimelineEntry.slack_channel_id == slack_channel_id, TimelineEntry.slack_ts == slack_ts
            )
        )
        if existing is None:
            raise
        return existing, False
    return entry, True


def _entry_by_ts(db_session: Session, slack_channel_id: str, slack_ts: str) -> TimelineEntry | None:
    return db_session.scalar(
        select(TimelineEntry).where(
            TimelineEntry.slack_channel_id == slack_channel_id, TimelineEntry.slack_ts == slack_ts
        )
    )


def edit_timeline_message(
    *, db_session: Session, slack_channel_id: str, slack_ts: str, text: str, edited_at: datetime
) -> TimelineEntry | None:
    """Replaces the text of a stored Slack message; returns None when it was never stored."""
    entry = _entry_by_ts(db_session, slack_channel_id, slack_ts)
    if entry is None:
        return None
    entry.text = text
    entry.edited_at = edited_at
    _mark_changed(db_session, entry.incident_id)
    db_session.commit()
    return entry


def delete_timeline_message(
    *, db_session: Session, slack_channel_id: str, slack_ts: str, deleted_at: datetime
) -> TimelineEntry | None:
    """Marks a stored Slack message as deleted, keeping the row as a record; None when never stored."""
    entry = _entry_by_ts(db_session, slack_channel_id, slack_ts)
    if entry is None:
        return None
    entry.deleted_at = deleted_at
    _mark_changed(db_session, entry.incident_id)
    db_session.commit()
    return entry


def set_pinned(
    *, db_session: Session, slack_channel_id: str, slack_ts: str, pinned: bool
) -> TimelineEntry | None:
    """Records that a stored Slack message was pinned or unpinned; None when never stored."""
    entry = _entry_by_ts(db_session, slack_channel_id, slack_ts)
    if entry is None:
        return None
    entry.pinned = pinned
    db_session.commit()
    return entry


# --- Slack ingestion --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlackMessage:
    """A Slack message to store in an incident's timeline."""

    incident_id: int
    at: datetime
    author: str
    text: str
    slack_channel_id: str
    slack_ts: str
    permalink: str | None = None
    pinned: bool = False
    edited_at: datetime | None = None


def add_slack_messages(*, db_session: Session, messages: Sequence[SlackMessage]) -> int:
    """Returns how many messages were added to their timelines, in one commit.

    A message already stored (same channel and ts, in the store or earlier in `messages`) is skipped, so a
    burst with redeliveries stores each message once.
    """
    fresh = _unstored(db_session, messages)
    try:
        with db_session.begin_nested():
            _add_messages(db_session, fresh)
        db_session.commit()
        return len(fresh)
    except IntegrityError:
        # Another process stored some of them a moment ago: add the rest one at a time.
        db_session.rollback()
    added = 0
    for message in fresh:
        _entry, created = add_timeline_entry(
            db_session=db_session,
            incident_id=message.incident_id,
            at=message.at,
            author=message.author,
            text=message.text,
            source=EntrySource.slack,
            slack_channel_id=message.slack_channel_id,
            slack_ts=message.slack_ts,
            permalink=message.permalink,
            pinned=message.pinned,
        )
        added += created
    return added


def add_imported_slack_messages(*, db_session: Session, messages: Sequence[SlackMessage]) -> int:
    """Returns how many messages were added to their timelines, without committing (an import's transaction).

    A message already stored (same channel and ts, in the store or earlier in `messages`) is skipped, so
    importing the same export twice adds nothing.
    """
    fresh = _unstored(db_session, messages)
    _add_messages(db_session, fresh)
    return len(fresh)


def _unstored(db_session: Session, messages: Sequence[SlackMessage]) -> list[SlackMessage]:
    """Returns the messages whose (channel, ts) is neither stored nor earlier in `messages`."""
    fresh: dict[tuple[str, str], SlackMessage] = {}
    for message in messages:
        fresh.setdefault((message.slack_channel_id, message.slack_ts), message)
    channels: dict[str, list[str]] = {}
    for channel_id, ts in fresh:
        channels.setdefault(channel_id, []).append(ts)
    for channel_id, stamps in channels.items():
        # An exported channel can hold more messages than a backend takes parameters in one statement.
        for start in range(0, len(stamps), _TS_CHUNK):
            stored = db_session.scalars(
                select(TimelineEntry.slack_ts).where(
                    TimelineEntry.slack_channel_id == channel_id,
                    TimelineEntry.slack_ts.in_(stamps[start : start + _TS_CHUNK]),
                )
            )
            for ts in stored:
                fresh.pop((channel_id, ts), None)
    return list(fresh.values())


def _add_messages(db_session: Session, messages: Sequence[SlackMessage]) -> None:
    db_session.add_all(
        TimelineEntry(
            incident_id=message.incident_id,
            at=message.at,
            author=message.author,
            kind=TimelineKind.message.value,
            text=message.text,
            source=EntrySource.slack.value,
            slack_channel_id=message.slack_channel_id,
            slack_ts=message.slack_ts,
            permalink=message.permalink,
            pinned=message.pinned,
            edited_at=message.edited_at,
        )
        for message in messages
    )
    for message in messages:
        _mark_changed(db_session, message.incident_id)


# --- search support (agent/search) -------------------------------------------------------------------


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


def get_timelines(*, db_session: Session, incident_ids: Iterable[int]) -> dict[int, list[TimelineEntry]]:
    """Returns the live (not deleted) timeline entries of several incidents, each list in time order."""
    ids = list(dict.fromkeys(incident_ids))
    timelines: dict[int, list[TimelineEntry]] = {i: [] for i in ids}
    if not ids:
        return timelines
    statement = (
        select(TimelineEntry)
        .where(TimelineEntry.incident_id.in_(ids), TimelineEntry.deleted_at.is_(None))
        .order_by(TimelineEntry.incident_id, TimelineEntry.at, TimelineEntry.id)
    )
    for entry in db_session.scalars(statement):
        timelines[entry.incident_id].append(entry)
    return timelines

"""Import incidents from a JSON-lines file: check every line first, then write all of it in one transaction.

The record schema is `agent.importers.RECORD_SCHEMA`. This module writes through the session itself, with
bulk Core statements, because an import can carry hundreds of thousands of timeline entries and
row-at-a-time service calls would take minutes; it keeps the rules of the service layer by hand:
`version` starts at 1 and goes up by one on every update (the ORM's optimistic lock), an audit record
describes the import, and the changed incidents go to the search index after the commit. An incident
whose line matches what is stored is left alone, so importing the same file twice changes nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Protocol

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy import Column, Engine, Integer, MetaData, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from agent.db import session_scope
from agent.incidents import service
from agent.incidents.enums import EntrySource, Severity, Status, TimelineKind
from agent.incidents.exceptions import IncidentCopilotError, InvalidInput
from agent.incidents.models import Incident, Service, TimelineEntry, incident_services
from agent.normalize import parse_severity, parse_status

if TYPE_CHECKING:
    from agent.search.index import IncidentIndex

__all__ = [
    "ImportFileError",
    "ImportReport",
    "IncidentRecord",
    "ProgressCallback",
    "ServiceRecord",
    "ServicesReport",
    "TimelineRecord",
    "import_jsonl",
    "import_records",
    "import_services",
    "parse_jsonl",
]

ProgressCallback = Callable[[str, int, int], None]
"""Called as `progress(phase, done, total)`; phase is "checking", "writing" or "indexing"."""

PROGRESS_EVERY = 500
"""Lines (or incidents) between two progress calls."""

_CHUNK = 500
"""Ids per `IN (...)` query; far below every backend's parameter limit."""

_STAGE_BATCH = 20_000
"""Rows per executemany into a staging table."""

_INCIDENTS: Table = Incident.__table__  # type: ignore[assignment]
_TIMELINE: Table = TimelineEntry.__table__  # type: ignore[assignment]


class ImportFileError(InvalidInput):
    """A line of an import file cannot be accepted; nothing from the file was written."""

    def __init__(self, line: int, reason: str, *, path: Path | None = None) -> None:
        self.line = line
        self.reason = reason
        self.path = path
        where = f"{path.name}, line {line}" if path else f"line {line}"
        super().__init__(f"{where}: {reason}")


# --- the record --------------------------------------------------------------------------------------


def _timestamp(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not an ISO-8601 time string")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"'{value}' is not an ISO-8601 time") from None
    if moment.tzinfo is None:
        raise ValueError(f"'{value}' has no time zone offset (write e.g. {value}Z or {value}+00:00)")
    return moment.astimezone(UTC)


Timestamp = Annotated[datetime, BeforeValidator(_timestamp)]
OptionalTimestamp = Annotated[datetime | None, BeforeValidator(_timestamp)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ServiceNameText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class TimelineRecord(BaseModel):
    """One timeline entry of an imported incident."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at: Timestamp
    author: Name
    text: Text
    kind: TimelineKind = TimelineKind.message
    ts: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)] | None = None


class IncidentRecord(BaseModel):
    """One line of an import file: an incident with its services and timeline."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[int, Field(strict=True, gt=0, lt=2**31)]
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    severity: Severity
    status: Status
    declared_at: Timestamp
    stable_at: OptionalTimestamp = None
    resolved_at: OptionalTimestamp = None
    completed_at: OptionalTimestamp = None
    services: list[ServiceNameText] = Field(default_factory=list)
    commander: Name | None = None
    customer_impact: str | None = None
    root_cause: str | None = None
    remediation: str | None = None
    summary: str | None = None
    channel: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    channel_id: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = None
    private: Annotated[bool, Field(strict=True)] = False
    responders: list[Name] | None = None
    timeline: list[TimelineRecord] = Field(default_factory=list)

    @field_validator("severity", mode="before")
    @classmethod
    def _severity(cls, value: Any) -> Severity:
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not a severity; use SEV-1 (worst) to SEV-5, or unknown")
        try:
            return parse_severity(value)
        except IncidentCopilotError as error:
            raise ValueError(str(error)) from None

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, value: Any) -> Status:
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not a status; use active, stable, resolved or completed")
        try:
            return parse_status(value)
        except IncidentCopilotError as error:
            raise ValueError(str(error)) from None

    @field_validator("customer_impact", "root_cause", "remediation", "summary", "channel", "channel_id")
    @classmethod
    def _blank_is_null(cls, value: str | None) -> str | None:
        # "" and " " carry no information; storing them would make "not known" look known.
        return value if value and value.strip() else None

    @model_validator(mode="after")
    def _consistent_times(self) -> IncidentRecord:
        if self.status in (Status.resolved, Status.completed) and self.resolved_at is None:
            raise ValueError(f"resolved_at is required for a {self.status.value} incident")
        if self.status in (Status.active, Status.stable) and self.resolved_at is not None:
            raise ValueError(f"resolved_at must be null for a {self.status.value} incident")
        for name in ("stable_at", "resolved_at", "completed_at"):
            moment = getattr(self, name)
            if moment is not None and moment < self.declared_at:
                raise ValueError(f"{name} ({moment.isoformat()}) is before declared_at")
        if self.completed_at is not None and self.resolved_at and self.completed_at < self.resolved_at:
            raise ValueError("completed_at is before resolved_at")
        return self


# Record key -> incidents column; the keys a line may leave out to keep the stored value.
_COLUMNS: dict[str, str] = {
    "title": "title",
    "severity": "severity",
    "status": "status",
    "declared_at": "declared_at",
    "stable_at": "stable_at",
    "resolved_at": "resolved_at",
    "completed_at": "completed_at",
    "commander": "commander",
    "customer_impact": "customer_impact",
    "root_cause": "root_cause",
    "remediation": "remediation",
    "summary": "summary",
    "channel": "slack_channel_name",
    "channel_id": "slack_channel_id",
    "private": "private",
    "responders": "responders",
}


def _column_values(record: IncidentRecord) -> dict[str, Any]:
    """Returns the incidents-table values a record sets, keyed by column, for the keys it carries."""
    values: dict[str, Any] = {}
    for key, column in _COLUMNS.items():
        if key not in record.model_fields_set:
            continue
        value = getattr(record, key)
        values[column] = value.value if isinstance(value, Severity | Status) else value
    if "responders" not in values:
        values["responders"] = _default_responders(record)
    return values


def _default_responders(record: IncidentRecord) -> list[str]:
    people = [record.commander] if record.commander else []
    people += [entry.author for entry in record.timeline if entry.kind == TimelineKind.message]
    return list(dict.fromkeys(people))


def _reason(error: ValidationError) -> str:
    first = error.errors(include_url=False)[0]
    location = ".".join(str(part) for part in first["loc"])
    if first["type"] == "missing":
        return f"missing required field '{location}'"
    if first["type"] == "extra_forbidden":
        return f"unknown field '{location}'"
    message = first["msg"].removeprefix("Value error, ")
    return f"{location}: {message}" if location else message


def parse_jsonl(
    lines: Iterable[str],
    *,
    path: Path | None = None,
    progress: ProgressCallback | None = None,
    total: int = 0,
) -> list[tuple[int, IncidentRecord]]:
    """Returns every record of a JSON-lines text with its line number; raises ImportFileError on the first bad line.

    Blank lines are skipped. Besides each line's own schema, the file as a whole may not repeat an
    incident id, a Slack channel id, or a Slack message ts within a channel.
    """
    records: list[tuple[int, IncidentRecord]] = []
    first_line: dict[int, int] = {}
    channel_owner: dict[str, int] = {}
    number = 0
    for number, line in enumerate(lines, start=1):
        if progress is not None and number % PROGRESS_EVERY == 0:
            progress("checking", number, total)
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            raise ImportFileError(
                number, f"not valid JSON ({error.msg} at column {error.colno})", path=path
            ) from None
        if not isinstance(data, dict):
            raise ImportFileError(number, f"expected a JSON object, got {type(data).__name__}", path=path)
        try:
            record = IncidentRecord.model_validate(data)
        except ValidationError as error:
            raise ImportFileError(number, _reason(error), path=path) from None
        if record.id in first_line:
            raise ImportFileError(
                number, f"incident {record.id} already appears on line {first_line[record.id]}", path=path
            )
        first_line[record.id] = number
        if record.channel_id:
            if record.channel_id in channel_owner:
                raise ImportFileError(
                    number,
                    f"channel_id {record.channel_id} already belongs to incident {channel_owner[record.channel_id]}",
                    path=path,
                )
            channel_owner[record.channel_id] = record.id
        seen_ts: set[str] = set()
        for position, entry in enumerate(record.timeline):
            if entry.ts is not None and record.channel_id:
                if entry.ts in seen_ts:
                    raise ImportFileError(number, f"timeline.{position}.ts: '{entry.ts}' repeats", path=path)
                seen_ts.add(entry.ts)
        records.append((number, record))
    if progress is not None:
        progress("checking", number, max(total, number))
    return records


# --- the report --------------------------------------------------------------------------------------


@dataclass
class ImportReport:
    """What an import did; every count comes from the rows written."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    timeline_entries: int = 0
    skipped_entries: int = 0
    services_created: int = 0
    incident_ids: list[int] = field(default_factory=list)
    write_seconds: float = 0.0
    index_seconds: float | None = None

    @property
    def incidents(self) -> int:
        """Returns how many incidents the file held."""
        return self.created + self.updated + self.unchanged

    def counts(self) -> dict[str, int]:
        """Returns the counts as a JSON-ready dict (what the audit record stores)."""
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "timeline_entries": self.timeline_entries,
            "skipped_entries": self.skipped_entries,
            "services_created": self.services_created,
        }


# --- writing -----------------------------------------------------------------------------------------


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _stage(db_session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> Table:
    """Returns a temporary table holding `rows` (typed like `table`'s columns, plus their order)."""
    stage = Table(
        f"import_stage_{table.name}",
        MetaData(),
        Column("_order", Integer, primary_key=True),
        *(Column(name, table.c[name.removeprefix("_")].type) for name in rows[0]),
        prefixes=["TEMPORARY"],
    )
    stage.create(db_session.connection())
    for start in range(0, len(rows), _STAGE_BATCH):
        batch = rows[start : start + _STAGE_BATCH]
        db_session.execute(insert(stage), [{"_order": start + n, **row} for n, row in enumerate(batch)])
    return stage


def _bulk_insert(db_session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Inserts rows with one INSERT ... SELECT from a staged copy.

    One statement, not one per row: SQLite's full-text index (migration 0002 keeps it by triggers)
    flushes its pending terms at the end of every statement, which made row-by-row inserts six times
    slower than the same rows in one statement.
    """
    if not rows:
        return
    stage = _stage(db_session, table, rows)
    names = list(rows[0])
    db_session.execute(
        insert(table).from_select(names, select(*(stage.c[name] for name in names)).order_by(stage.c._order))
    )
    stage.drop(db_session.connection())


def _bulk_update(db_session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Updates rows by `_id` in one UPDATE ... FROM a staged copy, adding one to each `version`."""
    stage = _stage(db_session, table, rows)
    columns = [name for name in rows[0] if name != "_id"]
    db_session.execute(
        update(table)
        .where(table.c.id == stage.c._id)
        .values({name: stage.c[name] for name in columns} | {"version": table.c.version + 1})
    )
    stage.drop(db_session.connection())


def _service_lookup(db_session: Session) -> dict[str, int]:
    lookup: dict[str, int] = {}
    for known in service.list_services(db_session=db_session):
        lookup[known.name.lower()] = known.id
        for alias in known.aliases:
            lookup.setdefault(alias.lower(), known.id)
    return lookup


@dataclass
class _Stored:
    """What the store holds for an incident the file mentions."""

    row: dict[str, Any]
    service_ids: set[int] = field(default_factory=set)
    imported: list[tuple[Any, ...]] = field(default_factory=list)
    kept_keys: set[tuple[str, str]] = field(default_factory=set)


def _load_stored(db_session: Session, ids: Sequence[int]) -> dict[int, _Stored]:
    stored: dict[int, _Stored] = {}
    columns = [_INCIDENTS.c[name] for name in ("id", "version", *_COLUMNS.values())]
    for chunk in _chunks(ids):
        found = 0
        for row in db_session.execute(select(*columns).where(_INCIDENTS.c.id.in_(chunk))).mappings():
            stored[row["id"]] = _Stored(row=dict(row))
            found += 1
        if not found:
            continue
        links = select(incident_services.c.incident_id, incident_services.c.service_id).where(
            incident_services.c.incident_id.in_(chunk)
        )
        for incident_id, service_id in db_session.execute(links):
            stored[incident_id].service_ids.add(service_id)
        entries = (
            select(
                _TIMELINE.c.incident_id,
                _TIMELINE.c.source,
                _TIMELINE.c.at,
                _TIMELINE.c.author,
                _TIMELINE.c.kind,
                _TIMELINE.c.text,
                _TIMELINE.c.slack_channel_id,
                _TIMELINE.c.slack_ts,
            )
            .where(_TIMELINE.c.incident_id.in_(chunk))
            .order_by(_TIMELINE.c.incident_id, _TIMELINE.c.at, _TIMELINE.c.id)
        )
        for incident_id, source, *entry in db_session.execute(entries):
            if source == EntrySource.import_:
                stored[incident_id].imported.append(tuple(entry))
            elif entry[-1] is not None:
                stored[incident_id].kept_keys.add((entry[-2], entry[-1]))
    return stored


def _timeline_rows(
    record: IncidentRecord, channel_id: str | None, kept_keys: set[tuple[str, str]]
) -> tuple[list[tuple[Any, ...]], int]:
    """Returns the entries to store as (at, author, kind, text, channel id, ts), and how many were skipped.

    An entry whose Slack message is already stored from Slack itself is skipped: that copy is the live
    one (it follows edits and deletions) and the unique (channel, ts) key allows only one.
    """
    rows: list[tuple[Any, ...]] = []
    skipped = 0
    for entry in sorted(record.timeline, key=lambda e: e.at):
        entry_channel = channel_id if entry.ts is not None else None
        if entry_channel is not None and (entry_channel, entry.ts) in kept_keys:
            skipped += 1
            continue
        rows.append((entry.at, entry.author, entry.kind.value, entry.text, entry_channel, entry.ts))
    return rows, skipped


def _check_channels(
    db_session: Session, records: Sequence[tuple[int, IncidentRecord]], path: Path | None
) -> None:
    file_ids = {record.id for _, record in records}
    claimed = {record.channel_id: (line, record.id) for line, record in records if record.channel_id}
    for chunk in _chunks(list(claimed)):
        owners = select(_INCIDENTS.c.slack_channel_id, _INCIDENTS.c.id).where(
            _INCIDENTS.c.slack_channel_id.in_(chunk)
        )
        for channel_id, owner in db_session.execute(owners):
            line, wanted = claimed[channel_id]
            if owner != wanted and owner not in file_ids:
                raise ImportFileError(
                    line, f"channel_id {channel_id} is already linked to incident-{owner}", path=path
                )


def import_records(
    *,
    engine: Engine,
    records: Sequence[tuple[int, IncidentRecord]],
    now: datetime,
    actor: str,
    origin: str,
    index: IncidentIndex | None = None,
    progress: ProgressCallback | None = None,
    path: Path | None = None,
) -> ImportReport:
    """Returns the report of writing checked records in one transaction, then updating the search index.

    New incidents are inserted with version 1; stored ones whose line differs are updated (version + 1),
    their services relinked and their imported timeline replaced; identical ones are left untouched.
    """
    report = ImportReport()
    started = time.perf_counter()
    try:
        with session_scope(engine) as db_session:
            _write(
                db_session,
                records,
                now=now,
                actor=actor,
                origin=origin,
                report=report,
                progress=progress,
                path=path,
            )
    except IntegrityError as error:
        reason = str(error.orig).splitlines()[0] if error.orig else str(error)
        raise InvalidInput(
            f"The import conflicts with the stored incidents ({reason}); nothing was written."
        ) from None
    report.write_seconds = time.perf_counter() - started
    if index is not None and report.incident_ids:
        started = time.perf_counter()
        with session_scope(engine) as db_session:
            index.upsert_incidents(
                db_session,
                report.incident_ids,
                progress=None if progress is None else partial(progress, "indexing"),
            )
        report.index_seconds = time.perf_counter() - started
    return report


def _write(
    db_session: Session,
    records: Sequence[tuple[int, IncidentRecord]],
    *,
    now: datetime,
    actor: str,
    origin: str,
    report: ImportReport,
    progress: ProgressCallback | None,
    path: Path | None,
) -> None:
    _check_channels(db_session, records, path)
    stored = _load_stored(db_session, [record.id for _, record in records])

    services_before = len(service.list_services(db_session=db_session))
    lookup = _service_lookup(db_session)
    unknown = {name for _, r in records for name in r.services if name.lower() not in lookup}
    if unknown:
        service.get_or_create_services(db_session=db_session, names=sorted(unknown))
        lookup = _service_lookup(db_session)
    report.services_created = len(service.list_services(db_session=db_session)) - services_before

    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    links: list[dict[str, int]] = []
    entries: list[dict[str, Any]] = []
    for done, (_line, record) in enumerate(records, start=1):
        if progress is not None and done % PROGRESS_EVERY == 0:
            progress("writing", done, len(records))
        values = _column_values(record)
        service_ids = {lookup[name.lower()] for name in record.services}
        existing = stored.get(record.id)
        if existing is not None:
            values = {**{k: v for k, v in existing.row.items() if k not in ("id", "version")}, **values}
        rows, skipped = _timeline_rows(
            record, values.get("slack_channel_id"), existing.kept_keys if existing else set()
        )
        if existing is not None:
            same = (
                all(existing.row[k] == v for k, v in values.items())
                and existing.service_ids == service_ids
                and existing.imported == rows
            )
            if same:
                report.unchanged += 1
                continue
            updates.append({**values, "_id": record.id, "updated_at": now})
            report.updated += 1
        else:
            inserts.append(
                {
                    "stable_at": None,
                    "resolved_at": None,
                    "completed_at": None,
                    "slack_channel_id": None,
                    "slack_channel_name": None,
                    "private": False,
                    **values,
                    "id": record.id,
                    "version": 1,
                    "updated_at": now,
                }
            )
            report.created += 1
        report.incident_ids.append(record.id)
        report.skipped_entries += skipped
        links += [{"incident_id": record.id, "service_id": sid} for sid in sorted(service_ids)]
        entries += [
            {
                "incident_id": record.id,
                "at": at,
                "author": author,
                "kind": kind,
                "text": text,
                "source": EntrySource.import_.value,
                "slack_channel_id": channel,
                "slack_ts": ts,
                "pinned": False,
            }
            for at, author, kind, text, channel, ts in rows
        ]

    updated_ids = [row["_id"] for row in updates]
    for chunk in _chunks(updated_ids):
        db_session.execute(
            delete(_TIMELINE).where(
                _TIMELINE.c.incident_id.in_(chunk), _TIMELINE.c.source == EntrySource.import_.value
            )
        )
        db_session.execute(delete(incident_services).where(incident_services.c.incident_id.in_(chunk)))
    if updates:
        _bulk_update(db_session, _INCIDENTS, updates)
    _bulk_insert(db_session, _INCIDENTS, inserts)
    _bulk_insert(db_session, incident_services, links)
    _bulk_insert(db_session, _TIMELINE, entries)
    report.timeline_entries = len(entries)

    if report.incident_ids:
        service.record_import(
            db_session=db_session,
            incident_ids=report.incident_ids,
            actor=actor,
            action="import",
            now=now,
            after={"origin": origin, **report.counts()},
        )
    if progress is not None:
        progress("writing", len(records), len(records))


def import_jsonl(
    *,
    engine: Engine,
    path: Path,
    now: datetime,
    actor: str,
    index: IncidentIndex | None = None,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Returns the report of importing a JSON-lines file: every line checked first, then one transaction.

    Raises:
        ImportFileError: naming the first bad line and why; nothing from the file is written.
        InvalidInput: when the file cannot be read or conflicts with the store as a whole.
    """
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as handle:
            total = sum(1 for _ in handle)
        with path.open(encoding="utf-8") as handle:
            records = parse_jsonl(handle, path=path, progress=progress, total=total)
    except OSError as error:
        raise InvalidInput(f"Cannot read {path}: {error.strerror or error}.") from None
    except UnicodeDecodeError as error:
        raise InvalidInput(f"{path.name} is not UTF-8 text ({error.reason}).") from None
    return import_records(
        engine=engine,
        records=records,
        now=now,
        actor=actor,
        origin=path.name,
        index=index,
        progress=progress,
        path=path,
    )


# --- services ----------------------------------------------------------------------------------------


class ServiceRecord(Protocol):
    """A service to put in the catalogue; the demo organisation's `ServiceSpec` is one."""

    @property
    def name(self) -> str: ...
    @property
    def display_name(self) -> str: ...
    @property
    def aliases(self) -> tuple[str, ...]: ...
    @property
    def description(self) -> str: ...


@dataclass
class ServicesReport:
    """How many services an import created and how many it left as they were or updated."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0


def import_services(*, engine: Engine, services: Iterable[ServiceRecord]) -> ServicesReport:
    """Returns the report of creating or updating services with their display names, descriptions and aliases."""
    report = ServicesReport()
    with session_scope(engine) as db_session:
        for spec in services:
            before = db_session.scalar(select(Service).where(Service.name == spec.name))
            snapshot = (
                None if before is None else (before.display_name, before.description, list(before.aliases))
            )
            service.upsert_service(
                db_session=db_session,
                name=spec.name,
                display_name=spec.display_name,
                description=spec.description,
                aliases=list(spec.aliases),
            )
            if snapshot is None:
                report.created += 1
            elif snapshot == (spec.display_name, spec.description, list(spec.aliases)):
                report.unchanged += 1
            else:
                report.updated += 1
    return report

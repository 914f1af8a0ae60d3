"""Import incidents from a JSON-lines file: check every line first, then write all of it in one transaction.

The record schema is `agent.importers.RECORD_SCHEMA`. This module reads and checks the lines; the write
itself, with its rules (versions, services, audit record, search index, Slack messages kept), is
`agent.incidents.bulk.upsert_incidents`. The changed incidents go to the search index after the commit.
An incident whose line matches what is stored is left alone, so importing the same file twice changes
nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
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
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from agent.db import session_scope
from agent.incidents import bulk, catalogue
from agent.incidents.enums import Severity, Status, TimelineKind
from agent.incidents.exceptions import IncidentCopilotError, InvalidInput
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


def _incident_write(record: IncidentRecord) -> bulk.IncidentWrite:
    return bulk.IncidentWrite(
        id=record.id,
        values=_column_values(record),
        services=record.services,
        timeline=record.timeline,
    )


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
class ImportReport(bulk.BulkWrite):
    """What an import did: the counts of the write, and how long writing and indexing took."""

    write_seconds: float = 0.0
    index_seconds: float | None = None

    @property
    def incidents(self) -> int:
        """Returns how many incidents the file held."""
        return self.created + self.updated + self.unchanged


# --- writing -----------------------------------------------------------------------------------------


def _check_channels(
    db_session: Session, records: Sequence[tuple[int, IncidentRecord]], path: Path | None
) -> None:
    file_ids = {record.id for _, record in records}
    claimed = {record.channel_id: (line, record.id) for line, record in records if record.channel_id}
    for channel_id, owner in bulk.channel_owners(db_session=db_session, channel_ids=claimed).items():
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
    started = time.perf_counter()
    try:
        with session_scope(engine) as db_session:
            _check_channels(db_session, records, path)
            written = bulk.upsert_incidents(
                db_session=db_session,
                incidents=[_incident_write(record) for _, record in records],
                columns=tuple(_COLUMNS.values()),
                now=now,
                actor=actor,
                origin=origin,
                progress=None if progress is None else partial(progress, "writing"),
                progress_every=PROGRESS_EVERY,
            )
    except IntegrityError as error:
        reason = str(error.orig).splitlines()[0] if error.orig else str(error)
        raise InvalidInput(
            f"The import conflicts with the stored incidents ({reason}); nothing was written."
        ) from None
    report = ImportReport(**vars(written), write_seconds=time.perf_counter() - started)
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
            before = catalogue.get_service(db_session=db_session, name=spec.name)
            snapshot = (
                None if before is None else (before.display_name, before.description, list(before.aliases))
            )
            catalogue.upsert_service(
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

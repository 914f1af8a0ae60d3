"""Writing many incidents at once (imports), with the write rules the service keeps one write at a time.

An import can carry hundreds of thousands of timeline entries, and row-at-a-time service calls would take
minutes, so this module writes with bulk Core statements through staged temporary tables. It keeps the
rules of the one-at-a-time writes (`service`, `catalogue`, `audit`, `changes`): `version` starts at 1 and
goes up by one on every update (the ORM's optimistic lock), new service names join the catalogue, an audit
record describes the write, and the changed incidents are marked for the search index. A write whose
values, services and imported timeline match what is stored leaves the incident alone, so writing the same
incidents twice changes nothing; an imported entry never replaces a message stored from Slack itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Column, Integer, MetaData, Table, delete, insert, select, update
from sqlalchemy.orm import Session

from agent.incidents import audit, catalogue
from agent.incidents.enums import EntrySource
from agent.incidents.models import Incident, TimelineEntry, incident_services

_CHUNK = 500
"""Ids per `IN (...)` query; far below every backend's parameter limit."""

_STAGE_BATCH = 20_000
"""Rows per executemany into a staging table."""

_INCIDENTS: Table = Incident.__table__  # type: ignore[assignment]
_TIMELINE: Table = TimelineEntry.__table__  # type: ignore[assignment]


class ImportedEntry(Protocol):
    """A timeline entry an import brings; `ts` is its Slack message in the incident's channel, if any.

    A protocol, not a class of its own: an import's parsed entries are passed as they are, since copying
    200,000 of them cost a tenth of the whole import's CPU time (measured with bench_import).
    """

    @property
    def at(self) -> datetime: ...
    @property
    def author(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def ts(self) -> str | None: ...


@dataclass(frozen=True)
class IncidentWrite:
    """One incident to create or update: the incidents-table values it sets, its services and timeline."""

    id: int
    values: dict[str, Any]
    services: Sequence[str]
    timeline: Sequence[ImportedEntry]


@dataclass
class BulkWrite:
    """What a bulk write did; every count comes from the rows written."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    timeline_entries: int = 0
    skipped_entries: int = 0
    services_created: int = 0
    incident_ids: list[int] = field(default_factory=list)

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


def channel_owners(*, db_session: Session, channel_ids: Iterable[str]) -> dict[str, int]:
    """Returns the incident each of these Slack channel ids is linked to, for the ids that are linked."""
    owners: dict[str, int] = {}
    for chunk in _chunks(list(channel_ids)):
        statement = select(_INCIDENTS.c.slack_channel_id, _INCIDENTS.c.id).where(
            _INCIDENTS.c.slack_channel_id.in_(chunk)
        )
        owners.update({channel_id: owner for channel_id, owner in db_session.execute(statement)})
    return owners


def upsert_incidents(
    *,
    db_session: Session,
    incidents: Sequence[IncidentWrite],
    columns: Sequence[str],
    now: datetime,
    actor: str,
    origin: str,
    progress: Callable[[int, int], None] | None = None,
    progress_every: int = 500,
) -> BulkWrite:
    """Returns what writing these incidents did, in the caller's transaction (nothing is committed).

    New incidents are inserted with version 1; stored ones that differ are updated (version + 1), their
    services relinked and their imported timeline replaced; identical ones are left untouched.

    Args:
        db_session: The session of the import's one transaction.
        incidents: The incidents to write, each with the values it sets.
        columns: The incidents-table columns a write may set; an update keeps the stored value of each
            one a write leaves out.
        now: When the write happens (`updated_at`, the audit record).
        actor: Who writes, for the audit record.
        origin: What was imported (a file name), for the audit record.
        progress: Called as `progress(done, total)` every `progress_every` incidents and at the end.
        progress_every: Incidents between two progress calls.
    """
    report = BulkWrite()
    stored = _load_stored(db_session, [write.id for write in incidents], columns)

    services_before = len(catalogue.list_services(db_session=db_session))
    lookup = _service_lookup(db_session)
    unknown = {name for write in incidents for name in write.services if name.lower() not in lookup}
    if unknown:
        catalogue.get_or_create_services(db_session=db_session, names=sorted(unknown))
        lookup = _service_lookup(db_session)
    report.services_created = len(catalogue.list_services(db_session=db_session)) - services_before

    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    links: list[dict[str, int]] = []
    entries: list[dict[str, Any]] = []
    for done, write in enumerate(incidents, start=1):
        if progress is not None and done % progress_every == 0:
            progress(done, len(incidents))
        values = write.values
        service_ids = {lookup[name.lower()] for name in write.services}
        existing = stored.get(write.id)
        if existing is not None:
            values = {**{k: v for k, v in existing.row.items() if k not in ("id", "version")}, **values}
        rows, skipped = _timeline_rows(
            write.timeline, values.get("slack_channel_id"), existing.kept_keys if existing else set()
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
            updates.append({**values, "_id": write.id, "updated_at": now})
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
                    "id": write.id,
                    "version": 1,
                    "updated_at": now,
                }
            )
            report.created += 1
        report.incident_ids.append(write.id)
        report.skipped_entries += skipped
        links += [{"incident_id": write.id, "service_id": sid} for sid in sorted(service_ids)]
        entries += [
            {
                "incident_id": write.id,
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
        audit.record_import(
            db_session=db_session,
            incident_ids=report.incident_ids,
            actor=actor,
            action="import",
            now=now,
            after={"origin": origin, **report.counts()},
        )
    if progress is not None:
        progress(len(incidents), len(incidents))
    return report


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
    for known in catalogue.list_services(db_session=db_session):
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


def _load_stored(db_session: Session, ids: Sequence[int], names: Sequence[str]) -> dict[int, _Stored]:
    stored: dict[int, _Stored] = {}
    columns = [_INCIDENTS.c[name] for name in ("id", "version", *names)]
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
    timeline: Sequence[ImportedEntry], channel_id: str | None, kept_keys: set[tuple[str, str]]
) -> tuple[list[tuple[Any, ...]], int]:
    """Returns the entries to store as (at, author, kind, text, channel id, ts), and how many were skipped.

    An entry whose Slack message is already stored from Slack itself is skipped: that copy is the live
    one (it follows edits and deletions) and the unique (channel, ts) key allows only one.
    """
    rows: list[tuple[Any, ...]] = []
    skipped = 0
    for entry in sorted(timeline, key=lambda e: e.at):
        entry_channel = channel_id if entry.ts is not None else None
        if entry_channel is not None and (entry_channel, entry.ts) in kept_keys:
            skipped += 1
            continue
        rows.append((entry.at, entry.author, str(entry.kind), entry.text, entry_channel, entry.ts))
    return rows, skipped

"""Tests of the JSON-lines importer, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from agent.db import session_factory, session_scope
from agent.demo.services import ServiceSpec
from agent.importers.jsonl import ImportFileError, import_jsonl, import_services, parse_jsonl
from agent.incidents import audit as incident_audit
from agent.incidents import catalogue, service
from agent.incidents import timeline as incident_timeline
from agent.incidents.enums import EntrySource, Status
from agent.incidents.exceptions import InvalidInput
from agent.incidents.models import AuditRecord, Incident, Service, TimelineEntry, incident_services


def _record(incident_id: int, **overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": incident_id,
        "title": f"Checkout errors {incident_id}",
        "severity": "SEV-2",
        "status": "resolved",
        "declared_at": "2026-11-20T10:00:00+01:00",
        "resolved_at": "2026-11-20T11:30:00Z",
        "services": ["payments", "checkout"],
        "commander": "Priya Raman",
        "customer_impact": "Some card payments failed.",
        "root_cause": "A bad deploy of the payments API.",
        "remediation": "Rolled back the deploy.",
        "summary": None,
        "channel": f"incident-{incident_id}-checkout-errors",
        "channel_id": f"C{incident_id:04d}",
        "timeline": [
            {
                "at": "2026-11-20T09:01:00Z",
                "author": "Priya Raman",
                "text": "Declaring: checkout 5xx",
                "ts": "1.1",
            },
            {"at": "2026-11-20T09:05:00Z", "author": "Marcus Chen", "text": "Rolling back d-42", "ts": "1.2"},
            {
                "at": "2026-11-20T10:30:00Z",
                "author": "Priya Raman",
                "text": "Resolved",
                "kind": "status_change",
            },
        ],
    }
    record.update(overrides)
    return record


def _write(path: Path, records: Sequence[dict[str, Any] | str]) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _counts(engine: Engine) -> dict[str, int]:
    with session_scope(engine) as db_session:
        return {
            table.name: db_session.scalar(select(func.count()).select_from(table)) or 0
            for table in (
                Incident.__table__,
                TimelineEntry.__table__,
                Service.__table__,
                incident_services,
                AuditRecord.__table__,
            )
        }


class RecordingIndex:
    """Records what the importer asks the search index to update (the real index is tested on its own)."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []

    def upsert_incidents(
        self, db_session: Session, incident_ids: Sequence[int], *, progress: Any = None
    ) -> None:
        # The importer must call the index after its commit, so the rows are visible from a new session.
        with Session(bind=db_session.get_bind()) as reader:
            found = reader.scalars(select(Incident.id).where(Incident.id.in_(incident_ids))).all()
        assert sorted(found) == sorted(incident_ids)
        self.calls.append(list(incident_ids))


def test_import_creates_incidents_services_and_timeline(
    engine: Engine, now: datetime, tmp_path: Path
) -> None:
    path = _write(tmp_path / "good.jsonl", [_record(7), "", _record(9, status="active", resolved_at=None)])
    index = RecordingIndex()
    phases: list[str] = []

    report = import_jsonl(
        engine=engine,
        path=path,
        now=now,
        actor="alice",
        index=index,  # type: ignore[arg-type]
        progress=lambda phase, done, total: phases.append(phase),
    )

    assert (report.created, report.updated, report.unchanged) == (2, 0, 0)
    assert report.timeline_entries == 6
    assert report.services_created == 2
    assert index.calls == [[7, 9]]
    assert {"checking", "writing"} <= set(phases)
    assert _counts(engine) == {
        "incidents": 2,
        "timeline_entries": 6,
        "services": 2,
        "incident_services": 4,
        "audit_log": 1,
    }
    with session_scope(engine) as db_session:
        incident = service.get_or_raise(db_session=db_session, incident_id=7)
        assert incident.declared_at == datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
        assert incident.declared_at.tzinfo is not None and incident.resolved_at is not None
        assert incident.version == 1
        assert incident.service_names == ["checkout", "payments"]
        assert incident.slack_channel_id == "C0007"
        assert incident.responders == ["Priya Raman", "Marcus Chen"]
        timeline = incident_timeline.get_timeline(db_session=db_session, incident_id=7)
        assert [(e.author, e.source, e.slack_channel_id, e.slack_ts) for e in timeline] == [
            ("Priya Raman", "import", "C0007", "1.1"),
            ("Marcus Chen", "import", "C0007", "1.2"),
            ("Priya Raman", "import", None, None),
        ]
        assert all(e.at.tzinfo is not None for e in timeline)
        active = service.get_or_raise(db_session=db_session, incident_id=9)
        assert (active.status, active.resolved_at) == ("active", None)
        (audit,) = incident_audit.audit_log(db_session=db_session)
        assert (audit.action, audit.actor, audit.source) == ("import", "alice", "import")
        assert (
            audit.after is not None and audit.after["created"] == 2 and audit.after["origin"] == "good.jsonl"
        )


def test_severity_and_status_words_are_normalised(engine: Engine, now: datetime, tmp_path: Path) -> None:
    path = _write(
        tmp_path / "words.jsonl",
        [
            _record(1, severity="sev1"),
            _record(2, severity="critical", status="Closed"),
            _record(3, severity="Sev 4"),
        ],
    )
    import_jsonl(engine=engine, path=path, now=now, actor="alice")
    with session_scope(engine) as db_session:
        stored = {i.id: (i.severity, i.status) for i in db_session.scalars(select(Incident))}
    assert stored == {1: ("SEV-1", "resolved"), 2: ("SEV-1", "resolved"), 3: ("SEV-4", "resolved")}


BAD_LINES: list[tuple[str, Any, str]] = [
    ("bad JSON", '{"id": 3, "title": "Broken', "not valid JSON"),
    ("not an object", "[1, 2]", "expected a JSON object"),
    (
        "missing title",
        {k: v for k, v in _record(3).items() if k != "title"},
        "missing required field 'title'",
    ),
    ("empty title", _record(3, title="   "), "title"),
    ("unknown severity", _record(3, severity="urgent-ish"), "'urgent-ish' is not a severity"),
    ("unknown status", _record(3, status="pending"), "'pending' is not a status"),
    ("naive timestamp", _record(3, declared_at="2026-11-20T10:00:00"), "has no time zone offset"),
    ("unparsable timestamp", _record(3, declared_at="yesterday-ish"), "is not an ISO-8601 time"),
    ("resolved without resolved_at", _record(3, resolved_at=None), "resolved_at is required"),
    ("resolved before declared", _record(3, resolved_at="2026-11-19T00:00:00Z"), "is before declared_at"),
    ("active with resolved_at", _record(3, status="active"), "resolved_at must be null"),
    (
        "timeline entry without offset",
        _record(3, timeline=[{"at": "2026-11-20T09:00:00", "author": "a", "text": "hi"}]),
        "timeline.0.at",
    ),
    (
        "timeline entry of unknown kind",
        _record(3, timeline=[{"at": "2026-11-20T09:00:00Z", "author": "a", "text": "hi", "kind": "gif"}]),
        "timeline.0.kind",
    ),
    (
        "repeated Slack ts",
        _record(
            3,
            timeline=[
                {"at": "2026-11-20T09:00:00Z", "author": "a", "text": "hi", "ts": "5.5"},
                {"at": "2026-11-20T09:01:00Z", "author": "b", "text": "yo", "ts": "5.5"},
            ],
        ),
        "'5.5' repeats",
    ),
    ("id as text", _record(3, id="3"), "id"),
    ("misspelt field", {**_record(3), "severty": "SEV-1"}, "unknown field 'severty'"),
    ("repeated id", _record(1, title="Again"), "incident 1 already appears on line 1"),
]


@pytest.mark.parametrize(("line", "reason"), [(b[1], b[2]) for b in BAD_LINES], ids=[b[0] for b in BAD_LINES])
def test_a_bad_line_is_reported_with_its_number_and_reason(line: Any, reason: str) -> None:
    lines = [json.dumps(_record(1)), "", line if isinstance(line, str) else json.dumps(line)]
    with pytest.raises(ImportFileError) as raised:
        parse_jsonl(lines)
    assert raised.value.line == 3
    assert str(raised.value).startswith("line 3: ")
    assert reason in str(raised.value)


# The four kinds of bad line the import command promises to stop at, against a store with data in it.
STOPPING_LINES = [
    b for b in BAD_LINES if b[0] in {"bad JSON", "missing title", "unknown severity", "naive timestamp"}
]


@pytest.mark.parametrize(
    ("line", "reason"), [(b[1], b[2]) for b in STOPPING_LINES], ids=[b[0] for b in STOPPING_LINES]
)
def test_a_bad_line_stops_the_import_and_writes_nothing(
    engine: Engine, now: datetime, tmp_path: Path, line: Any, reason: str
) -> None:
    import_jsonl(engine=engine, path=_write(tmp_path / "first.jsonl", [_record(1)]), now=now, actor="alice")
    before = _counts(engine)
    # Line 1 updates a stored incident and line 2 adds one: neither may survive the bad line 3.
    path = _write(tmp_path / "bad.jsonl", [_record(1, title="Changed"), _record(2), line])

    with pytest.raises(ImportFileError) as raised:
        import_jsonl(engine=engine, path=path, now=now, actor="alice")

    assert raised.value.line == 3
    assert str(raised.value).startswith("bad.jsonl, line 3: ")
    assert reason in str(raised.value)
    assert _counts(engine) == before
    with session_scope(engine) as db_session:
        assert service.get_or_raise(db_session=db_session, incident_id=1).title == "Checkout errors 1"


def test_a_channel_linked_to_another_stored_incident_is_refused(
    engine: Engine, now: datetime, tmp_path: Path
) -> None:
    import_jsonl(engine=engine, path=_write(tmp_path / "a.jsonl", [_record(1)]), now=now, actor="alice")
    before = _counts(engine)
    path = _write(tmp_path / "b.jsonl", [_record(2, channel_id="C0001")])
    with pytest.raises(ImportFileError, match="line 1: channel_id C0001 is already linked to incident-1"):
        import_jsonl(engine=engine, path=path, now=now, actor="alice")
    assert _counts(engine) == before


def test_reimport_updates_in_place_and_keeps_slack_messages(
    engine: Engine, now: datetime, tmp_path: Path
) -> None:
    first = [_record(1), _record(2)]
    import_jsonl(engine=engine, path=_write(tmp_path / "v1.jsonl", first), now=now, actor="alice")
    with session_scope(engine) as db_session:
        # Two messages that arrived from Slack after the first import; the second file also holds 1.3.
        for ts, text in (("9.9", "Customer tickets are dropping"), ("1.3", "Error rate back to normal")):
            incident_timeline.add_timeline_entry(
                db_session=db_session,
                incident_id=1,
                at=datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
                author="Chloe Dubois",
                text=text,
                source=EntrySource.slack,
                slack_channel_id="C0001",
                slack_ts=ts,
            )
    second = [
        _record(
            1,
            title="Checkout errors after payments deploy",
            severity="sev1",
            services=["payments", "ledger"],
            root_cause=None,
            timeline=[
                {
                    "at": "2026-11-20T09:01:00Z",
                    "author": "Priya Raman",
                    "text": "Declaring again",
                    "ts": "1.1",
                },
                {
                    "at": "2026-11-20T09:30:00Z",
                    "author": "Chloe Dubois",
                    "text": "Error rate back to normal (exported)",
                    "ts": "1.3",
                },
            ],
        ),
        _record(2),
    ]
    # The second file leaves channel_id out for incident 1: the stored one must stay.
    del second[0]["channel_id"]
    later = now + timedelta(hours=1)

    report = import_jsonl(engine=engine, path=_write(tmp_path / "v2.jsonl", second), now=later, actor="bob")

    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    assert report.incident_ids == [1]
    assert report.skipped_entries == 1  # ts 1.3 is already stored from Slack
    assert report.services_created == 1
    with session_scope(engine) as db_session:
        incident = service.get_or_raise(db_session=db_session, incident_id=1)
        assert (incident.title, incident.severity, incident.root_cause) == (
            "Checkout errors after payments deploy",
            "SEV-1",
            None,
        )
        assert incident.version == 2
        assert incident.updated_at == later
        assert incident.slack_channel_id == "C0001"
        assert incident.service_names == ["ledger", "payments"]
        timeline = incident_timeline.get_timeline(db_session=db_session, incident_id=1)
        assert sorted((e.source, e.slack_ts, e.text) for e in timeline) == [
            ("import", "1.1", "Declaring again"),
            ("slack", "1.3", "Error rate back to normal"),
            ("slack", "9.9", "Customer tickets are dropping"),
        ]
        untouched = service.get_or_raise(db_session=db_session, incident_id=2)
        assert untouched.version == 1
        assert len(incident_timeline.get_timeline(db_session=db_session, incident_id=2)) == 3
        assert [a.actor for a in incident_audit.audit_log(db_session=db_session)] == ["bob", "alice"]
    assert _counts(engine)["incidents"] == 2


def test_importing_the_same_file_again_changes_nothing(engine: Engine, now: datetime, tmp_path: Path) -> None:
    path = _write(tmp_path / "same.jsonl", [_record(1), _record(2, private=True)])
    import_jsonl(engine=engine, path=path, now=now, actor="alice")
    before = _counts(engine)
    index = RecordingIndex()

    report = import_jsonl(engine=engine, path=path, now=now + timedelta(days=1), actor="alice", index=index)  # type: ignore[arg-type]

    assert (report.created, report.updated, report.unchanged, report.timeline_entries) == (0, 0, 2, 0)
    assert index.calls == []
    assert _counts(engine) == before
    with session_scope(engine) as db_session:
        assert {i.version for i in db_session.scalars(select(Incident))} == {1}


def test_an_update_bumps_the_version_the_orm_checks(engine: Engine, now: datetime, tmp_path: Path) -> None:
    import_jsonl(engine=engine, path=_write(tmp_path / "a.jsonl", [_record(1)]), now=now, actor="alice")
    stale_session = session_factory(engine)()
    held = stale_session.get(Incident, 1)
    assert held is not None and held.version == 1
    stale_session.commit()  # ends the read transaction; `held` keeps what it read

    import_jsonl(
        engine=engine, path=_write(tmp_path / "b.jsonl", [_record(1, title="New")]), now=now, actor="alice"
    )

    # A write based on what was read before the import is refused, not silently applied on top of it.
    held.title = "Lost write"
    with pytest.raises(StaleDataError):
        stale_session.commit()
    stale_session.close()
    with session_scope(engine) as db_session:
        incident = service.set_status(
            db_session=db_session, incident_id=1, status=Status.completed, now=now, actor="bob", source="cli"
        )
        assert (incident.title, incident.version) == ("New", 3)


def test_unreadable_file_is_a_clear_error(engine: Engine, now: datetime, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="Cannot read"):
        import_jsonl(engine=engine, path=tmp_path / "missing.jsonl", now=now, actor="alice")


def test_import_services_stores_aliases_and_is_idempotent(engine: Engine) -> None:
    specs = [
        ServiceSpec("payments", "Payments", ("pay", "payments-api"), "Takes card payments."),
        ServiceSpec("checkout", "Checkout", ("cart",), "The checkout flow."),
    ]
    first = import_services(engine=engine, services=specs)
    again = import_services(engine=engine, services=specs)
    changed = import_services(
        engine=engine, services=[ServiceSpec("payments", "Payments", ("pay",), "Takes card payments.")]
    )
    assert (first.created, again.unchanged, changed.updated) == (2, 2, 1)
    with session_scope(engine) as db_session:
        found = catalogue.get_service_by_name_or_alias(db_session=db_session, name="CART")
        assert found is not None and found.name == "checkout"
        assert catalogue.get_service_by_name_or_alias(db_session=db_session, name="payments-api") is None

"""Tests of the incident service layer, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from agent.db import session_factory
from agent.incidents import audit as incident_audit
from agent.incidents import service
from agent.incidents import timeline as incident_timeline
from agent.incidents.enums import EntrySource, Severity, Status, TimelineKind
from agent.incidents.exceptions import IllegalTransition, IncidentNotFound, InvalidInput, NoChange
from agent.incidents.models import AuditRecord, TimelineEntry


def _declare(db_session: Session, now: datetime, title: str = "Checkout failing", **kwargs: object) -> int:
    incident = service.declare(
        db_session=db_session,
        title=title,
        severity=kwargs.pop("severity", Severity.sev2),  # type: ignore[arg-type]
        now=now,
        actor="alice",
        source=EntrySource.cli,
        **kwargs,  # type: ignore[arg-type]
    )
    return incident.id


def test_declare_numbers_incidents_and_audits(db_session: Session, now: datetime) -> None:
    first = _declare(db_session, now, services=["payments", "checkout"])
    second = _declare(db_session, now, title="Search slow")
    assert (first, second) == (1, 2)
    incident = service.get_or_raise(db_session=db_session, incident_id=first)
    assert incident.public_id == "incident-1"
    assert incident.status == Status.active
    assert incident.service_names == ["checkout", "payments"]
    assert incident.declared_at == now and incident.declared_at.tzinfo is not None
    audit = incident_audit.audit_log(db_session=db_session, incident_id=first)
    assert [(a.action, a.actor) for a in audit] == [("declare", "alice")]
    timeline = incident_timeline.get_timeline(db_session=db_session, incident_id=first)
    assert [e.kind for e in timeline] == [TimelineKind.declared]


def test_declare_refuses_empty_title(db_session: Session, now: datetime) -> None:
    with pytest.raises(InvalidInput):
        _declare(db_session, now, title="  ")
    assert service.next_incident_id(db_session=db_session) == 1


def test_update_severity_records_before_and_after(db_session: Session, now: datetime) -> None:
    number = _declare(db_session, now)
    later = now + timedelta(minutes=5)
    incident = service.update_severity(
        db_session=db_session,
        incident_id=number,
        severity=Severity.sev1,
        now=later,
        actor="bob",
        source="slack",
    )
    assert incident.severity == "SEV-1"
    record = incident_audit.audit_log(db_session=db_session, incident_id=number)[0]
    assert (record.action, record.actor, record.before, record.after) == (
        "update_severity",
        "bob",
        {"severity": "SEV-2"},
        {"severity": "SEV-1"},
    )
    with pytest.raises(NoChange):
        service.update_severity(
            db_session=db_session,
            incident_id=number,
            severity=Severity.sev1,
            now=later,
            actor="bob",
            source="cli",
        )


def test_unknown_incident_is_a_clear_error(db_session: Session, now: datetime) -> None:
    with pytest.raises(IncidentNotFound, match="incident-99"):
        service.set_status(
            db_session=db_session, incident_id=99, status=Status.stable, now=now, actor="a", source="cli"
        )


def test_status_lifecycle_and_illegal_transitions(db_session: Session, now: datetime) -> None:
    number = _declare(db_session, now)
    with pytest.raises(IllegalTransition, match="active; it can only become resolved, stable"):
        service.set_status(
            db_session=db_session,
            incident_id=number,
            status=Status.completed,
            now=now,
            actor="a",
            source="cli",
        )
    for step, status in enumerate([Status.stable, Status.resolved, Status.completed], start=1):
        service.set_status(
            db_session=db_session,
            incident_id=number,
            status=status,
            now=now + timedelta(hours=step),
            actor="a",
            source="cli",
        )
    incident = service.get_or_raise(db_session=db_session, incident_id=number)
    assert incident.stable_at == now + timedelta(hours=1)
    assert incident.resolved_at == now + timedelta(hours=2)
    assert incident.completed_at == now + timedelta(hours=3)
    with pytest.raises(IllegalTransition):
        service.set_status(
            db_session=db_session, incident_id=number, status=Status.active, now=now, actor="a", source="cli"
        )
    # The refused change left nothing behind.
    assert service.get_or_raise(db_session=db_session, incident_id=number).status == "completed"
    assert len(incident_audit.audit_log(db_session=db_session, incident_id=number)) == 4


def test_query_counts_come_from_the_database(db_session: Session, now: datetime) -> None:
    _declare(db_session, now - timedelta(days=2), title="A", severity=Severity.sev1, services=["payments"])
    _declare(db_session, now - timedelta(days=20), title="B", severity=Severity.sev1)
    number = _declare(
        db_session, now - timedelta(days=3), title="C", severity=Severity.sev3, services=["payments"]
    )
    service.set_status(
        db_session=db_session,
        incident_id=number,
        status=Status.resolved,
        now=now - timedelta(days=1),
        actor="a",
        source="cli",
    )
    week = service.IncidentFilter(since=now - timedelta(days=7), until=now)
    result = service.query(db_session=db_session, criteria=week)
    assert result.total == 2
    assert result.by_severity == {"SEV-1": 1, "SEV-3": 1}
    # B was declared 20 days ago and is still open, so it was active during the week.
    open_in_week = service.IncidentFilter(since=now - timedelta(days=7), until=now, overlapping=True)
    assert service.query(db_session=db_session, criteria=open_in_week).total == 3
    ongoing = service.query(
        db_session=db_session,
        criteria=service.IncidentFilter(statuses=frozenset({Status.active, Status.stable})),
    )
    assert ongoing.total == 2 and {i.title for i in ongoing.incidents} == {"A", "B"}
    resolved_in_week = service.IncidentFilter(
        statuses=frozenset({Status.resolved}), since=now - timedelta(days=2), until=now, by_resolution=True
    )
    # C was declared three days ago but resolved yesterday, inside the two-day window.
    assert [i.title for i in service.query(db_session=db_session, criteria=resolved_in_week).incidents] == [
        "C"
    ]
    payments = service.query(db_session=db_session, criteria=service.IncidentFilter(services=("payments",)))
    assert [i.title for i in payments.incidents] == ["A", "C"]


def test_private_incidents_are_hidden_unless_asked(db_session: Session, now: datetime) -> None:
    _declare(db_session, now, title="Secret", private=True)
    assert service.query(db_session=db_session, criteria=service.IncidentFilter()).total == 0
    assert (
        service.query(db_session=db_session, criteria=service.IncidentFilter(include_private=True)).total == 1
    )


def test_redelivered_slack_message_is_stored_once_and_edits_sync(db_session: Session, now: datetime) -> None:
    number = _declare(db_session, now, slack_channel_id="C123", slack_channel_name="incident-1-checkout")
    kwargs = dict(
        db_session=db_session,
        incident_id=number,
        at=now,
        author="carol",
        text="rolling back",
        source=EntrySource.slack,
        slack_channel_id="C123",
        slack_ts="1732712345.000100",
    )
    entry, created = incident_timeline.add_timeline_entry(**kwargs)  # type: ignore[arg-type]
    again, created_again = incident_timeline.add_timeline_entry(**kwargs)  # type: ignore[arg-type]
    assert created and not created_again and again.id == entry.id
    incident_timeline.edit_timeline_message(
        db_session=db_session,
        slack_channel_id="C123",
        slack_ts="1732712345.000100",
        text="rolled back",
        edited_at=now,
    )
    incident_timeline.delete_timeline_message(
        db_session=db_session, slack_channel_id="C123", slack_ts="1732712345.000100", deleted_at=now
    )
    rows = db_session.scalars(select(TimelineEntry).where(TimelineEntry.slack_ts.is_not(None))).all()
    assert [(r.text, r.deleted) for r in rows] == [("rolled back", True)]
    assert incident_timeline.count_messages(db_session=db_session, incident_id=number) == 0
    assert service.get_by_channel(db_session=db_session, channel_id="C123").id == number  # type: ignore[union-attr]


def test_concurrent_updates_never_lose_a_write(engine: Engine, now: datetime) -> None:
    with session_factory(engine)() as setup:
        number = _declare(setup, now)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker(severity: Severity | None, status: Status | None) -> None:
        with session_factory(engine)() as session:
            try:
                service.get_or_raise(db_session=session, incident_id=number)  # both read version 1
                barrier.wait()
                if severity is not None:
                    service.update_severity(
                        db_session=session,
                        incident_id=number,
                        severity=severity,
                        now=now,
                        actor="x",
                        source="cli",
                    )
                else:
                    assert status is not None
                    service.set_status(
                        db_session=session,
                        incident_id=number,
                        status=status,
                        now=now,
                        actor="y",
                        source="cli",
                    )
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)

    threads = [
        threading.Thread(target=worker, args=(Severity.sev1, None)),
        threading.Thread(target=worker, args=(None, Status.stable)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with session_factory(engine)() as check:
        incident = service.get_or_raise(db_session=check, incident_id=number)
        assert (incident.severity, incident.status, incident.version) == ("SEV-1", "stable", 3)
        actions = sorted(r.action for r in check.scalars(select(AuditRecord)))
        assert actions == ["declare", "set_status", "update_severity"]

"""Tests of the demo organisation as built into a store (SQLite and the embedded index, once per session)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, func, select, text

from agent.db import session_scope
from agent.demo.build import build_demo
from agent.incidents import audit as incident_audit
from agent.incidents import catalogue, service
from agent.incidents.models import AuditRecord, Incident, Service, TimelineEntry
from agent.postmortems.models import PostmortemTemplate
from tests.conftest import NOW, DemoStore


def _scalar(engine: Engine, sql: str) -> Any:
    with engine.connect() as connection:
        return connection.execute(text(sql)).scalar_one()


def _store_snapshot(engine: Engine) -> dict[str, Any]:
    """Returns every row that building the demo writes, so two builds can be compared."""
    with session_scope(engine) as db_session:
        return {
            "incidents": db_session.execute(
                select(
                    Incident.id, Incident.version, Incident.title, Incident.status, Incident.updated_at
                ).order_by(Incident.id)
            ).all(),
            "timeline": db_session.execute(
                select(TimelineEntry.id, TimelineEntry.incident_id, TimelineEntry.slack_ts).order_by(
                    TimelineEntry.id
                )
            ).all(),
            "services": db_session.execute(
                select(Service.id, Service.name, Service.aliases).order_by(Service.id)
            ).all(),
            "templates": db_session.execute(
                select(PostmortemTemplate.name, PostmortemTemplate.updated_at).order_by(
                    PostmortemTemplate.name
                )
            ).all(),
            "audit": db_session.scalar(select(func.count()).select_from(AuditRecord)),
        }


def test_demo_store_holds_the_organisation(demo_store: DemoStore) -> None:
    engine = demo_store.engine
    incidents = _scalar(engine, "select count(*) from incidents")
    assert 280 <= incidents <= 320
    assert 12 <= _scalar(engine, "select count(*) from services") <= 18
    assert _scalar(engine, "select count(*) from services where aliases != '[]'") >= 10
    ongoing = _scalar(engine, "select count(*) from incidents where status in ('active', 'stable')")
    assert 2 <= ongoing <= 8
    assert ongoing == len(demo_store.special["ongoing"])
    with session_scope(engine) as db_session:
        first = db_session.scalar(select(func.min(Incident.declared_at)))
        assert first is not None and NOW - timedelta(days=366) <= first
    assert (
        _scalar(engine, "select count(*) from incidents where slack_channel_name like 'incident-%'")
        == incidents
    )
    # Every incident has a timeline of 5 to 80 entries, all imported from the generated channel.
    per_incident = "select count(*) as n from timeline_entries group by incident_id"
    assert _scalar(engine, f"select min(n) from ({per_incident}) counts") >= 5
    assert _scalar(engine, f"select max(n) from ({per_incident}) counts") <= 80
    assert _scalar(engine, "select count(distinct source) from timeline_entries") == 1
    # Several resolved incidents are long enough for a postmortem draft, and some are not.
    resolved_sizes = (
        "select count(*) as n from timeline_entries t join incidents i on i.id = t.incident_id "
        "where i.status = 'resolved' and t.kind = 'message' group by t.incident_id"
    )
    assert _scalar(engine, f"select count(*) from ({resolved_sizes}) s where n >= 15") >= 3
    assert _scalar(engine, f"select count(*) from ({resolved_sizes}) s where n < 15") >= 1
    assert _scalar(engine, "select count(*) from postmortem_templates where builtin") == 2
    with session_scope(engine) as db_session:
        names = [
            t.name for t in db_session.scalars(select(PostmortemTemplate).order_by(PostmortemTemplate.name))
        ]
        assert names == ["ai", "plain"]
        (audit,) = incident_audit.audit_log(db_session=db_session)
        assert (audit.action, audit.actor) == ("import", "demo")
        assert audit.after is not None and audit.after["created"] == incidents
        incident_123 = service.get_or_raise(db_session=db_session, incident_id=123)
        assert incident_123.root_cause and incident_123.remediation
        assert incident_123.declared_at.tzinfo is not None
        payments = catalogue.get_service_by_name_or_alias(db_session=db_session, name="payments")
        assert payments is not None and payments.aliases


def test_index_holds_one_document_per_incident(demo_store: DemoStore) -> None:
    index = demo_store.open_index()
    assert index.count() == _scalar(demo_store.engine, "select count(*) from incidents")
    assert _scalar(demo_store.engine, "select count(*) from search_index_queue") == 0
    ddos = {incident_id for incident_id, _score in index.semantic_search("DDoS attack on the edge", limit=5)}
    assert ddos & set(demo_store.special["ddos_past_30d"] + demo_store.special["ddos_older"])


def test_building_again_changes_nothing(demo_copy: DemoStore) -> None:
    before = _store_snapshot(demo_copy.engine)
    index = demo_copy.open_index()
    documents = index.count()

    report = build_demo(engine=demo_copy.engine, index=index, now=NOW, seed=7)

    assert (report.incidents.created, report.incidents.updated) == (0, 0)
    assert report.incidents.unchanged == len(before["incidents"])
    assert (report.services.created, report.services.updated) == (0, 0)
    assert report.index is not None and report.index.changed == 0
    assert report.index.unchanged == documents
    assert _store_snapshot(demo_copy.engine) == before
    assert index.count() == documents

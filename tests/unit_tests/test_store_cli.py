"""Tests of the store commands of the CLI: list, show, import, import-slack, reindex, audit."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from typer.testing import CliRunner

from agent.cli import app
from agent.db import session_scope
from agent.demo.build import DEMO_QUESTIONS
from agent.demo.services import SERVICES
from agent.incidents import service, timeline
from agent.incidents.enums import ONGOING_STATUSES, Severity
from agent.incidents.models import Incident, TimelineEntry
from agent.time_windows import parse_window_argument
from tests.conftest import NOW, DemoStore
from tests.unit_tests.test_import_slack_export import checkout_channel, write_export

NOW_ARG = ["--now", NOW.isoformat()]


@pytest.fixture
def cli() -> CliRunner:
    return CliRunner()


@pytest.fixture
def demo(demo_store: DemoStore, monkeypatch: pytest.MonkeyPatch) -> DemoStore:
    """The shared demo store, as the CLI's configured store (the commands used with it only read)."""
    demo_store.activate(monkeypatch)
    return demo_store


@pytest.fixture
def empty_store(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """An empty migrated store (SQLite, then PostgreSQL) as the CLI's configured store."""
    monkeypatch.setenv("INCIDENT_COPILOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.delenv("CHROMA_HOST", raising=False)
    return engine


def _json(cli: CliRunner, *args: str) -> Any:
    result = cli.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _total(engine: Engine, criteria: service.IncidentFilter) -> int:
    with session_scope(engine) as db_session:
        return service.query(db_session=db_session, criteria=criteria, limit=1).total


# --- incidents list ------------------------------------------------------------------------------------


def test_list_ongoing_counts_come_from_the_store(cli: CliRunner, demo: DemoStore) -> None:
    listed = _json(cli, "incidents", "list", "--status", "ongoing", "--json", *NOW_ARG)
    expected = _total(demo.engine, service.IncidentFilter(statuses=ONGOING_STATUSES))
    assert listed["total"] == expected == len(demo.special["ongoing"])
    assert {i["status"] for i in listed["incidents"]} <= {"active", "stable"}
    assert sorted(int(i["id"].removeprefix("incident-")) for i in listed["incidents"]) == list(
        demo.special["ongoing"]
    )


def test_list_filters_by_severity_and_time_phrase(cli: CliRunner, demo: DemoStore) -> None:
    listed = _json(cli, "incidents", "list", "--severity", "sev1", "--since", "past week", "--json", *NOW_ARG)
    ids = {int(i["id"].removeprefix("incident-")) for i in listed["incidents"]}
    assert ids == set(demo.special["sev1_past_7d"])
    assert listed["by_severity"] == {"SEV-1": len(ids)}
    assert all(i["declared_at"] >= "2026-11-20T12:00:00Z" for i in listed["incidents"])


def test_list_filters_by_service_alias_and_window(cli: CliRunner, demo: DemoStore) -> None:
    payments = next(s for s in SERVICES if s.name == "payments")
    alias = payments.aliases[0]
    listed = _json(
        cli,
        "incidents",
        "list",
        "--service",
        alias,
        "--since",
        "30 days",
        "--limit",
        "50",
        "--json",
        *NOW_ARG,
    )
    assert {int(i["id"].removeprefix("incident-")) for i in listed["incidents"]} == set(
        demo.special["payments_past_30d"]
    )
    assert all("payments" in i["services"] for i in listed["incidents"])
    # --until bounds the other side: only what was declared before 30 days ago.
    older = _json(cli, "incidents", "list", "--service", "payments", "--until", "30 days", "--json", *NOW_ARG)
    window = parse_window_argument("30 days", NOW)
    assert window is not None
    assert older["total"] == _total(
        demo.engine, service.IncidentFilter(services=("payments",), until=window.since)
    )
    assert older["total"] > 0 and all(i["declared_at"] < window.since.isoformat() for i in older["incidents"])


def test_list_text_status_and_private(cli: CliRunner, demo: DemoStore) -> None:
    text = _json(cli, "incidents", "list", "--text", "certificate", "--json", "--limit", "100", *NOW_ARG)
    assert text["total"] == _total(demo.engine, service.IncidentFilter(text="certificate")) > 0
    both = _json(cli, "incidents", "list", "--status", "active", "--status", "stable", "--json", *NOW_ARG)
    assert both["total"] == len(demo.special["ongoing"])
    (private_id,) = demo.special["private"]
    hidden = _json(cli, "incidents", "list", "--limit", "1000", "--json", *NOW_ARG)
    shown = _json(cli, "incidents", "list", "--limit", "1000", "--include-private", "--json", *NOW_ARG)
    assert f"incident-{private_id}" not in {i["id"] for i in hidden["incidents"]}
    assert f"incident-{private_id}" in {i["id"] for i in shown["incidents"]}
    assert shown["total"] == hidden["total"] + 1


def test_list_prints_a_table_and_refuses_unknown_values(cli: CliRunner, demo: DemoStore) -> None:
    result = cli.invoke(app, ["incidents", "list", "--severity", "SEV-1", "--since", "7 days", *NOW_ARG])
    assert result.exit_code == 0
    assert f"incident-{demo.special['active_checkout'][0]}" in result.stdout
    assert f"{len(demo.special['sev1_past_7d'])} incidents match" in result.stdout
    for args, message in (
        (["--severity", "urgent"], "'urgent' is not a severity"),
        (["--service", "teleporter"], "There is no service called 'teleporter'"),
        (["--since", "a fortnight-ish"], "is not a time frame"),
    ):
        bad = cli.invoke(app, ["incidents", "list", *args, *NOW_ARG])
        assert bad.exit_code == 1
        assert message in bad.stderr


# --- incidents show ------------------------------------------------------------------------------------


@pytest.mark.parametrize("reference", ["incident-123", "#123", "INC-123", "123"])
def test_show_json_has_the_promised_fields(cli: CliRunner, demo: DemoStore, reference: str) -> None:
    shown = _json(cli, "incidents", "show", reference, "--json")
    with session_scope(demo.engine) as db_session:
        incident = service.get_or_raise(db_session=db_session, incident_id=123)
        assert shown["id"] == "incident-123"
        assert shown["title"] == incident.title
        assert shown["severity"] == incident.severity and shown["status"] == incident.status
        assert shown["services"] == incident.service_names
        assert shown["commander"] == incident.commander
        assert shown["root_cause"] == incident.root_cause and shown["root_cause"]
        assert shown["remediation"] == incident.remediation and shown["remediation"]
        assert shown["declared_at"].endswith("Z") and shown["resolved_at"].endswith("Z")
        assert shown["message_count"] == timeline.count_messages(db_session=db_session, incident_id=123)


def test_show_prints_not_known_for_an_unknown_root_cause(cli: CliRunner, demo: DemoStore) -> None:
    (active,) = demo.special["active_checkout"]
    result = cli.invoke(app, ["incidents", "show", f"incident-{active}"])
    assert result.exit_code == 0
    assert "Root cause\nNot known" in result.stdout and "Remediation\nNot known" in result.stdout
    assert "Timeline" in result.stdout
    detail = cli.invoke(app, ["incidents", "show", "incident-123"])
    with session_scope(demo.engine) as db_session:
        root_cause = service.get_or_raise(db_session=db_session, incident_id=123).root_cause
    assert root_cause is not None and root_cause.split()[0] in detail.stdout


def test_show_unknown_incident_exits_1(cli: CliRunner, demo: DemoStore) -> None:
    result = cli.invoke(app, ["incidents", "show", "incident-99999"])
    assert result.exit_code == 1
    assert "There is no incident-99999" in result.stderr
    assert result.stdout == ""


# --- import --------------------------------------------------------------------------------------------


def _record(incident_id: int, **overrides: Any) -> dict[str, Any]:
    return {
        "id": incident_id,
        "title": f"Checkout 502s #{incident_id}",
        "severity": "SEV-2",
        "status": "active",
        "declared_at": "2026-11-26T10:00:00Z",
        "resolved_at": None,
        "services": ["checkout"],
        "commander": "Priya Raman",
        "customer_impact": None,
        "root_cause": None,
        "remediation": None,
        "summary": None,
        "channel": f"incident-{incident_id}-checkout-502s",
        "channel_id": f"C{incident_id:04d}",
        "timeline": [{"at": "2026-11-26T10:01:00Z", "author": "Priya Raman", "text": "Looking", "ts": "1.1"}],
        **overrides,
    }


def test_import_help_prints_the_record_schema(cli: CliRunner) -> None:
    result = cli.invoke(app, ["import", "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0
    for line in (
        "declared_at      time, required",
        "resolved_at      time or null; required for resolved and completed",
        "channel_id       Slack channel id",
        "timeline         list of entries:",
        "ts             Slack message ts",
    ):
        assert line in result.stdout


def test_import_good_file_then_bad_file(cli: CliRunner, empty_store: Engine, tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text("\n".join(json.dumps(_record(n)) for n in (1, 2)) + "\n", encoding="utf-8")
    result = cli.invoke(app, ["import", str(good), "--no-index", "--actor", "alice", *NOW_ARG])
    assert result.exit_code == 0, result.output
    assert "2 created, 0 updated, 0 unchanged" in result.stdout

    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps(_record(3)) + "\n" + json.dumps(_record(4, severity="SEV-9")) + "\n", encoding="utf-8"
    )
    failed = cli.invoke(app, ["import", str(bad), "--no-index", *NOW_ARG])
    assert failed.exit_code == 1
    assert "bad.jsonl, line 2: severity: 'SEV-9' is not a severity" in failed.stderr
    with session_scope(empty_store) as db_session:
        assert db_session.scalar(select(func.count()).select_from(Incident)) == 2

    audit = _json(cli, "audit", "--json")
    assert [(a["action"], a["actor"], a["after"]["created"]) for a in audit] == [("import", "alice", 2)]


def test_import_slack_reports_linked_and_unmatched_channels(
    cli: CliRunner, empty_store: Engine, tmp_path: Path
) -> None:
    good = tmp_path / "one.jsonl"
    good.write_text(
        json.dumps(_record(1, channel="incident-1-checkout-502s", timeline=[])) + "\n", encoding="utf-8"
    )
    assert cli.invoke(app, ["import", str(good), "--no-index", *NOW_ARG]).exit_code == 0
    export = write_export(
        tmp_path / "export",
        {
            ("C0001", "incident-1-checkout-502s"): checkout_channel(),
            ("C0042", "incident-42-elsewhere"): [],
        },
    )
    result = cli.invoke(app, ["import-slack", str(export), "--no-index", *NOW_ARG])
    assert result.exit_code == 0, result.output
    assert "#incident-1-checkout-502s -> incident-1" in result.stdout
    assert "5 messages added to 1 incidents" in result.stdout
    assert "incident-42-elsewhere" in result.stderr
    with session_scope(empty_store) as db_session:
        count = db_session.scalar(
            select(func.count()).select_from(TimelineEntry).where(TimelineEntry.source == "slack")
        )
    assert count == 5

    broken = tmp_path / "broken"
    (broken / "incident-1-checkout-502s").mkdir(parents=True)
    (broken / "channels.json").write_text('[{"id": "C0001", "name": "incident-1-checkout-502s"}]')
    (broken / "incident-1-checkout-502s" / "2026-11-26.json").write_text("{not json")
    failed = cli.invoke(app, ["import-slack", str(broken), "--no-index", *NOW_ARG])
    assert failed.exit_code == 1
    assert "incident-1-checkout-502s/2026-11-26.json" in failed.stderr


# --- reindex and audit ---------------------------------------------------------------------------------


def test_reindex_check_reports_and_reindex_repairs(
    cli: CliRunner, demo_copy: DemoStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo_copy.activate(monkeypatch)
    clean = cli.invoke(app, ["reindex", "--check"])
    assert clean.exit_code == 0, clean.output
    assert "0 differences" in clean.stdout

    index = demo_copy.open_index()
    index.delete([1])
    with session_scope(demo_copy.engine) as db_session:
        # A change made behind the index's back (the queue is cleared so only the check can see it).
        db_session.execute(Incident.__table__.update().where(Incident.id == 2).values(title="Renamed by SQL"))
        db_session.execute(Incident.__table__.delete().where(Incident.id == 3))
        db_session.execute(text("delete from search_index_queue"))

    checked = cli.invoke(app, ["reindex", "--check"])
    assert checked.exit_code == 1
    assert "missing: 1 (incident-1)" in checked.stdout
    assert "stale: 1 (incident-2)" in checked.stdout
    assert "orphaned: 1 (incident-3)" in checked.stdout

    repaired = cli.invoke(app, ["reindex"])
    assert repaired.exit_code == 0, repaired.output
    assert "1 added, 1 updated, 1 removed" in repaired.stdout
    assert cli.invoke(app, ["reindex", "--check"]).exit_code == 0


def test_reindex_with_the_chroma_server_down_says_so_in_one_line(
    cli: CliRunner, empty_store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("CHROMA_PORT", str(port))
    for arguments in (["reindex", "--check"], ["reindex"]):
        result = cli.invoke(app, arguments)
        assert result.exit_code == 1
        assert f"the Chroma server at 127.0.0.1:{port}" in result.output
        assert "cannot be reached" in result.output and "Traceback" not in result.output


def test_audit_filters_by_incident(cli: CliRunner, empty_store: Engine) -> None:
    with session_scope(empty_store) as db_session:
        for title in ("Checkout 502s", "Search slow"):
            service.declare(
                db_session=db_session,
                title=title,
                severity=Severity.sev2,
                now=NOW,
                actor="alice",
                source="cli",
            )
        service.update_severity(
            db_session=db_session, incident_id=2, severity=Severity.sev1, now=NOW, actor="bob", source="slack"
        )
    records = _json(cli, "audit", "--incident", "incident-2", "--json")
    assert [(r["action"], r["actor"], r["incident"]) for r in records] == [
        ("update_severity", "bob", "incident-2"),
        ("declare", "alice", "incident-2"),
    ]
    table = cli.invoke(app, ["audit", "--incident", "#2"])
    assert "severity: SEV-2 -> SEV-1" in table.stdout


# --- demo ----------------------------------------------------------------------------------------------


def test_demo_on_a_built_store_changes_nothing_and_answers(
    cli: CliRunner, demo_copy: DemoStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo_copy.activate(monkeypatch)
    result = cli.invoke(app, ["demo", *NOW_ARG])
    assert result.exit_code == 0, result.output
    incidents = len(
        _json(cli, "incidents", "list", "--include-private", "--limit", "1000", "--json")["incidents"]
    )
    assert f"0 created, 0 updated, {incidents} unchanged" in result.stdout
    for question in DEMO_QUESTIONS:
        assert f"> {question}" in result.stdout
    root_cause_answer = result.stdout.split("> What was the root cause of incident-123?")[1].split("\n> ")[0]
    assert "incident-123" in root_cause_answer
    # The in-channel questions are asked from the active checkout incident's channel.
    [checkout] = demo_copy.special["active_checkout"]
    [related] = demo_copy.special["related_to_active_checkout"]
    related_answer = result.stdout.split("> Are there any related incidents?")[1].split("\n#")[0]
    assert f"incident-{related}" in related_answer and f"incident-{checkout} " not in related_answer
    assert f"Summary of incident-{checkout}" in result.stdout


def test_demo_reset_refuses_a_database_outside_the_data_folder(cli: CliRunner, demo: DemoStore) -> None:
    result = cli.invoke(app, ["demo", "--reset", "--no-questions", *NOW_ARG])
    assert result.exit_code == 1
    assert "DATABASE_URL points elsewhere" in result.stderr
    assert (demo.data_dir / "incidents.db").exists()

"""`incident-copilot ask` and `chat`: the JSON contract, confirmations on the terminal, memory across turns."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from agent.cli import app
from agent.db import session_factory
from agent.incidents import audit, service
from agent.incidents.enums import ONGOING_STATUSES
from tests.conftest import DemoStore
from tests.unit_tests.agent_fakes import ScriptedChatModel, answer, call, seeded_sqlite

NOW = "2026-11-27T12:00:00Z"


@pytest.fixture
def store(tmp_path: Path, now: datetime, monkeypatch: pytest.MonkeyPatch) -> Engine:
    engine = seeded_sqlite(tmp_path / "incidents.db", now)
    monkeypatch.setenv("INCIDENT_COPILOT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return engine


def scripted(monkeypatch: pytest.MonkeyPatch, *steps: Any) -> ScriptedChatModel:
    model = ScriptedChatModel(script=list(steps))
    monkeypatch.setattr("agent.graph.load_chat_model", lambda name: model)
    return model


def severity_and_audit(store: Engine) -> tuple[str, tuple[str, str, str]]:
    with session_factory(store)() as db_session:
        latest = audit.audit_log(db_session=db_session, incident_id=1)[0]
        severity = service.get_or_raise(db_session=db_session, incident_id=1).severity
        return severity, (latest.action, latest.actor, latest.source)


def test_ask_json_prints_exactly_one_object_with_the_sql_count(
    demo_store: DemoStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo_store.activate(monkeypatch)
    with session_factory(demo_store.engine)() as db_session:
        ongoing = service.query(
            db_session=db_session, criteria=service.IncidentFilter(statuses=ONGOING_STATUSES), limit=100
        )
    result = CliRunner().invoke(
        app,
        ["ask", "How many incidents are currently ongoing?", "--now", NOW, "--model", "offline", "--json"],
    )
    assert result.exit_code == 0, result.output
    reply = json.loads(result.stdout)
    assert set(reply) == {"answer", "tool_calls", "incidents", "interpretation"}
    assert reply["tool_calls"] == [{"name": "query_incidents", "args": {"status": ["ongoing"]}}]
    assert re.search(rf"\b{ongoing.total}\b", reply["answer"])
    assert reply["incidents"] and set(reply["incidents"]) <= {i.public_id for i in ongoing.incidents}


def test_ask_json_reports_a_pending_change_without_applying_it(
    store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripted(monkeypatch, call("update_severity", incident="this incident", severity="SEV-3"))
    result = CliRunner().invoke(
        app,
        ["ask", "Update this incident to SEV-3", "--channel", "incident-1-checkout-errors", "--now", NOW]
        + ["--user", "dana", "--json"],
    )
    reply = json.loads(result.stdout)
    assert reply["pending"] == {
        "action": "update_severity",
        "incident": "incident-1",
        "summary": "Change the severity of incident-1 from SEV-2 to SEV-3.",
        "changes": {"severity": ["SEV-2", "SEV-3"]},
        "requested_by": "dana",
    }
    assert reply["incidents"] == ["incident-1"]
    assert severity_and_audit(store) == ("SEV-2", ("declare", "alice", "slack"))


def test_ask_yes_applies_as_the_terminal_user(store: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    scripted(monkeypatch, call("update_severity", incident="incident-1", severity="SEV-3"), answer("Done."))
    result = CliRunner().invoke(
        app, ["ask", "Set incident-1 to SEV-3", "--now", NOW, "--user", "dana", "--yes", "--json"]
    )
    reply = json.loads(result.stdout)
    assert reply["answer"] == "Done." and "pending" not in reply
    assert severity_and_audit(store) == ("SEV-3", ("update_severity", "dana", "cli"))


@pytest.mark.parametrize(("typed", "severity"), [("y\n", "SEV-3"), ("n\n", "SEV-2"), ("", "SEV-2")])
def test_ask_confirms_on_the_terminal(
    store: Engine, monkeypatch: pytest.MonkeyPatch, typed: str, severity: str
) -> None:
    scripted(
        monkeypatch, call("update_severity", incident="incident-1", severity="SEV-3"), answer("Finished.")
    )
    result = CliRunner().invoke(
        app, ["ask", "Set incident-1 to SEV-3", "--now", NOW, "--user", "dana"], input=typed
    )
    assert result.exit_code == 0, result.output
    assert "Change the severity of incident-1 from SEV-2 to SEV-3." in result.stdout
    assert "severity: SEV-2 -> SEV-3" in result.stdout and "Confirm? [y/N]" in result.stdout
    assert result.stdout.rstrip().endswith("Finished.")
    assert severity_and_audit(store)[0] == severity


def test_chat_remembers_the_conversation(store: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    model = scripted(
        monkeypatch,
        call("get_incident", incident="incident-3"),
        answer("incident-3: an expired TLS certificate."),
        call("get_incident", incident="this incident"),
        answer("They switched providers."),
    )
    result = CliRunner().invoke(
        app,
        ["chat", "--now", NOW, "--user", "dana"],
        input="What was the root cause of incident-3?\nAnd the remediation?\nexit\n",
    )
    assert result.exit_code == 0, result.output
    assert "copilot> incident-3: an expired TLS certificate." in result.stdout
    assert "copilot> They switched providers." in result.stdout
    last_request = model.seen[-1]
    assert "Incident in focus: incident-3" in last_request[0].text
    assert [m.text for m in last_request if m.type == "human"] == [
        "What was the root cause of incident-3?",
        "And the remediation?",
    ]


def test_unknown_model_is_a_clear_answer_not_a_crash(store: Engine) -> None:
    result = CliRunner().invoke(app, ["ask", "hi", "--model", "gpt-9", "--json"])
    assert result.exit_code == 0
    assert "Unknown model 'gpt-9'" in json.loads(result.stdout)["answer"]

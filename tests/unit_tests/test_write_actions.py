"""Write tools: validation before the pause, interrupt and resume, permissions, and prompt injection."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage, HumanMessage, ToolMessage
from langgraph.types import Command
from sqlalchemy import Engine

from agent.context import Context
from agent.db import session_factory
from agent.incidents import audit as incident_audit
from agent.incidents import service
from agent.incidents.enums import Severity, Status
from agent.incidents.exceptions import InvalidInput, PermissionDenied
from agent.permissions import check_may_change, may_change, write_was_requested
from agent.runner import AgentRunner
from tests.unit_tests.agent_fakes import (
    INJECTION,
    ScriptedChatModel,
    answer,
    call,
    compile_graph,
    make_context,
    seeded_sqlite,
    thread,
    tool_results,
)


@pytest.fixture
def store(tmp_path: Path, now: datetime) -> Engine:
    return seeded_sqlite(tmp_path / "incidents.db", now)


def incident(store: Engine, number: int) -> tuple[str, str, list[tuple[str, str, str]]]:
    """Returns (severity, status, audit [(action, actor, source)]) of an incident."""
    with session_factory(store)() as db_session:
        found = service.get_or_raise(db_session=db_session, incident_id=number)
        audit = [
            (a.action, a.actor, a.source)
            for a in incident_audit.audit_log(db_session=db_session, incident_id=number)
        ]
        return found.severity, found.status, audit


def ask(
    store: Engine,
    now: datetime,
    question: str,
    *steps: Any,
    user: str = "alice",
    channel: str | None = None,
    **context: Any,
) -> tuple[Any, dict[str, Any], Any]:
    """Starts a turn with scripted model steps; returns (graph, result, context)."""
    model = ScriptedChatModel(script=[*steps, answer("done")])
    graph = compile_graph()
    run_context = make_context(store, now, chat_model=model, **context)
    result = graph.invoke(
        {"messages": [HumanMessage(question)], "user": user, "channel": channel},
        thread(),
        context=run_context,
    )
    return graph, result, run_context


def last_result(messages: list[BaseMessage]) -> dict[str, Any]:
    return tool_results(messages)[-1]


# --- interrupt and resume, per write tool ------------------------------------------------------------


def test_update_severity_pauses_then_applies_with_the_confirming_user_audited(
    store: Engine, now: datetime
) -> None:
    graph, result, context = ask(
        store,
        now,
        "Update incident-1 to SEV-1",
        call("update_severity", incident="incident-1", severity="sev 1"),
    )
    assert result["__interrupt__"][0].value == {
        "action": "update_severity",
        "incident": "incident-1",
        "summary": "Change the severity of incident-1 from SEV-2 to SEV-1.",
        "changes": {"severity": ["SEV-2", "SEV-1"]},
        "requested_by": "alice",
    }
    assert incident(store, 1)[0] == "SEV-2"
    result = graph.invoke(Command(resume={"confirmed": True, "user": "alice"}), thread(), context=context)
    applied = last_result(result["messages"])
    assert applied["applied"] is True and applied["incident"]["severity"] == "SEV-1"
    severity, _status, audit = incident(store, 1)
    assert severity == "SEV-1"
    assert audit[0] == ("update_severity", "alice", "cli")


def test_update_severity_cancelled_changes_nothing(store: Engine, now: datetime) -> None:
    graph, _result, context = ask(
        store,
        now,
        "bump incident-1 to sev1",
        call("update_severity", incident="incident-1", severity="SEV-1"),
    )
    result = graph.invoke(Command(resume={"confirmed": False, "user": "alice"}), thread(), context=context)
    assert last_result(result["messages"]) == {
        "applied": False,
        "reason": "Not confirmed by alice; nothing changed.",
    }
    assert incident(store, 1) == ("SEV-2", "active", [("declare", "alice", "slack")])


def _postmortems_of(store: Engine, number: int) -> list[tuple[str, str]]:
    with session_factory(store)() as db_session:
        return [
            (a.action, a.actor) for a in incident_audit.audit_log(db_session=db_session, incident_id=number)
        ]


def test_a_postmortem_draft_pauses_then_is_written_by_the_confirming_user(
    store: Engine, now: datetime
) -> None:
    graph, result, context = ask(
        store, now, "draft a postmortem for incident-3", call("draft_postmortem", incident="incident-3")
    )
    assert result["__interrupt__"][0].value == {
        "action": "draft_postmortem",
        "incident": "incident-3",
        "summary": "Draft a postmortem of incident-3 from the 'ai' template.",
        "changes": {"postmortem": [None, "new draft (ai)"]},
        "requested_by": "alice",
    }
    assert _postmortems_of(store, 3)[0][0] != "postmortem_generate"
    result = graph.invoke(Command(resume={"confirmed": True, "user": "alice"}), thread(), context=context)
    drafted = last_result(result["messages"])
    assert drafted["applied"] is True and isinstance(drafted["postmortem_id"], int)
    assert _postmortems_of(store, 3)[0] == ("postmortem_generate", "alice")


def test_a_declined_postmortem_draft_writes_nothing(store: Engine, now: datetime) -> None:
    graph, _result, context = ask(
        store, now, "draft a postmortem for incident-3", call("draft_postmortem", incident="incident-3")
    )
    before = _postmortems_of(store, 3)
    result = graph.invoke(Command(resume={"confirmed": False, "user": "alice"}), thread(), context=context)
    assert last_result(result["messages"]) == {
        "applied": False,
        "reason": "Not confirmed by alice; nothing changed.",
    }
    assert _postmortems_of(store, 3) == before


def test_a_postmortem_that_cannot_be_drafted_is_refused_before_any_question(
    store: Engine, now: datetime
) -> None:
    _graph, result, _context = ask(
        store, now, "draft a postmortem for incident-1", call("draft_postmortem", incident="incident-1")
    )
    assert "__interrupt__" not in result
    assert "active" in last_result(result["messages"])["error"]


def test_set_status_on_this_incident_in_its_channel(store: Engine, now: datetime) -> None:
    graph, result, context = ask(
        store,
        now,
        "Mark this incident as stable",
        call("set_status", incident="this incident", status="stable"),
        channel="incident-1-checkout-errors",
    )
    payload = result["__interrupt__"][0].value
    assert (payload["action"], payload["incident"], payload["changes"]) == (
        "set_status",
        "incident-1",
        {"status": ["active", "stable"]},
    )
    graph.invoke(Command(resume={"confirmed": True, "user": "alice"}), thread(), context=context)
    _severity, status, audit = incident(store, 1)
    assert status == "stable" and audit[0] == ("set_status", "alice", "cli")


def test_declare_pauses_then_opens_the_incident(store: Engine, now: datetime) -> None:
    graph, result, context = ask(
        store,
        now,
        "Declare an incident: the cart is down for everyone",
        call(
            "declare", title="Cart down", severity="critical", services=["cart"], customer_impact="No orders"
        ),
        user="bob",
    )
    payload = result["__interrupt__"][0].value
    assert payload == {
        "action": "declare",
        "incident": None,
        "summary": "Declare a new SEV-1 incident on checkout: Cart down",
        "changes": {
            "title": [None, "Cart down"],
            "severity": [None, "SEV-1"],
            "status": [None, "active"],
            "services": [[], ["checkout"]],
            "customer_impact": [None, "No orders"],
        },
        "requested_by": "bob",
    }
    with session_factory(store)() as db_session:
        assert service.next_incident_id(db_session=db_session) == 6
    result = graph.invoke(Command(resume={"confirmed": True, "user": "bob"}), thread(), context=context)
    assert last_result(result["messages"])["incident"]["id"] == "incident-6"
    assert result["focus_incident"] == 6
    with session_factory(store)() as db_session:
        declared = service.get_or_raise(db_session=db_session, incident_id=6)
        assert (declared.title, declared.severity, declared.commander) == ("Cart down", "SEV-1", "bob")
        assert declared.service_names == ["checkout"]


def test_auto_confirm_applies_without_pausing(store: Engine, now: datetime) -> None:
    _graph, result, _context = ask(
        store,
        now,
        "resolve incident-2",
        call("set_status", incident="incident-2", status="resolved"),
        auto_confirm=True,
    )
    assert "__interrupt__" not in result
    assert last_result(result["messages"])["applied"] is True
    assert incident(store, 2)[1] == "resolved"


# --- validation happens before any pause -------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "name", "args", "error"),
    [
        (
            "set incident-9 to sev1",
            "update_severity",
            {"incident": "incident-9", "severity": "SEV-1"},
            "There is no incident-9.",
        ),
        (
            "set incident-1 to sev 7",
            "update_severity",
            {"incident": "incident-1", "severity": "sev7"},
            "'sev7' is not a severity; use SEV-1 (worst) to SEV-5, or unknown.",
        ),
        (
            "make incident-1 sev2",
            "update_severity",
            {"incident": "incident-1", "severity": "SEV-2"},
            "incident-1 is already SEV-2.",
        ),
        (
            "reopen incident-4",
            "set_status",
            {"incident": "incident-4", "status": "active"},
            "incident-4 is completed; it can only become nothing, not active.",
        ),
        (
            "mark incident-1 as paused",
            "set_status",
            {"incident": "incident-1", "status": "paused"},
            "'paused' is not a status; use active, stable, resolved or completed.",
        ),
        (
            "declare an incident",
            "declare",
            {"title": "  "},
            "An incident needs a title; what is going wrong?",
        ),
        (
            "declare an incident on the mainframe",
            "declare",
            {"title": "Mainframe down", "services": ["mainframe"]},
            "There is no service called 'mainframe'. Known services: checkout, payments, search.",
        ),
        (
            "update severity to sev1",
            "update_severity",
            {"incident": "this incident", "severity": "SEV-1"},
            "Which incident? There is no incident in focus here; name one like incident-123.",
        ),
    ],
)
def test_invalid_writes_fail_before_asking_for_confirmation(
    store: Engine, now: datetime, question: str, name: str, args: dict[str, Any], error: str
) -> None:
    _graph, result, _context = ask(store, now, question, call(name, **args))
    assert "__interrupt__" not in result
    assert last_result(result["messages"]) == {"error": error}
    assert len(incident(store, 1)[2]) == 1 and len(incident(store, 4)[2]) == 3


# --- permissions -------------------------------------------------------------------------------------

SLACK = {"source": "slack", "operator": False, "allowed_confirmers": ["alice", "bob"]}


def test_a_non_member_cannot_confirm_in_slack(store: Engine, now: datetime) -> None:
    graph, _result, context = ask(
        store,
        now,
        "set incident-1 to sev1",
        call("update_severity", incident="incident-1", severity="SEV-1"),
        **SLACK,
    )
    result = graph.invoke(Command(resume={"confirmed": True, "user": "mallory"}), thread(), context=context)
    assert last_result(result["messages"]) == {
        "applied": False,
        "reason": "mallory may not change incident-1; only members of its channel and its responders may.",
    }
    assert incident(store, 1)[0] == "SEV-2"


def test_a_channel_member_can_confirm_what_another_asked(store: Engine, now: datetime) -> None:
    graph, _result, context = ask(
        store,
        now,
        "set incident-1 to sev1",
        call("update_severity", incident="incident-1", severity="SEV-1"),
        **SLACK,
    )
    graph.invoke(Command(resume={"confirmed": True, "user": "bob"}), thread(), context=context)
    severity, _status, audit = incident(store, 1)
    assert severity == "SEV-1" and audit[0] == ("update_severity", "bob", "slack")


def test_an_asker_without_permission_is_refused_before_the_pause(store: Engine, now: datetime) -> None:
    _graph, result, _context = ask(
        store,
        now,
        "set incident-1 to sev1",
        call("update_severity", incident="incident-1", severity="SEV-1"),
        user="mallory",
        **SLACK,
    )
    assert "__interrupt__" not in result
    assert last_result(result["messages"]) == {
        "error": "mallory may not change incident-1; only members of its channel and its responders may."
    }


def test_the_responders_policy_refuses_channel_members(store: Engine, now: datetime) -> None:
    graph, _result, context = ask(
        store,
        now,
        "mark incident-1 stable",
        call("set_status", incident="incident-1", status="stable"),
        write_permission="responders",
        **SLACK,
    )
    result = graph.invoke(Command(resume={"confirmed": True, "user": "bob"}), thread(), context=context)
    assert last_result(result["messages"])["reason"] == (
        "bob may not change incident-1; only its commander and responders may."
    )
    assert incident(store, 1)[1] == "active"


# --- prompt injection --------------------------------------------------------------------------------


def test_an_instruction_inside_a_timeline_never_triggers_a_write(store: Engine, now: datetime) -> None:
    def obey_the_timeline(messages: list[BaseMessage]) -> Any:
        # The model read the injected message in the tool result and tries to act on it.
        assert isinstance(messages[-1], ToolMessage) and INJECTION in messages[-1].text
        return call("update_severity", incident="incident-1", severity="SEV-1")

    _graph, result, _context = ask(
        store,
        now,
        "Catch me up on incident-1",
        call("get_incident", incident="incident-1"),
        obey_the_timeline,
    )
    assert "__interrupt__" not in result
    assert last_result(result["messages"]) == {
        "error": "I change incidents only when you ask for it in your own message, "
        "and it does not ask to set the severity to SEV-1."
    }
    assert incident(store, 1) == ("SEV-2", "active", [("declare", "alice", "slack")])


@pytest.mark.parametrize(
    ("action", "message", "value", "expected"),
    [
        ("update_severity", "Update this incident to SEV-3", Severity.sev3, True),
        ("update_severity", "this is critical, bump it", Severity.sev1, True),
        ("update_severity", "downgrade incident-1 to minor", Severity.sev4, True),
        ("update_severity", "Update this incident to SEV-3", Severity.sev1, False),
        ("update_severity", "what happened in incident-1?", Severity.sev1, False),
        ("set_status", "Mark this incident as stable", Status.stable, True),
        ("set_status", "please close incident-2", Status.resolved, True),
        ("set_status", "resolve it", Status.resolved, True),
        ("set_status", "Mark this incident as stable", Status.resolved, False),
        ("declare", "Declare an incident", None, True),
        ("declare", "can you open a new incident for the cart?", None, True),
        ("declare", "how many incidents were declared this week?", None, False),
        ("declare", "declare a sev2 for checkout errors", None, True),
        ("declare", "let's declare a SEV-1 for payments down", None, True),
        ("declare", "raise a sev1: checkout down", None, True),
        ("declare", "who raised the alert for sev1 incidents?", None, False),
    ],
)
def test_write_requests_are_recognised_in_the_askers_words(
    action: Any, message: str, value: Any, expected: bool
) -> None:
    assert write_was_requested(action, message, value=value) is expected


# --- the runner --------------------------------------------------------------------------------------


def test_runner_reports_pending_changes_and_resumes(store: Engine, now: datetime) -> None:
    model = ScriptedChatModel(
        script=[call("set_status", incident="#2", status="resolved"), answer("incident-2 is resolved.")]
    )
    runner = AgentRunner(make_context(store, now), model=model)
    reply = runner.ask("Resolve #2", thread_id="t", user="alice")
    assert reply.pending is not None and reply.pending.incident == "incident-2"
    assert reply.answer == "Change the status of incident-2 from stable to resolved."
    assert reply.to_dict()["pending"]["changes"] == {"status": ["stable", "resolved"]}
    done = runner.resume("t", confirmed=True, user="alice")
    assert done.pending is None and done.answer == "incident-2 is resolved."
    assert done.tool_calls == [{"name": "set_status", "args": {"incident": "#2", "status": "resolved"}}]
    assert done.incidents == ["incident-2"]
    assert incident(store, 2)[1] == "resolved"
    with pytest.raises(InvalidInput):
        runner.resume("t", confirmed=True, user="alice")


def test_a_new_question_abandons_a_pending_change(store: Engine, now: datetime) -> None:
    model = ScriptedChatModel(
        script=[call("update_severity", incident="incident-1", severity="SEV-1"), answer("Sure, what else?")]
    )
    runner = AgentRunner(make_context(store, now), model=model)
    assert runner.ask("set incident-1 to sev1", thread_id="t", user="alice").pending is not None
    reply = runner.ask("actually, never mind", thread_id="t", user="alice")
    assert reply.answer == "Sure, what else?" and reply.pending is None
    # The model was not sent a tool call without its result.
    assert all(not getattr(m, "tool_calls", None) for m in model.seen[-1])
    assert incident(store, 1)[0] == "SEV-2"


def test_permission_policies(store: Engine) -> None:
    with session_factory(store)() as db_session:
        found = service.get_or_raise(db_session=db_session, incident_id=1)
    slack = {"source": "slack", "operator": False}
    assert may_change("mallory", context=Context(**slack, write_permission="anyone"), incident=found)
    assert may_change("alice", context=Context(**slack, write_permission="responders"), incident=found)
    assert not may_change("bob", context=Context(**slack, allowed_confirmers=[]), incident=found)
    assert may_change("anyone-at-the-terminal", context=Context(operator=True), incident=found)
    # Anyone talking to the agent may declare, but only when it knows who they are.
    assert may_change("mallory", context=Context(**slack), incident=None)
    with pytest.raises(PermissionDenied, match="who is asking"):
        check_may_change(None, context=Context(**slack), incident=None)
    with pytest.raises(InvalidInput, match="Unknown write permission 'everyone'"):
        may_change("bob", context=Context(**slack, write_permission="everyone"), incident=found)

"""Each read tool through the graph: results per the tool contract, and bad inputs as `{"error": ...}`."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from sqlalchemy import Engine

from agent.db import session_factory
from agent.incidents import audit, service
from agent.incidents.enums import Severity, Status
from tests.unit_tests.agent_fakes import (
    ScriptedChatModel,
    answer,
    calls,
    compile_graph,
    make_context,
    seed_incidents,
    seeded_sqlite,
    thread,
    tool_results,
)
from tools import TOOLS
from tools.results import fit_json


@pytest.fixture
def store(engine: Engine, now: datetime) -> Engine:
    with session_factory(engine)() as db_session:
        seed_incidents(db_session, now)
    return engine


def run_tools(
    store: Engine,
    now: datetime,
    *requests: tuple[str, dict[str, Any]],
    channel: str | None = None,
    question: str = "question",
    **context: Any,
) -> list[dict[str, Any]]:
    """Runs the tool calls through a fresh graph in one model step and returns their JSON results."""
    model = ScriptedChatModel(script=[calls(*requests), answer("done")])
    result = compile_graph().invoke(
        {"messages": [HumanMessage(question)], "channel": channel, "user": "alice"},
        thread(),
        context=make_context(store, now, chat_model=model, **context),
    )
    return tool_results(result["messages"])


def one(store: Engine, now: datetime, name: str, **args: Any) -> dict[str, Any]:
    return run_tools(store, now, (name, args))[0]


def test_every_tool_has_an_argument_schema_and_a_docstring_for_the_model() -> None:
    assert [t.name for t in TOOLS] == [
        "query_incidents",
        "get_incident",
        "related_incidents",
        "declare",
        "update_severity",
        "set_status",
        "summarize_timeline",
        "draft_postmortem",
    ]
    for tool in TOOLS:
        assert tool.args_schema is not None
        assert "runtime" not in tool.tool_call_schema.model_json_schema()["properties"]
        assert tool.description.splitlines()[0][0].isupper() and "Args:" in tool.description


def test_query_counts_ongoing_incidents_from_sql(store: Engine, now: datetime) -> None:
    result = one(store, now, "query_incidents", status=["ongoing"])
    assert result["total"] == 2
    assert result["by_status"] == {"active": 1, "stable": 1}
    assert result["by_severity"] == {"SEV-2": 1, "SEV-3": 1}
    assert result["filters"]["status"] == ["active", "stable"]
    assert [i["id"] for i in result["incidents"]] == ["incident-1", "incident-2"]
    assert result["shown"] == 2
    assert set(result["incidents"][0]) == {
        "id",
        "title",
        "severity",
        "status",
        "services",
        "declared_at",
        "resolved_at",
        "commander",
    }


def test_query_normalises_severity_time_frame_and_service_aliases(store: Engine, now: datetime) -> None:
    sev1_week, billing = run_tools(
        store,
        now,
        ("query_incidents", {"severity": ["sev1"], "time_frame": "past week"}),
        ("query_incidents", {"services": ["billing"], "limit": 1}),
    )
    assert sev1_week["total"] == 1 and sev1_week["incidents"][0]["id"] == "incident-3"
    assert sev1_week["filters"]["severity"] == ["SEV-1"]
    assert sev1_week["filters"]["time_frame"] == {
        "label": "past week",
        "since": "2026-11-20T12:00:00Z",
        "until": "2026-11-27T12:00:00Z",
        "applies_to": "declared_at",
    }
    # Counts cover every match; the list stops at the limit.
    assert billing["filters"]["services"] == ["payments"]
    assert (billing["total"], billing["shown"], billing["incidents"][0]["id"]) == (3, 1, "incident-1")


def test_query_bad_inputs_come_back_as_errors(store: Engine, now: datetime) -> None:
    results = run_tools(
        store,
        now,
        ("query_incidents", {"severity": ["sev9"]}),
        ("query_incidents", {"status": ["paused"]}),
        ("query_incidents", {"services": ["mainframe"]}),
        ("query_incidents", {"time_frame": "whenever"}),
        ("query_incidents", {"limit": 500}),
    )
    assert results[0] == {"error": "'sev9' is not a severity; use SEV-1 (worst) to SEV-5, or unknown."}
    assert results[1] == {"error": "'paused' is not a status; use active, stable, resolved or completed."}
    assert results[2] == {
        "error": "There is no service called 'mainframe'. Known services: checkout, payments, search."
    }
    assert "'whenever' is not a time frame" in results[3]["error"]
    assert results[4]["error"].startswith("Invalid arguments") and "limit" in results[4]["error"]


def test_get_incident_returns_details_root_cause_and_an_excerpt(store: Engine, now: datetime) -> None:
    detail = one(store, now, "get_incident", incident="INC-3")
    assert detail["id"] == "incident-3"
    assert detail["root_cause"] == "An expired TLS certificate at the payments provider."
    assert detail["remediation"] == "Switched to the secondary provider and renewed the certificate."
    assert detail["message_count"] == 16
    excerpt_messages = [e for e in detail["timeline_excerpt"] if e["kind"] == "message"]
    assert len(excerpt_messages) == 8
    assert excerpt_messages[0]["text"].endswith("update 0: card payments failing")
    assert excerpt_messages[-1]["text"].endswith("update 15: card payments failing")
    assert [e["kind"] for e in detail["timeline_excerpt"] if e["kind"] != "message"] == [
        "declared",
        "status_change",
    ]
    unknown = one(store, now, "get_incident", incident="incident-1")
    assert unknown["root_cause"] is None and unknown["remediation"] is None


def test_get_incident_bad_references(store: Engine, now: datetime) -> None:
    missing, no_focus, private = run_tools(
        store,
        now,
        ("get_incident", {"incident": "incident-999"}),
        ("get_incident", {"incident": "this incident"}),
        ("get_incident", {"incident": "#5"}),
    )
    assert missing == {"error": "There is no incident-999."}
    assert no_focus == {
        "error": "Which incident? There is no incident in focus here; name one like incident-123."
    }
    assert private == {"error": "incident-5 is private; ask about it in its own channel."}


def test_naming_a_private_incident_does_not_reveal_it(store: Engine, now: datetime) -> None:
    # Naming an incident puts it in focus; a private one must still stay hidden outside its channel.
    [private] = run_tools(
        store, now, ("get_incident", {"incident": "incident-5"}), question="root cause of incident-5?"
    )
    assert private == {"error": "incident-5 is private; ask about it in its own channel."}


def test_this_incident_in_an_incident_channel(store: Engine, now: datetime) -> None:
    [detail] = run_tools(
        store, now, ("get_incident", {"incident": "this incident"}), channel="incident-1-checkout"
    )
    assert detail["id"] == "incident-1" and detail["channel"] == "incident-1-checkout-errors"


def test_tool_results_are_cut_to_the_budget_and_stay_valid_json(store: Engine, now: datetime) -> None:
    result = run_tools(store, now, ("query_incidents", {}), max_tool_result_chars=700)[0]
    assert result["truncated"] is True
    assert result["total"] == 4
    assert 0 < result["shown"] == len(result["incidents"]) < 4
    assert len(json.dumps(result, ensure_ascii=False)) <= 700


def test_fit_json_shortens_long_text_when_no_list_is_left() -> None:
    text = fit_json({"incident": "incident-1", "markdown": "x" * 5000}, 300)
    payload = json.loads(text)
    assert len(text) <= 300 and payload["truncated"] is True and payload["markdown"].endswith("…")
    assert fit_json({"total": 1}, 300) == '{"total": 1}'


def test_summarize_timeline_summarizes_any_timeline_asked_for(store: Engine, now: datetime) -> None:
    # The product: anyone can ask for a summary at any time; only the one given on joining a channel
    # waits for ten messages (agent/slack/catchup.py).
    summary, short = run_tools(
        store,
        now,
        ("summarize_timeline", {"incident": "incident-1"}),
        ("summarize_timeline", {"incident": "incident-2"}),
    )
    assert summary["incident"] == "incident-1" and summary["message_count"] == 12
    assert "Checkout" in summary["summary_markdown"]
    assert set(summary["sections"]) >= {"what_is_happening", "impact", "next_steps"}
    assert short["incident"] == "incident-2" and short["message_count"] == 3
    assert short["summary_markdown"].strip()


def test_summarize_timeline_keeps_a_configured_minimum(store: Engine, now: datetime) -> None:
    (too_short,) = run_tools(
        store, now, ("summarize_timeline", {"incident": "incident-2"}), summary_min_messages=10
    )
    assert too_short == {"error": "incident-2 has 3 messages in its timeline; a summary needs at least 10."}


def test_draft_postmortem_needs_a_resolved_incident_with_fifteen_messages(
    store: Engine, now: datetime, engine: Engine
) -> None:
    with session_factory(engine)() as db_session:
        # incident-2 becomes resolved but keeps its 3 messages.
        service.set_status(
            db_session=db_session, incident_id=2, status=Status.resolved, now=now, actor="bob", source="cli"
        )
    draft, active, short, bad_template = run_tools(
        store,
        now,
        ("draft_postmortem", {"incident": "incident-3"}),
        ("draft_postmortem", {"incident": "incident-1"}),
        ("draft_postmortem", {"incident": "incident-2"}),
        ("draft_postmortem", {"incident": "incident-3", "template": "fancy"}),
        auto_confirm=True,
    )
    assert draft["applied"] is True and draft["incident"] == "incident-3"
    assert isinstance(draft["postmortem_id"], int)
    assert "Payments provider outage" in draft["markdown"]
    # The postmortem service words the refusals; each names what is missing.
    assert "active" in active["error"] and "15" in active["error"]
    assert "3 messages" in short["error"] and "15" in short["error"]
    assert "fancy" in bad_template["error"]
    assert set(active) == set(short) == set(bad_template) == {"error"}


def test_read_tools_change_nothing(store: Engine, now: datetime, engine: Engine) -> None:
    run_tools(store, now, ("query_incidents", {}), ("get_incident", {"incident": "incident-1"}))
    with session_factory(engine)() as db_session:
        assert audit.audit_log(db_session=db_session, incident_id=1)[0].action == "declare"
        assert service.get_or_raise(db_session=db_session, incident_id=1).severity == Severity.sev2


@pytest.fixture
def sqlite_store(tmp_path: Path, now: datetime) -> Engine:
    return seeded_sqlite(tmp_path / "incidents.db", now)


def test_related_incidents_default_to_those_active_in_the_past_two_hours(
    sqlite_store: Engine, now: datetime, tmp_path: Path
) -> None:
    [result] = run_tools(
        sqlite_store, now, ("related_incidents", {}), channel="incident-1-checkout", data_dir=str(tmp_path)
    )
    assert result["mode"] == "active_recently"
    assert result["focus"] == "incident-1"
    assert result["window"] == {
        "label": "active in the past 2 hours",
        "since": "2026-11-27T10:00:00Z",
        "until": "2026-11-27T12:00:00Z",
    }
    # Only incident-2 was active then besides the focus (incident-5 is private, incident-3 long resolved).
    assert {r["id"] for r in result["results"]} <= {"incident-2"}


def test_related_incidents_in_a_time_frame_include_resolved_ones_and_say_why(
    sqlite_store: Engine, now: datetime, tmp_path: Path
) -> None:
    result, nothing, bad_window = run_tools(
        sqlite_store,
        now,
        (
            "related_incidents",
            {"query": "card payments failing at the payments provider", "time_frame": "past month"},
        ),
        ("related_incidents", {}),
        ("related_incidents", {"query": "outage", "time_frame": "whenever"}),
        data_dir=str(tmp_path),
    )
    assert result["mode"] == "time_frame" and result["focus"] is None
    assert result["window"]["since"] == "2026-10-28T12:00:00Z"
    ids = [r["id"] for r in result["results"]]
    assert "incident-3" in ids and "incident-4" not in ids
    assert all(r["reasons"] and isinstance(r["score"], float) for r in result["results"])
    assert nothing == {"error": "Related to what? Name an incident or describe what to look for."}
    assert "'whenever' is not a time frame" in bad_window["error"]


def test_a_text_that_matches_nothing_never_makes_a_false_zero(store: Engine, now: datetime) -> None:
    relaxed, exact = run_tools(
        store,
        now,
        ("query_incidents", {"status": ["stable"], "text": "sitting"}),
        ("query_incidents", {"status": ["stable"], "text": "latency"}),
    )
    # Nothing mentions "sitting": the answer is the stable incidents, and it says the word was left out.
    assert relaxed["total"] == 1 and relaxed["relaxed"] == {"text": "sitting", "matched": 0}
    assert relaxed["filters"]["text"] is None
    assert [i["id"] for i in relaxed["incidents"]] == ["incident-2"]
    assert exact["total"] == 1 and "relaxed" not in exact and exact["filters"]["text"] == "latency"


def test_a_text_and_filters_that_match_nothing_stay_a_true_zero(store: Engine, now: datetime) -> None:
    [result] = run_tools(store, now, ("query_incidents", {"severity": ["SEV-5"], "text": "sitting"}))
    assert result["total"] == 0 and "relaxed" not in result


def test_similar_to_a_resolved_incident_searches_the_whole_history(
    sqlite_store: Engine, now: datetime, tmp_path: Path
) -> None:
    [result] = run_tools(
        sqlite_store, now, ("related_incidents", {"incident": "incident-3"}), data_dir=str(tmp_path)
    )
    assert result["mode"] == "history" and result["focus"] == "incident-3"
    assert result["window"]["label"] == "all time"


def test_a_description_that_matches_nothing_active_is_searched_in_history(
    sqlite_store: Engine, now: datetime, tmp_path: Path
) -> None:
    [result] = run_tools(
        sqlite_store,
        now,
        ("related_incidents", {"query": "invoice totals were wrong"}),
        data_dir=str(tmp_path),
    )
    assert result["widened_from"] == "active in the past 2 hours" and result["mode"] == "history"
    assert "incident-4" in [r["id"] for r in result["results"]]


def test_query_sets_services_aside_and_filters_among_listed_incidents(store: Engine, now: datetime) -> None:
    apart, among = run_tools(
        store,
        now,
        ("query_incidents", {"status": ["ongoing"], "exclude_services": ["checkout"]}),
        ("query_incidents", {"among": ["incident-1", "incident-3", "incident-4"], "severity": ["SEV-1"]}),
    )
    # incident-1 (checkout) is set aside; incident-2 (search) stays.
    assert [i["id"] for i in apart["incidents"]] == ["incident-2"]
    assert apart["filters"]["exclude_services"] == ["checkout"]
    assert among["total"] == 1 and [i["id"] for i in among["incidents"]] == ["incident-3"]
    assert among["filters"]["among"] == ["incident-1", "incident-3", "incident-4"]

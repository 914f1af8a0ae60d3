"""The agent graph driven by a scripted tool-calling model: order of calls, focus, history, failures."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.messages.utils import count_tokens_approximately
from sqlalchemy import Engine

from agent.graph import trim_history
from agent.runner import AgentRunner
from prompts.agent import LAST_STEP_ANSWER
from tests.unit_tests.agent_fakes import (
    ScriptedChatModel,
    answer,
    call,
    calls,
    compile_graph,
    make_context,
    seeded_sqlite,
    thread,
    tool_results,
)


@pytest.fixture
def store(tmp_path: Path, now: datetime) -> Engine:
    return seeded_sqlite(tmp_path / "incidents.db", now)


def _prompt(model: ScriptedChatModel, turn: int = 0) -> str:
    first = model.seen[turn][0]
    assert isinstance(first, SystemMessage)
    return first.text


def test_tools_run_in_order_and_the_model_sees_their_results(store: Engine, now: datetime) -> None:
    model = ScriptedChatModel(
        script=[
            call("query_incidents", status=["ongoing"]),
            call("get_incident", incident="#2"),
            answer("2 ongoing: incident-1 and incident-2."),
        ]
    )
    result = compile_graph().invoke(
        {
            "messages": [HumanMessage("How many incidents are ongoing, and how is the search one?")],
            "user": "alice",
        },
        thread(),
        context=make_context(store, now, chat_model=model),
    )
    tool_messages = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    assert [m.name for m in tool_messages] == ["query_incidents", "get_incident"]
    counts, detail = tool_results(result["messages"])
    assert (counts["total"], counts["by_status"]) == (2, {"active": 1, "stable": 1})
    assert [i["id"] for i in counts["incidents"]] == ["incident-1", "incident-2"]
    assert (detail["id"], detail["status"]) == ("incident-2", "stable")
    # The second model call saw the first tool's result, the third saw both.
    assert isinstance(model.seen[1][-1], ToolMessage) and model.seen[1][-1].name == "query_incidents"
    assert [type(m).__name__ for m in model.seen[2][-4:]] == [
        "AIMessage",
        "ToolMessage",
        "AIMessage",
        "ToolMessage",
    ]
    assert result["messages"][-1].text == "2 ongoing: incident-1 and incident-2."
    prompt = _prompt(model)
    assert "Current time: 2026-11-27T12:00:00Z" in prompt
    assert "Channel: none" in prompt and "Incident in focus: none" in prompt and "Asking: alice" in prompt


def test_parallel_tool_calls_each_get_a_result(store: Engine, now: datetime) -> None:
    model = ScriptedChatModel(
        script=[
            calls(("get_incident", {"incident": "incident-1"}), ("get_incident", {"incident": "nope"})),
            answer("ok"),
        ]
    )
    result = compile_graph().invoke(
        {"messages": [HumanMessage("compare")], "user": "alice"},
        thread(),
        context=make_context(store, now, chat_model=model),
    )
    first, second = tool_results(result["messages"])
    assert first["id"] == "incident-1"
    assert second == {"error": "'nope' does not name an incident; use incident-123, #123 or INC-123."}


def test_focus_comes_from_an_incident_channel_name(store: Engine, now: datetime) -> None:
    model = ScriptedChatModel(script=[answer("ok")])
    result = compile_graph().invoke(
        {"messages": [HumanMessage("what is going on?")], "channel": "incident-123-checkout", "user": "bob"},
        thread(),
        context=make_context(store, now, chat_model=model),
    )
    assert result["focus_incident"] == 123
    assert "Channel: incident-123-checkout" in _prompt(model)
    assert "Incident in focus: incident-123" in _prompt(model)


def test_an_incident_named_only_in_pasted_text_is_not_put_in_focus(store: Engine, now: datetime) -> None:
    model = ScriptedChatModel(script=[answer("ok")])
    pasted = 'known issue?\n> my order #4 never arrived, see incident-2\ncustomer wrote "re incident-3: still broken"'
    result = compile_graph().invoke(
        {"messages": [HumanMessage(pasted)], "user": "bob"},
        thread(),
        context=make_context(store, now, chat_model=model),
    )
    assert result["focus_incident"] is None
    named = compile_graph().invoke(
        {"messages": [HumanMessage("is incident-2 related to order #4?")], "user": "bob"},
        thread(),
        context=make_context(store, now, chat_model=ScriptedChatModel(script=[answer("ok")])),
    )
    assert named["focus_incident"] == 2


def test_focus_follows_the_stored_channel_id_after_a_rename(store: Engine, now: datetime) -> None:
    model = ScriptedChatModel(script=[call("get_incident", incident="this incident"), answer("ok")])
    result = compile_graph().invoke(
        {
            "messages": [HumanMessage("status?")],
            "channel": "checkout-war-room",
            "channel_id": "C001",
            "user": "bob",
        },
        thread(),
        context=make_context(store, now, chat_model=model),
    )
    assert result["focus_incident"] == 1
    assert tool_results(result["messages"])[0]["id"] == "incident-1"


def test_focus_is_the_last_incident_discussed_across_turns(store: Engine, now: datetime) -> None:
    model = ScriptedChatModel(
        script=[
            call("get_incident", incident="INC-3"),
            answer("incident-3 was a payments provider outage."),
            call("get_incident", incident="this incident"),
            answer("An expired TLS certificate."),
        ]
    )
    graph = compile_graph()
    context = make_context(store, now, chat_model=model)
    graph.invoke(
        {"messages": [HumanMessage("Tell me about the payments outage")], "user": "a"},
        thread(),
        context=context,
    )
    result = graph.invoke(
        {"messages": [HumanMessage("What was its root cause?")], "user": "a"}, thread(), context=context
    )
    assert "Incident in focus: incident-3" in _prompt(model, turn=2)
    assert (
        tool_results(result["messages"])[-1]["root_cause"]
        == "An expired TLS certificate at the payments provider."
    )


def test_a_conversation_passed_as_history_gets_its_focus_from_the_latest_mention(
    store: Engine, now: datetime
) -> None:
    model = ScriptedChatModel(script=[answer("ok")])
    runner = AgentRunner(make_context(store, now), model=model)
    runner.ask(
        "and the remediation?",
        thread_id="slack-thread",
        user="bob",
        history=[
            HumanMessage("what was the root cause of incident-3?"),
            AIMessage("A TLS certificate (incident-3)."),
        ],
    )
    assert "Incident in focus: incident-3" in _prompt(model)
    assert [type(m).__name__ for m in model.seen[0][1:]] == ["HumanMessage", "AIMessage", "HumanMessage"]


def test_history_passed_again_replaces_what_the_thread_remembers(store: Engine, now: datetime) -> None:
    model = ScriptedChatModel(script=[answer("one"), answer("two")])
    runner = AgentRunner(make_context(store, now), model=model)
    history = [HumanMessage("hello"), AIMessage("hi")]
    runner.ask("first", thread_id="t", user="bob", history=history)
    runner.ask(
        "second", thread_id="t", user="bob", history=[*history, HumanMessage("first"), AIMessage("one")]
    )
    assert [m.text for m in model.seen[1][1:]] == ["hello", "hi", "first", "one", "second"]


def test_history_is_trimmed_to_the_token_budget_keeping_the_current_turn(
    store: Engine, now: datetime
) -> None:
    budget = 200
    model = ScriptedChatModel(script=[answer(f"answer {n} " + "words " * 30) for n in range(8)])
    graph = compile_graph()
    context = make_context(store, now, chat_model=model, max_history_tokens=budget)
    for n in range(8):
        graph.invoke(
            {"messages": [HumanMessage(f"question {n} " + "detail " * 30)], "user": "a"},
            thread(),
            context=context,
        )
    last_request = model.seen[-1][1:]
    assert count_tokens_approximately(last_request) <= budget
    assert isinstance(last_request[0], HumanMessage)
    assert last_request[-1].text.startswith("question 7")
    assert len(last_request) < 15
    # Trimming is permanent: the thread no longer carries the dropped turns either.
    assert len(graph.get_state(thread()).values["messages"]) < 16


def test_trimming_never_separates_a_tool_call_from_its_result() -> None:
    messages = [
        HumanMessage("old question " * 20, id="h1"),
        AIMessage("", id="a1", tool_calls=[{"name": "get_incident", "args": {"incident": "1"}, "id": "c1"}]),
        ToolMessage("x" * 400, tool_call_id="c1", id="t1"),
        AIMessage("old answer", id="a2"),
        HumanMessage("new question", id="h2"),
    ]
    kept = trim_history(messages, max_tokens=60)
    assert [m.id for m in kept] == ["h2"]
    assert [m.id for m in trim_history(messages, max_tokens=10_000)] == ["h1", "a1", "t1", "a2", "h2"]
    assert [m.id for m in trim_history(messages, max_tokens=1)] == ["h2"]


def test_an_earlier_turn_too_big_to_keep_whole_keeps_which_incidents_its_tools_found() -> None:
    found = {
        "query": "promo codes failing",
        "results": [
            {"id": f"incident-{n}", "title": f"Promo codes failing {n}", "root_cause": "a long story " * 40}
            for n in (3, 7)
        ],
    }
    messages = [
        HumanMessage("customers can't apply promo codes, anything open?", id="h1"),
        AIMessage(
            "", id="a1", tool_calls=[{"name": "related_incidents", "args": {"query": "promo"}, "id": "c1"}]
        ),
        ToolMessage(json.dumps(found), tool_call_id="c1", id="t1"),
        AIMessage("Nothing open; two past matches.", id="a2"),
        HumanMessage("ok then declare one", id="h2"),
    ]
    kept = trim_history(messages, max_tokens=200)
    assert [m.id for m in kept] == ["h1", "a1", "t1", "a2", "h2"]
    compacted = json.loads(kept[2].content)
    assert compacted == {
        "query": "promo codes failing",
        "results": [
            {"id": "incident-3", "title": "Promo codes failing 3"},
            {"id": "incident-7", "title": "Promo codes failing 7"},
        ],
    }
    # A budget the whole turn fits keeps it as it was.
    assert trim_history(messages, max_tokens=10_000)[2].content == messages[2].content


def test_the_last_step_ends_with_a_polite_answer(store: Engine, now: datetime) -> None:
    model = ScriptedChatModel(script=[call("get_incident", incident="incident-1") for _ in range(10)])
    result = compile_graph().invoke(
        {"messages": [HumanMessage("loop")], "user": "a"},
        {**thread(), "recursion_limit": 6},
        context=make_context(store, now, chat_model=model),
    )
    assert result["messages"][-1].text == LAST_STEP_ANSWER
    assert not result["messages"][-1].tool_calls


def test_transient_model_failures_are_retried(store: Engine, now: datetime) -> None:
    model = ScriptedChatModel(
        script=[TimeoutError("read timed out"), ConnectionError("reset"), answer("fine")]
    )
    result = compile_graph().invoke(
        {"messages": [HumanMessage("hi")], "user": "a"},
        thread(),
        context=make_context(store, now, chat_model=model),
    )
    assert result["messages"][-1].text == "fine"
    assert len(model.seen) == 3


def test_a_model_that_keeps_failing_gets_a_clear_answer_and_loses_nothing(
    store: Engine, now: datetime
) -> None:
    model = ScriptedChatModel(script=[TimeoutError("read timed out")] * 3 + [answer("back")])
    graph = compile_graph()
    context = make_context(store, now, chat_model=model)
    result = graph.invoke(
        {"messages": [HumanMessage("How many incidents?")], "user": "a"}, thread(), context=context
    )
    assert result["messages"][-1].text == (
        "The model is unavailable right now (TimeoutError: read timed out); your question is kept — try again."
    )
    assert len(model.seen) == 3
    result = graph.invoke({"messages": [HumanMessage("try again")], "user": "a"}, thread(), context=context)
    assert result["messages"][-1].text == "back"
    assert [m.text for m in model.seen[-1] if isinstance(m, HumanMessage)] == [
        "How many incidents?",
        "try again",
    ]


def test_a_non_transient_model_error_is_not_retried(store: Engine, now: datetime) -> None:
    model = ScriptedChatModel(script=[ValueError("bad request"), answer("never")])
    result = compile_graph().invoke(
        {"messages": [HumanMessage("hi")], "user": "a"},
        thread(),
        context=make_context(store, now, chat_model=model),
    )
    assert "ValueError: bad request" in result["messages"][-1].text
    assert len(model.seen) == 1


def test_runner_reports_tool_calls_and_the_incidents_the_answer_names_in_result_order(
    store: Engine, now: datetime
) -> None:
    model = ScriptedChatModel(
        script=[
            call("query_incidents", services=["billing"]),
            answer("3 incidents hit payments: incident-4, incident-1 and incident-3."),
        ]
    )
    reply = AgentRunner(make_context(store, now), model=model).ask(
        "Any incidents on billing?", thread_id="t", user="alice"
    )
    assert reply.tool_calls == [{"name": "query_incidents", "args": {"services": ["billing"]}}]
    assert reply.incidents == ["incident-1", "incident-3", "incident-4"]
    assert reply.pending is None
    assert reply.to_dict() == {
        "answer": "3 incidents hit payments: incident-4, incident-1 and incident-3.",
        "tool_calls": reply.tool_calls,
        "incidents": reply.incidents,
        # How the question was read, from the call and its result, whatever model made it.
        "interpretation": {
            "tool": "query_incidents",
            "filters": {"services": ["payments"]},
            "window": None,
            "found": 3,
            "relaxed": None,
            "note": None,
            "line": "Read as: query incidents · payments · all time · 3 incidents",
        },
    }


def test_runner_leaves_out_incidents_the_answer_does_not_name(store: Engine, now: datetime) -> None:
    model = ScriptedChatModel(script=[call("query_incidents", status=["ongoing"]), answer("There are 2.")])
    reply = AgentRunner(make_context(store, now), model=model).ask(
        "How many ongoing?", thread_id="t", user="a"
    )
    assert reply.answer == "There are 2." and reply.incidents == []

"""The real model path (langchain-openai over HTTP) against a local server answering as weak models do.

The server here plays scripted chat-completions responses in the shapes a small local model behind
llama.cpp produced: tool arguments that are not JSON, a tool that does not exist, an empty reply, HTML
entities, a 500, a request that never gets an answer. Each must end in a clear answer, never a crash,
and the next question on the same thread must still go through (no tool call left without a result).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from agent.incidents.models import Incident
from agent.models import load_chat_model
from agent.runner import AgentRunner
from agent.settings import get_settings
from prompts.agent import EMPTY_ANSWER
from tests.integration_tests.scripted_model import Reply, ScriptedServer, message
from tests.unit_tests.agent_fakes import make_context, seeded_sqlite


@pytest.fixture
def store(tmp_path: Path, now: datetime) -> Engine:
    return seeded_sqlite(tmp_path / "incidents.db", now)


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def start(script: list[Reply], timeout: float = 30.0) -> ScriptedServer:
        server = ScriptedServer(script)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        monkeypatch.setenv("OPENAI_API_KEY", "local")
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("INCIDENT_COPILOT_MODEL_TIMEOUT", str(timeout))
        monkeypatch.setenv("INCIDENT_COPILOT_MODEL_MAX_OUTPUT_TOKENS", "321")
        get_settings.cache_clear()
        return server

    yield start
    for server in servers:
        server.release.set()
        server.shutdown()
        server.server_close()
    get_settings.cache_clear()


def _runner(store: Engine, now: datetime, name: str, **overrides: Any) -> AgentRunner:
    # A model name per test: models are built once per name and process.
    model = load_chat_model(f"openai:{name}")
    return AgentRunner(make_context(store, now, chat_model=model, model_attempts=2, **overrides))


def _tool_calls_in(request: dict[str, Any]) -> list[str]:
    return [
        call["function"]["name"]
        for message in request["messages"]
        for call in message.get("tool_calls") or []
    ]


def test_settings_reach_the_request_and_a_real_tool_call_runs(
    store: Engine, now: datetime, serve: Callable[..., ScriptedServer]
) -> None:
    server = serve(
        [
            message(calls=[("get_incident", '{"incident": "incident-3"}')]),
            message("incident-3 was a payments provider outage."),
        ]
    )
    reply = _runner(store, now, "settings").ask("What happened in incident-3?", thread_id="t", user="dana")
    assert reply.tool_calls == [{"name": "get_incident", "args": {"incident": "incident-3"}}]
    assert reply.answer == "incident-3 was a payments provider outage."
    first = server.requests[0]
    assert first["max_completion_tokens"] == 321 or first.get("max_tokens") == 321
    assert {tool["function"]["name"] for tool in first["tools"]} >= {"query_incidents", "declare"}
    assert server.requests[1]["messages"][-1]["role"] == "tool"


def test_tool_arguments_that_are_not_json_get_a_clear_answer_and_the_thread_goes_on(
    store: Engine, now: datetime, serve: Callable[..., ScriptedServer]
) -> None:
    server = serve(
        [
            message(calls=[("get_incident", "{incident: incident-3")]),
            message("Two incidents are ongoing."),
        ]
    )
    runner = _runner(store, now, "malformed")
    reply = runner.ask("What happened in incident-3?", thread_id="t", user="dana")
    assert "get_incident" in reply.answer and "could not read" in reply.answer
    assert reply.tool_calls == [] and reply.tool_results == []
    follow_up = runner.ask("How many are ongoing?", thread_id="t", user="dana")
    assert follow_up.answer == "Two incidents are ongoing."
    # The unreadable call was not sent back as a call waiting for a result (servers reject that).
    assert _tool_calls_in(server.requests[1]) == []


def test_a_tool_that_does_not_exist_is_not_run_and_is_named(
    store: Engine, now: datetime, serve: Callable[..., ScriptedServer]
) -> None:
    server = serve([message(calls=[("search_web", '{"q": "checkout"}')]), message("Checkout is incident-1.")])
    runner = _runner(store, now, "unknown-tool")
    reply = runner.ask("Is checkout broken?", thread_id="t", user="dana")
    assert "search_web" in reply.answer and "does not exist" in reply.answer
    assert reply.tool_results == []
    runner.ask("And now?", thread_id="t", user="dana")
    assert _tool_calls_in(server.requests[1]) == []


def test_unknown_calls_beside_real_ones_are_dropped_and_the_real_ones_run(
    store: Engine, now: datetime, serve: Callable[..., ScriptedServer]
) -> None:
    serve(
        [
            message(calls=[("get_incident", '{"incident": "incident-3"}'), ("fetch_url", "{}")]),
            message("Done."),
        ]
    )
    reply = _runner(store, now, "mixed").ask("What happened in incident-3?", thread_id="t", user="dana")
    assert [result["name"] for result in reply.tool_results] == ["get_incident"]
    assert reply.answer == "Done."


def test_an_empty_reply_is_asked_again_for_text_only(
    store: Engine, now: datetime, serve: Callable[..., ScriptedServer]
) -> None:
    server = serve([message(""), message("Nothing is on fire.")])
    reply = _runner(store, now, "empty").ask("Anything going on?", thread_id="t", user="dana")
    assert reply.answer == "Nothing is on fire."
    assert "tool_choice" not in server.requests[0] or server.requests[0]["tool_choice"] != "none"
    assert server.requests[1]["tool_choice"] == "none"


def test_two_empty_replies_end_with_a_clear_answer(
    store: Engine, now: datetime, serve: Callable[..., ScriptedServer]
) -> None:
    serve([message(None), message("  ")])
    reply = _runner(store, now, "empty-twice").ask("Anything going on?", thread_id="t", user="dana")
    assert reply.answer == EMPTY_ANSWER


def test_html_entities_in_the_answer_are_decoded(
    store: Engine, now: datetime, serve: Callable[..., ScriptedServer]
) -> None:
    serve([message("incident-1 isn&#39;t resolved &amp; checkout&#x27;s still failing")])
    reply = _runner(store, now, "entities").ask("Is incident-1 resolved?", thread_id="t", user="dana")
    assert reply.answer == "incident-1 isn't resolved & checkout's still failing"


def test_a_server_error_is_retried(
    store: Engine, now: datetime, serve: Callable[..., ScriptedServer]
) -> None:
    server = serve([500, message("All quiet.")])
    reply = _runner(store, now, "five-hundred", model_retry_wait_seconds=0.0).ask(
        "Anything going on?", thread_id="t", user="dana"
    )
    assert reply.answer == "All quiet." and len(server.requests) == 2


def test_a_request_that_times_out_is_retried(
    store: Engine, now: datetime, serve: Callable[..., ScriptedServer]
) -> None:
    server: ScriptedServer

    def never_in_time() -> dict[str, Any]:
        # Held until the test ends: the client's timeout, not a sleep, decides.
        server.release.wait(timeout=30)
        return message("too late")

    server = serve([never_in_time, message("All quiet.")], timeout=0.5)
    reply = _runner(store, now, "timeout", model_retry_wait_seconds=0.0).ask(
        "Anything going on?", thread_id="t", user="dana"
    )
    assert reply.answer == "All quiet." and len(server.requests) == 2


def test_a_models_write_call_still_waits_for_a_person(
    store: Engine, now: datetime, serve: Callable[..., ScriptedServer]
) -> None:
    serve(
        [
            message(calls=[("update_severity", '{"incident": "incident-1", "severity": "sev1"}')]),
            message("incident-1 is now SEV-1."),
        ]
    )
    runner = _runner(store, now, "write")
    reply = runner.ask("Update incident-1 to SEV-1", thread_id="t", user="dana")
    assert reply.pending is not None and reply.pending.action == "update_severity"
    with store.connect() as connection:
        assert connection.scalar(select(Incident.severity).where(Incident.id == 1)) == "SEV-2"
    done = runner.resume("t", confirmed=True, user="dana")
    assert done.answer == "incident-1 is now SEV-1."
    with store.connect() as connection:
        assert connection.scalar(select(Incident.severity).where(Incident.id == 1)) == "SEV-1"


def test_a_call_repeated_in_one_reply_runs_once(
    store: Engine, now: datetime, serve: Callable[..., ScriptedServer]
) -> None:
    server = serve(
        [
            message(calls=[("query_incidents", "{}"), ("query_incidents", "{}"), ("query_incidents", "{}")]),
            message("Five incidents."),
        ]
    )
    reply = _runner(store, now, "repeated").ask("How many incidents?", thread_id="t", user="dana")
    assert [result["name"] for result in reply.tool_results] == ["query_incidents"]
    assert _tool_calls_in(server.requests[1]) == ["query_incidents"]


def test_an_unreadable_call_beside_a_readable_one_is_left_out_of_the_history(
    store: Engine, now: datetime, serve: Callable[..., ScriptedServer]
) -> None:
    server = serve(
        [
            message(
                calls=[("get_incident", '{"incident": "incident-3"}'), ("get_incident", '{"incident": ')]
            ),
            message("incident-3 was a payments provider outage."),
        ]
    )
    reply = _runner(store, now, "half-readable").ask(
        "What happened in incident-3?", thread_id="t", user="dana"
    )
    assert [result["name"] for result in reply.tool_results] == ["get_incident"]
    # Only the call that ran goes back to the server: a call without a result is refused by OpenAI.
    assert _tool_calls_in(server.requests[1]) == ["get_incident"]

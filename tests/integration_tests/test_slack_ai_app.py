"""Slack as an AI app: the assistant panel, streamed answers, feedback on answers, since-last-time catch-ups.

As in `test_slack_http`, every request is real signed HTTP to the served app and every assertion is on the
calls that reach the fake Web API, or on the store.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from agent.catchups.models import CatchupMark
from agent.cli import app as cli
from agent.db import session_scope
from agent.feedback.models import Answer, Vote
from agent.incidents import service, timeline
from agent.incidents.enums import EntrySource, Severity
from agent.runner import AgentReply
from agent.slack.blocks import FEEDBACK_ACTION, FULL_SUMMARY_ACTION
from agent.slack.streaming import STREAM_AFTER_CHARS
from evals.fake_slack import (
    TEAM_ID,
    FakeSlack,
    block_actions_payload,
    mention_event,
)
from tests.conftest import NOW, DemoStore
from tests.integration_tests.slack_world import (
    CHLOE,
    GENERAL,
    INC1,
    INC2,
    MARCUS,
    PRIYA,
    SEVERITY_CHANGE,
    ScriptedRunner,
    in_thread,
)
from tests.integration_tests.test_slack_http import Running, demo, press, serving, serving_demo

__all__ = ["demo"]  # the demo-store fixture, shared with test_slack_http

DM = "D0PRIYA"
"""The app's DM with Priya, where her assistant panel threads live."""

LONG_ANSWER = "\n".join(
    f"- incident-{n} (SEV-2, resolved) checkout errors for EU customers after deploy {n}; rolled back."
    for n in range(1, 13)
)
assert len(LONG_ANSWER) > STREAM_AFTER_CHARS


@pytest.fixture
def panel(fake: FakeSlack, store: Engine, tmp_path: Path, runner: ScriptedRunner) -> Iterator[Running]:
    fake.add_dm(DM, PRIYA)
    with serving(fake, store, tmp_path, lambda: runner) as running:
        yield running


def thread_started(thread_ts: str, viewing: str | None) -> dict[str, Any]:
    context = {"channel_id": viewing, "team_id": TEAM_ID, "enterprise_id": None} if viewing else {}
    return {
        "type": "assistant_thread_started",
        "assistant_thread": {"user_id": PRIYA, "context": context, "channel_id": DM, "thread_ts": thread_ts},
        "event_ts": thread_ts,
    }


def context_changed(thread_ts: str, viewing: str) -> dict[str, Any]:
    event = thread_started(thread_ts, viewing)
    return event | {"type": "assistant_thread_context_changed"}


def panel_message(fake: FakeSlack, thread_ts: str, text: str) -> dict[str, Any]:
    message = fake.add_message(DM, PRIYA, text, thread_ts=thread_ts)
    return {
        **message,
        "channel": DM,
        "channel_type": "im",
        "event_ts": message["ts"],
        "team": TEAM_ID,
        "client_msg_id": str(uuid.uuid4()),
    }


# --- the panel ---------------------------------------------------------------------------------------------


def test_a_panel_opened_beside_an_incident_channel_greets_and_suggests_incident_prompts(
    panel: Running, fake: FakeSlack
) -> None:
    thread_ts = fake.next_ts()
    panel.send.event(thread_started(thread_ts, viewing=INC1))

    (prompts,) = fake.wait_for("assistant.threads.setSuggestedPrompts")
    (greeting,) = fake.wait_for("chat.postMessage", in_thread(DM, thread_ts))
    assert (prompts["channel_id"], prompts["thread_ts"]) == (DM, thread_ts)
    messages = [prompt["message"] for prompt in prompts["prompts"]]
    assert messages[:2] == ["Give me a summary of this incident", "Are there any related incidents?"]
    assert "incident-1" in greeting["text"] and "Checkout errors for EU customers" in greeting["text"]


def test_a_panel_opened_elsewhere_suggests_general_prompts(panel: Running, fake: FakeSlack) -> None:
    thread_ts = fake.next_ts()
    panel.send.event(thread_started(thread_ts, viewing=GENERAL))

    (prompts,) = fake.wait_for("assistant.threads.setSuggestedPrompts")
    (greeting,) = fake.wait_for("chat.postMessage", in_thread(DM, thread_ts))
    assert [p["message"] for p in prompts["prompts"]][0] == "How many incidents are currently ongoing?"
    assert "this incident" not in [p["message"] for p in prompts["prompts"]][0]
    assert "incident-1" not in greeting["text"]


def test_after_a_context_change_this_incident_in_the_panel_is_the_viewed_channels_incident(
    panel: Running, fake: FakeSlack, runner: ScriptedRunner
) -> None:
    runner.replies["summary"] = AgentReply(
        answer="incident-1 is being mitigated.",
        tool_calls=[{"name": "summarize_timeline", "args": {}}],
        incidents=["incident-1"],
    )
    thread_ts = fake.next_ts()
    panel.send.event(thread_started(thread_ts, viewing=GENERAL))
    fake.wait_for("chat.postMessage", in_thread(DM, thread_ts))
    panel.send.event(context_changed(thread_ts, viewing=INC1))
    panel.idle()

    question = panel_message(fake, thread_ts, "Give me a summary of this incident")
    panel.send.event(question)
    replies = fake.wait_for("chat.postMessage", in_thread(DM, thread_ts), count=2)

    (asked,) = runner.asked
    assert (asked["channel_id"], asked["channel"]) == (INC1, "incident-1-checkout-errors")
    assert replies[1]["text"] == "incident-1 is being mitigated."
    statuses = [call["status"] for call in fake.calls_to("assistant.threads.setStatus")]
    # First that the question was seen, then what the tool actually being called is doing.
    assert statuses == ["is thinking…", "Reading the timeline…"]
    (title,) = fake.calls_to("assistant.threads.setTitle")
    assert (title["thread_ts"], title["title"]) == (thread_ts, "Give me a summary of this incident")


def test_a_follow_up_in_the_panel_has_the_thread_as_memory_and_keeps_the_title(
    panel: Running, fake: FakeSlack, runner: ScriptedRunner
) -> None:
    thread_ts = fake.next_ts()
    panel.send.event(thread_started(thread_ts, viewing=INC1))
    fake.wait_for("chat.postMessage", in_thread(DM, thread_ts))
    panel.send.event(panel_message(fake, thread_ts, "How many incidents are ongoing?"))
    fake.wait_for("chat.postMessage", in_thread(DM, thread_ts), count=2)
    panel.send.event(panel_message(fake, thread_ts, "and which are SEV-1?"))
    fake.wait_for("chat.postMessage", in_thread(DM, thread_ts), count=3)

    history = runner.asked[1]["history"]
    assert [m.text for m in history if m.type == "human"][-1].endswith("How many incidents are ongoing?")
    assert any(m.type == "ai" and "You asked: How many" in m.text for m in history)
    assert [t["title"] for t in fake.calls_to("assistant.threads.setTitle")] == [
        "How many incidents are ongoing?"
    ]


def test_a_write_asked_in_the_panel_waits_for_an_allowed_confirmation(
    panel: Running, fake: FakeSlack, runner: ScriptedRunner
) -> None:
    runner.replies["sev-1"] = AgentReply(
        answer="", tool_calls=[{"name": "update_severity", "args": {}}], incidents=[], pending=SEVERITY_CHANGE
    )
    thread_ts = fake.next_ts()
    panel.send.event(thread_started(thread_ts, viewing=INC1))
    fake.wait_for("chat.postMessage", in_thread(DM, thread_ts))
    panel.send.event(panel_message(fake, thread_ts, "Update this incident to SEV-1"))
    (_, confirmation) = fake.wait_for("chat.postMessage", in_thread(DM, thread_ts), count=2)
    assert confirmation["text"] == "Confirm: Change the severity of incident-1 from SEV-2 to SEV-1?"
    assert fake.calls_to("chat.startStream") == []
    message = next(m for m in fake.messages[DM] if m["ts"] == fake.messages[DM][-1]["ts"])

    # Chloe is not a member of incident-1's channel: refused, as for a confirmation in the channel.
    fake.wait_for("respond", press(panel, fake, CHLOE, DM, message))
    panel.idle()
    assert runner.resumed == []
    press(panel, fake, PRIYA, DM, message)
    fake.wait_for("chat.update", lambda p: p["text"].startswith(":white_check_mark:"))
    assert [r["confirmed"] for r in runner.resumed] == [True]


# --- streamed answers --------------------------------------------------------------------------------------


def test_a_long_answer_streams_in_sections_and_ends_with_its_feedback_buttons(
    panel: Running, fake: FakeSlack, runner: ScriptedRunner
) -> None:
    runner.replies["list"] = AgentReply(answer=LONG_ANSWER, tool_calls=[], incidents=[])
    thread_ts = fake.next_ts()
    panel.send.event(thread_started(thread_ts, viewing=GENERAL))
    fake.wait_for("chat.postMessage", in_thread(DM, thread_ts))
    panel.send.event(panel_message(fake, thread_ts, "list the checkout incidents"))
    (stop,) = fake.wait_for("chat.stopStream")
    panel.idle()  # a second copy posted after the stream would arrive only now

    stream_calls = [c for c in fake.calls if c.method.startswith("chat.") and "Stream" in c.method]
    methods = [c.method for c in stream_calls]
    assert methods[0] == "chat.startStream" and methods[-1] == "chat.stopStream"
    assert methods.count("chat.appendStream") >= 2 and set(methods[1:-1]) == {"chat.appendStream"}
    start = stream_calls[0].params
    assert (start["channel"], start["thread_ts"]) == (DM, thread_ts)
    assert "".join(c.params.get("markdown_text") or "" for c in stream_calls) == LONG_ANSWER
    (streamed,) = [m for m in fake.messages[DM] if "streaming" in m]
    assert (stop["ts"], streamed["text"], streamed["streaming"]) == (streamed["ts"], LONG_ANSWER, False)
    assert [b["type"] for b in stop["blocks"]] == ["context", "context_actions"]
    # The answer went out once: streamed, with no second copy posted.
    assert len(fake.calls_to("chat.postMessage")) == 1


def test_a_long_answer_to_a_mention_streams_to_its_recipient(
    panel: Running, fake: FakeSlack, runner: ScriptedRunner
) -> None:
    runner.replies["list"] = AgentReply(answer=LONG_ANSWER, tool_calls=[], incidents=[])
    mention = mention_event(INC1, PRIYA, "list the checkout incidents", ts=fake.next_ts())
    panel.send.event(mention)
    fake.wait_for("chat.stopStream")
    (start,) = fake.calls_to("chat.startStream")
    assert (start["recipient_user_id"], start["recipient_team_id"]) == (PRIYA, TEAM_ID)
    assert start["thread_ts"] == mention["ts"]
    assert fake.calls_to("assistant.threads.setStatus") == []  # a channel thread has no status line


def test_when_slack_refuses_the_stream_the_answer_goes_out_as_one_message(
    panel: Running, fake: FakeSlack, runner: ScriptedRunner
) -> None:
    runner.replies["list"] = AgentReply(answer=LONG_ANSWER, tool_calls=[], incidents=[])
    fake.failures["chat.startStream"] = "not_allowed"
    mention = mention_event(INC1, PRIYA, "list the checkout incidents", ts=fake.next_ts())
    panel.send.event(mention)
    (reply,) = fake.wait_for("chat.postMessage", in_thread(INC1, mention["ts"]))
    panel.idle()
    assert reply["text"] == LONG_ANSWER
    assert reply["blocks"][-1]["type"] == "context_actions"
    assert fake.calls_to("chat.appendStream") == [] and fake.calls_to("chat.stopStream") == []


def test_a_stream_failing_midway_is_removed_and_the_answer_posted_whole(
    panel: Running, fake: FakeSlack, runner: ScriptedRunner
) -> None:
    runner.replies["list"] = AgentReply(answer=LONG_ANSWER, tool_calls=[], incidents=[])
    fake.failures["chat.appendStream"] = "message_not_in_streaming_state"
    mention = mention_event(INC1, PRIYA, "list the checkout incidents", ts=fake.next_ts())
    panel.send.event(mention)
    (reply,) = fake.wait_for("chat.postMessage", in_thread(INC1, mention["ts"]))
    panel.idle()
    assert reply["text"] == LONG_ANSWER
    assert len(fake.calls_to("chat.startStream")) == 1 and len(fake.calls_to("chat.stopStream")) == 1
    # The part that streamed is removed: the thread holds the answer once, whole.
    assert [m["text"] for m in fake.messages[INC1] if m.get("thread_ts") == mention["ts"]] == [LONG_ANSWER]


def test_a_stream_whose_stop_fails_is_not_posted_a_second_time(
    panel: Running, fake: FakeSlack, runner: ScriptedRunner
) -> None:
    runner.replies["list"] = AgentReply(answer=LONG_ANSWER, tool_calls=[], incidents=[])
    fake.failures["chat.stopStream"] = "internal_error"
    mention = mention_event(INC1, PRIYA, "list the checkout incidents", ts=fake.next_ts())
    panel.send.event(mention)
    fake.wait_for("chat.stopStream")
    panel.idle()
    streamed = "".join(c.params.get("markdown_text") or "" for c in fake.calls if "Stream" in c.method)
    # Every section was appended: the person has the answer once, only its buttons are missing.
    assert streamed == LONG_ANSWER
    assert fake.calls_to("chat.postMessage") == []


def test_a_short_answer_is_one_message_with_its_cards_and_feedback(
    panel: Running, fake: FakeSlack, runner: ScriptedRunner
) -> None:
    mention = mention_event(INC1, PRIYA, "how many incidents are ongoing?", ts=fake.next_ts())
    panel.send.event(mention)
    (reply,) = fake.wait_for("chat.postMessage", in_thread(INC1, mention["ts"]))
    assert fake.calls_to("chat.startStream") == []
    assert [b["type"] for b in reply["blocks"]] == ["markdown", "context", "context_actions"]


# --- feedback ----------------------------------------------------------------------------------------------


def feedback_press(
    running: Running,
    fake: FakeSlack,
    user_id: str,
    channel_id: str,
    message: dict[str, Any],
    *,
    helpful: bool,
) -> str:
    (block,) = [b for b in message["blocks"] if b["type"] == "context_actions"]
    button = block["elements"][0]["positive_button" if helpful else "negative_button"]
    url = fake.response_url()
    payload = block_actions_payload(
        user_id=user_id,
        channel_id=channel_id,
        message=message,
        action_id=FEEDBACK_ACTION,
        value=button["value"],
        response_url=url,
    )
    payload["actions"][0]["type"] = "feedback_buttons"
    assert running.send.action(payload).status_code == 200
    return urlsplit(url).path


def test_an_answer_about_a_private_incident_is_not_kept_for_feedback(
    panel: Running, fake: FakeSlack, runner: ScriptedRunner, store: Engine
) -> None:
    runner.replies["leak"] = AgentReply(
        answer="incident-2 (SEV-1, active) Leaked key.", tool_calls=[], incidents=["incident-2"]
    )
    mention = mention_event(INC2, PRIYA, "what happened with the leak?", ts=fake.next_ts())
    panel.send.event(mention)
    (reply,) = fake.wait_for("chat.postMessage", in_thread(INC2, mention["ts"]))
    panel.idle()
    # No buttons and nothing stored: what is said in a private incident stays in its channel.
    assert "context_actions" not in [b["type"] for b in reply.get("blocks") or []]
    with session_scope(store) as session:
        assert session.scalars(select(Answer)).all() == []


def test_a_feedback_press_is_stored_changed_on_a_second_press_and_counted(
    panel: Running, fake: FakeSlack, runner: ScriptedRunner, store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner.replies["ongoing"] = AgentReply(
        answer="There are 2 ongoing incidents.",
        tool_calls=[{"name": "query_incidents", "args": {"status": ["active", "stable"]}}],
        incidents=[],
    )
    mention = mention_event(INC1, PRIYA, "how many incidents are ongoing?", ts=fake.next_ts())
    panel.send.event(mention)
    fake.wait_for("chat.postMessage", in_thread(INC1, mention["ts"]))
    message = fake.messages[INC1][-1]

    marcus = feedback_press(panel, fake, MARCUS, INC1, message, helpful=True)
    fake.wait_for("respond", lambda p: p["response_url"] == marcus)
    thanks = feedback_press(panel, fake, PRIYA, INC1, message, helpful=True)
    fake.wait_for("respond", lambda p: p["response_url"] == thanks)
    changed = feedback_press(panel, fake, PRIYA, INC1, message, helpful=False)
    (note,) = fake.wait_for("respond", lambda p: p["response_url"] == changed)
    assert note["text"].startswith("Thanks! Noted as not helpful")

    with session_scope(store) as session:
        (answer,) = session.scalars(select(Answer)).all()
        votes = {v.voter: v.helpful for v in session.scalars(select(Vote))}
        assert (answer.question, answer.intent, answer.model) == (
            "how many incidents are ongoing?",
            "query_incidents",
            "offline",
        )
        assert answer.tool_calls == [{"name": "query_incidents", "args": {"status": ["active", "stable"]}}]
        assert answer.interpretation.startswith("Read as: query incidents")
        columns = set(Answer.__table__.columns.keys())
    assert votes == {MARCUS: True, PRIYA: False}
    assert not {"user", "user_id", "asker", "channel", "channel_id"} & columns  # nothing about who asked

    monkeypatch.setenv("DATABASE_URL", store.url.render_as_string(hide_password=False))
    result = CliRunner().invoke(cli, ["feedback"])
    assert result.exit_code == 0, result.output
    assert "1 of 2 votes helpful (50%)" in result.output
    assert "how many incidents are ongoing?" in result.output


# --- what changed since I last looked ---------------------------------------------------------------------


def join(running: Running, fake: FakeSlack, user_id: str, channel_id: str) -> None:
    running.send.event(
        {
            "type": "member_joined_channel",
            "user": user_id,
            "channel": channel_id,
            "channel_type": "C",
            "team": TEAM_ID,
            "event_ts": fake.next_ts(),
        }
    )


def test_rejoining_shows_only_what_changed_since_the_last_catchup_with_the_summary_a_button_away(
    fake: FakeSlack, store: Engine, tmp_path: Path, runner: ScriptedRunner
) -> None:
    clock = {"now": NOW}
    with serving(fake, store, tmp_path, lambda: runner, clock=lambda: clock["now"]) as slack:
        join(slack, fake, MARCUS, INC1)
        (first,) = fake.wait_for("chat.postEphemeral")
        assert "What changed" not in first["text"]
        slack.idle()
        with session_scope(store) as session:
            assert session.scalars(select(CatchupMark.seen_at)).all() == [NOW]

        # An hour later: two new messages and a severity change; then Marcus rejoins.
        later = NOW + timedelta(hours=1)
        with session_scope(store) as session:
            for minutes, text in ((10, "EU error rate back under 1%"), (20, "Monitoring the rollback")):
                timeline.add_timeline_entry(
                    db_session=session,
                    incident_id=1,
                    at=NOW + timedelta(minutes=minutes),
                    author="Priya Raman",
                    text=text,
                    source=EntrySource.slack,
                )
            service.update_severity(
                db_session=session,
                incident_id=1,
                severity=Severity.sev3,
                now=NOW + timedelta(minutes=30),
                actor="Priya Raman",
                source=EntrySource.slack,
            )
        clock["now"] = later
        join(slack, fake, MARCUS, INC1)
        (_, since) = fake.wait_for("chat.postEphemeral", count=2)
        shown = json.dumps(since["blocks"])
        assert "EU error rate back under 1%" in shown and "Monitoring the rollback" in shown
        assert "SEV-2" in shown and "SEV-3" in shown
        assert "rolled back deploy" not in shown  # the entries from before the last catch-up are not repeated
        (button,) = [b for b in since["blocks"] if b["type"] == "actions"][0]["elements"]
        assert button["action_id"] == FULL_SUMMARY_ACTION

        url = fake.response_url()
        payload = block_actions_payload(
            user_id=MARCUS,
            channel_id=INC1,
            message={"ts": fake.next_ts(), "type": "message", "text": since["text"]},
            action_id=FULL_SUMMARY_ACTION,
            value=button["value"],
            response_url=url,
        )
        slack.send.action(payload)
        (full,) = fake.wait_for("respond", lambda p: p["response_url"] == urlsplit(url).path)
        assert full["text"] == "Catch-up on incident-1"
        slack.idle()
        with session_scope(store) as session:
            assert session.scalars(select(CatchupMark.seen_at)).all() == [later]


# --- end to end: the real agent (offline model) in a worker process -------------------------------------


def test_end_to_end_the_panel_answers_about_the_viewed_incident_with_the_real_tools_status_and_feedback(
    fake: FakeSlack, demo: DemoStore, tmp_path: Path
) -> None:
    with session_scope(demo.engine) as session:
        incident = service.get_or_raise(db_session=session, incident_id=123)
        channel_id, channel_name, title = (
            incident.slack_channel_id,
            incident.slack_channel_name,
            incident.title,
        )
    assert channel_id and channel_name
    fake.add_channel(channel_id, channel_name, members=[PRIYA])
    fake.add_dm(DM, PRIYA)

    with serving_demo(fake, demo, tmp_path, agent_processes=1) as slack:
        thread_ts = fake.next_ts()
        slack.send.event(thread_started(thread_ts, viewing=channel_id))
        (greeting,) = fake.wait_for("chat.postMessage", in_thread(DM, thread_ts), timeout=60)
        slack.send.event(panel_message(fake, thread_ts, "Give me a summary of this incident"))
        (_, answer) = fake.wait_for("chat.postMessage", in_thread(DM, thread_ts), count=2, timeout=120)
        slack.idle()

    assert title in greeting["text"]
    statuses = [call["status"] for call in fake.calls_to("assistant.threads.setStatus")]
    # Relayed from the worker process as the agent called its tool.
    assert statuses == ["is thinking…", "Reading the timeline…"]
    # This summary lists incidents, which are shown as cards: posted whole, with its feedback buttons.
    assert "incident-123" in answer["text"] and fake.calls_to("chat.startStream") == []
    assert answer["blocks"][-1]["type"] == "context_actions"
    with session_scope(demo.engine) as session:
        assert catchups_seen(session) == [(PRIYA, 123)]


def catchups_seen(session: Any) -> list[tuple[str, int]]:
    return [(m.user_id, m.incident_id) for m in session.scalars(select(CatchupMark))]

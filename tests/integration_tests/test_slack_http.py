"""The Slack app through its real HTTP endpoint (uvicorn), against a local fake Slack Web API.

Requests are signed as Slack signs them and shaped as Slack documents them; assertions are on the calls
that reach the fake Web API and on the store. Agent work happens after the ack, so tests wait for the
expected call (a bounded wait on a condition) or for the app to go idle, never on a sleep.

The HTTP mechanics run with a scripted runner double; the end-to-end tests at the bottom use the real
`AgentRunner` with the offline model on the demo store.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from slack_bolt import App
from slack_sdk import WebClient
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from agent.cli import app as cli
from agent.db import session_scope
from agent.incidents import audit as incident_audit
from agent.incidents import service, timeline
from agent.incidents.enums import ONGOING_STATUSES, EntrySource, Severity
from agent.incidents.exceptions import IncidentNotFound
from agent.incidents.models import ProcessedEvent, TimelineEntry
from agent.incidents.timeline import SlackMessage
from agent.outbox import service as outbox
from agent.outbox.models import OutboxMessage
from agent.postmortems import service as postmortems
from agent.runner import AgentReply
from agent.settings import get_settings
from agent.slack.app import build_app, runtime_for
from agent.slack.blocks import CONFIRM_ACTION, HELP_TEXT
from agent.slack.catchup import CatchupCache, catchup_summary
from agent.slack.dedupe import EventDeduper
from agent.slack.ingest import TimelineChange, TimelineIngest
from agent.slack.runtime import SlackRuntime
from agent.slack.server import EVENTS_PATH, serve_in_background
from agent.slack.store import StoreWriter
from agent.slack.turns import GENERIC_ERROR
from evals.fake_slack import (
    BOT_ID,
    BOT_USER_ID,
    TEAM_URL,
    FakeSlack,
    SlackSender,
    block_actions_payload,
    command_fields,
    event_callback,
    mention_event,
    message_event,
)
from tests.conftest import NOW, DemoStore, fresh_postgres
from tests.integration_tests.scripted_model import ScriptedServer
from tests.integration_tests.scripted_model import message as model_message
from tests.integration_tests.slack_world import (
    CHLOE,
    GENERAL,
    INC1,
    INC2,
    INC3,
    MARCUS,
    PRIYA,
    SAM,
    SECRET,
    SEVERITY_CHANGE,
    ScriptedRunner,
    in_thread,
    slack_settings,
)


@dataclass
class Running:
    """An app served over HTTP, with its runtime and a signed sender."""

    app: App
    runtime: SlackRuntime
    send: SlackSender

    def idle(self) -> None:
        """Waits until every listener and agent task finished (bounded)."""
        assert self.runtime.wait_idle(30), "the app did not go idle within 30 s"


@contextmanager
def serving(
    fake: FakeSlack,
    store: Engine,
    tmp_path: Path,
    runner_factory: Callable[[], Any] | None,
    *,
    clock: Callable[[], datetime] = lambda: NOW,
    agent_processes: int = 0,
    web_client: WebClient | None = None,
    **overrides: str,
) -> Iterator[Running]:
    """Builds the app on the fake Web API and serves it on a free port for the block."""
    app = build_app(
        settings=slack_settings(tmp_path, fake.api_url, **overrides),
        engine=store,
        runner_factory=runner_factory,
        web_client=web_client,
        now=clock,
        agent_processes=agent_processes,
    )
    runtime = runtime_for(app)
    with serve_in_background(app) as base_url:
        sender = SlackSender(base_url, SECRET)
        try:
            yield Running(app, runtime, sender)
        finally:
            sender.close()
            runtime.close()


@pytest.fixture
def slack(fake: FakeSlack, store: Engine, tmp_path: Path, runner: ScriptedRunner) -> Iterator[Running]:
    with serving(fake, store, tmp_path, lambda: runner) as running:
        yield running


def timeline_messages(store: Engine, incident_id: int) -> list[TimelineEntry]:
    with session_scope(store) as session:
        rows = session.scalars(
            select(TimelineEntry)
            .where(TimelineEntry.incident_id == incident_id, TimelineEntry.slack_ts.is_not(None))
            .order_by(TimelineEntry.slack_ts)
        )
        return list(rows)


# --- transport -------------------------------------------------------------------------------------------


def test_url_verification_echoes_the_challenge(slack: Running) -> None:
    response = slack.send.post(
        '{"token": "t", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"}',
        "application/json",
    )
    assert response.status_code == 200
    assert response.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


def test_forged_and_stale_requests_are_refused_before_any_work(
    slack: Running, fake: FakeSlack, runner: ScriptedRunner, store: Engine
) -> None:
    body = json.dumps(event_callback(mention_event(INC1, PRIYA, "how many incidents?", ts=fake.next_ts())))
    forged = slack.send.signed_headers(body, secret="not-the-signing-secret")
    stale = slack.send.signed_headers(body, timestamp=int(time.time()) - 600)
    tampered = slack.send.signed_headers(body.replace("how many", "delete all"))
    garbled = {"X-Slack-Request-Timestamp": "yesterday", "X-Slack-Signature": forged["X-Slack-Signature"]}
    for headers in (forged, stale, tampered, garbled, {}):
        assert (
            slack.send.post(
                body, "application/json", headers=headers or {"X-Slack-Signature": ""}
            ).status_code
            == 401
        )
    slack.idle()
    assert fake.calls == []
    assert runner.asked == []
    with session_scope(store) as session:
        assert session.scalars(select(ProcessedEvent)).all() == []


# --- mentions ----------------------------------------------------------------------------------------------


def test_a_top_level_mention_is_answered_in_its_thread_with_the_channel_as_memory(
    slack: Running, fake: FakeSlack, runner: ScriptedRunner
) -> None:
    fake.add_message(INC1, MARCUS, "EU checkout is failing since the 11:40 deploy")
    fake.add_message(INC1, BOT_USER_ID, "I am here")["bot_id"] = BOT_ID
    fake.add_message(INC1, PRIYA, "rolling back <@U0MARCUS>'s deploy now")
    mention = mention_event(INC1, PRIYA, "how many incidents are ongoing?", ts=fake.next_ts())

    response = slack.send.event(mention)

    assert response.status_code == 200
    (reply,) = fake.wait_for("chat.postMessage", in_thread(INC1, mention["ts"]))
    assert reply["text"] == "You asked: how many incidents are ongoing?"
    assert reply["blocks"][0] == {"type": "markdown", "text": reply["text"]}
    fake.wait_for("reactions.remove")
    for method in ("reactions.add", "reactions.remove"):
        ((call),) = fake.calls_to(method)
        assert (call["channel"], call["timestamp"], call["name"]) == (INC1, mention["ts"], "eyes")
    (asked,) = runner.asked
    assert asked["question"] == "how many incidents are ongoing?"
    assert (asked["channel"], asked["channel_id"], asked["user"], asked["now"]) == (
        "incident-1-checkout-errors",
        INC1,
        "Priya Raman",
        NOW,
    )
    history: list[BaseMessage] = asked["history"]
    assert [(type(m), m.content) for m in history] == [
        (HumanMessage, "Marcus Chen: EU checkout is failing since the 11:40 deploy"),
        (AIMessage, "I am here"),
        (HumanMessage, "Priya Raman: rolling back @Marcus Chen's deploy now"),
    ]
    assert asked["thread_id"] == f"slack:{INC1}:{mention['ts']}:{mention['ts']}"


def test_a_mention_in_a_thread_replies_there_and_remembers_the_thread(
    slack: Running, fake: FakeSlack, runner: ScriptedRunner
) -> None:
    parent = fake.add_message(GENERAL, MARCUS, "<@U0COPILOT> what is incident-3 about?")
    fake.add_message(GENERAL, SAM, "unrelated top-level chatter")
    slack.send.event(mention_event(GENERAL, MARCUS, "what is incident-3 about?", ts=parent["ts"]))
    fake.wait_for("chat.postMessage", in_thread(GENERAL, parent["ts"]))
    follow_up = mention_event(GENERAL, SAM, "and its root cause?", ts=fake.next_ts(), thread_ts=parent["ts"])
    fake.add_message(GENERAL, SAM, follow_up["text"], ts=follow_up["ts"], thread_ts=parent["ts"])

    slack.send.event(follow_up)

    replies = fake.wait_for("chat.postMessage", in_thread(GENERAL, parent["ts"]), count=2)
    assert replies[1]["text"] == "You asked: and its root cause?"
    history = runner.asked[1]["history"]
    assert [(type(m), m.content) for m in history] == [
        (HumanMessage, "Marcus Chen: what is incident-3 about?"),
        (AIMessage, "You asked: what is incident-3 about?"),
    ]
    assert runner.asked[1]["channel"] == "general"


def test_a_redelivered_mention_gets_no_second_reply_even_after_a_restart(
    slack: Running, fake: FakeSlack, runner: ScriptedRunner, store: Engine, tmp_path: Path
) -> None:
    mention = mention_event(INC1, PRIYA, "status?", ts=fake.next_ts())
    assert slack.send.event(mention, event_id="Ev0REDELIVER").status_code == 200
    fake.wait_for("chat.postMessage", in_thread(INC1, mention["ts"]))
    assert slack.send.event(mention, event_id="Ev0REDELIVER", retry_num=1).status_code == 200
    slack.idle()
    with serving(fake, store, tmp_path, lambda: runner) as restarted:
        assert restarted.send.event(mention, event_id="Ev0REDELIVER", retry_num=2).status_code == 200
        restarted.idle()
    assert len(fake.calls_to("chat.postMessage")) == 1
    assert len(runner.asked) == 1


def test_a_failure_is_one_short_sentence_in_the_thread(
    slack: Running, fake: FakeSlack, runner: ScriptedRunner
) -> None:
    runner.error = RuntimeError("database exploded\nTraceback (most recent call last): ...")
    first = mention_event(INC1, PRIYA, "status?", ts=fake.next_ts())
    slack.send.event(first)
    (message,) = fake.wait_for("chat.postMessage", in_thread(INC1, first["ts"]))
    assert message["text"] == f":warning: {GENERIC_ERROR}"

    runner.error = IncidentNotFound("There is no incident-99.")
    second = mention_event(INC1, PRIYA, "what about incident-99?", ts=fake.next_ts())
    slack.send.event(second)
    (message,) = fake.wait_for("chat.postMessage", in_thread(INC1, second["ts"]))
    assert message["text"] == ":warning: There is no incident-99."


def test_a_model_outage_is_answered_in_one_sentence_and_asking_again_in_the_thread_works(
    fake: FakeSlack, store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real model path: a local OpenAI-compatible server failing every attempt of the first question
    # (3 tries), then answering.
    model = ScriptedServer([500, 503, 500, model_message("Nothing is open on checkout.")])
    threading.Thread(target=model.serve_forever, daemon=True).start()
    monkeypatch.setenv("OPENAI_API_KEY", "local")
    monkeypatch.setenv("OPENAI_BASE_URL", model.base_url)
    get_settings.cache_clear()
    try:
        with serving(fake, store, tmp_path, None, INCIDENT_COPILOT_MODEL="openai:slack-outage") as slack:
            first = fake.add_message(GENERAL, SAM, "<@U0COPILOT> anything open on checkout?")
            slack.send.event(mention_event(GENERAL, SAM, "anything open on checkout?", ts=first["ts"]))
            (failed,) = fake.wait_for("chat.postMessage", in_thread(GENERAL, first["ts"]), timeout=60)
            again = mention_event(GENERAL, SAM, "and now?", ts=fake.next_ts(), thread_ts=first["ts"])
            slack.send.event(again)
            replies = fake.wait_for("chat.postMessage", in_thread(GENERAL, first["ts"]), count=2, timeout=60)
    finally:
        model.shutdown()
        model.server_close()
    assert "model is unavailable right now" in failed["text"] and "try again" in failed["text"]
    assert "Nothing is open on checkout." in replies[1]["text"]
    assert len(model.requests) == 4
    # The thread kept the question asked during the outage: the answering request carries it.
    asked = [m.get("content") for m in model.requests[-1]["messages"] if m.get("role") == "user"]
    assert any("anything open on checkout?" in str(content) for content in asked)


@pytest.mark.slow
def test_rate_limits_and_server_errors_are_retried_until_the_reply_goes_out(
    slack: Running, fake: FakeSlack, store: Engine
) -> None:
    fake.http_faults["chat.postMessage"] = [429, 429, 429, 500]
    mention = mention_event(INC1, PRIYA, "status?", ts=fake.next_ts())

    slack.send.event(mention)

    (reply,) = fake.wait_for("chat.postMessage", in_thread(INC1, mention["ts"]), timeout=60)
    assert reply["text"] == "You asked: status?"
    slack.idle()
    attempts = [call.method for call in fake.calls if call.method.startswith("chat.postMessage")]
    assert attempts == [
        "chat.postMessage!429",
        "chat.postMessage!429",
        "chat.postMessage!429",
        "chat.postMessage!500",
        "chat.postMessage",
    ]
    with session_scope(store) as session:
        assert session.scalars(select(OutboxMessage)).all() == []


def test_a_reply_slack_will_not_take_is_kept_and_delivered_later_exactly_once(
    fake: FakeSlack,
    store: Engine,
    tmp_path: Path,
    runner: ScriptedRunner,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # No client retries here, so that the first refusal goes straight to the outbox.
    client = WebClient(token="xoxb-test-token", base_url=fake.api_url, retry_handlers=[])
    mention = mention_event(INC1, PRIYA, "status?", ts=fake.next_ts())
    fake.http_faults["chat.postMessage"] = [503]
    with serving(fake, store, tmp_path, lambda: runner, web_client=client) as slack:
        slack.send.event(mention, event_id="Ev0OUTAGE")
        slack.idle()
        fake.http_faults["chat.postMessage"] = [503]
        # Not due yet, then due but Slack still refuses: kept, with a later next attempt.
        assert slack.runtime.delivery.flush(now=NOW).delivered == 0
        assert slack.runtime.delivery.flush(now=NOW + timedelta(minutes=1)).failed == 1
    assert fake.calls_to("chat.postMessage") == []
    assert any(
        "Ev0OUTAGE" in record.getMessage() and "kept in the outbox" in record.getMessage()
        for record in caplog.records
    )
    with session_scope(store) as session:
        (kept,) = outbox.pending(db_session=session, channel="slack")
        assert (kept.attempts, kept.last_error) == (2, "HTTP 503 service_unavailable")
        assert kept.key == f"slack:{INC1}:{mention['ts']}:{mention['ts']}:answer"

    # After a restart (or on another replica), the sender delivers it once Slack takes it again.
    with serving(fake, store, tmp_path, lambda: runner, web_client=client) as restarted:
        later = NOW + timedelta(minutes=5)
        assert restarted.runtime.delivery.flush(now=later).delivered == 1
        assert restarted.runtime.delivery.flush(now=later + timedelta(hours=1)).delivered == 0
    (reply,) = fake.calls_to("chat.postMessage")
    assert (reply["channel"], reply["thread_ts"], reply["text"]) == (
        INC1,
        mention["ts"],
        "You asked: status?",
    )
    assert len(runner.asked) == 1
    with session_scope(store) as session:
        assert outbox.counts(db_session=session, channel="slack") == {
            "pending": 0,
            "delivered": 1,
            "given_up": 0,
        }


def test_a_malformed_event_is_logged_and_the_app_keeps_answering(
    slack: Running, fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    broken = mention_event(INC1, PRIYA, "status?", ts=fake.next_ts())
    del broken["channel"]
    assert slack.send.event(broken).status_code == 200
    garbage = "{not json"
    assert slack.send.post(garbage, "application/json").status_code == 400
    slack.idle()
    assert any(
        r.message.startswith("Slack listener failed on app_mention") and r.exc_info for r in caplog.records
    )
    assert fake.calls_to("chat.postMessage") == []

    good = mention_event(INC1, PRIYA, "status?", ts=fake.next_ts())
    slack.send.event(good)
    (reply,) = fake.wait_for("chat.postMessage", in_thread(INC1, good["ts"]))
    assert "Traceback" not in reply["text"]


def test_answers_list_their_incidents_with_severity_status_and_channel_links(
    slack: Running, fake: FakeSlack, runner: ScriptedRunner
) -> None:
    runner.replies["ongoing"] = AgentReply(
        answer="2 incidents are ongoing:\n- incident-1 (SEV-2, active) Checkout\n- incident-3 (SEV-2, active) Search",
        tool_calls=[{"name": "query_incidents", "args": {"status": ["ongoing"]}}],
        incidents=["incident-1", "incident-3"],
    )
    mention = mention_event(GENERAL, SAM, "which incidents are ongoing?", ts=fake.next_ts())
    slack.send.event(mention)
    (reply,) = fake.wait_for("chat.postMessage", in_thread(GENERAL, mention["ts"]))
    assert reply["blocks"][0] == {"type": "markdown", "text": "2 incidents are ongoing:"}
    sections = [b["text"]["text"] for b in reply["blocks"] if b["type"] == "section"]
    assert len(sections) == 2
    assert sections[0].startswith(
        f":large_orange_circle: *<{TEAM_URL}archives/{INC1}|incident-1>* Checkout errors"
    )
    assert "SEV-2 · active · checkout · declared 4h ago" in sections[0]
    assert sections[1].startswith(":large_orange_circle: *incident-3* Search is slow")


# --- joins -------------------------------------------------------------------------------------------------


def test_joining_a_busy_incident_channel_sends_only_the_joiner_a_catchup(
    slack: Running, fake: FakeSlack, store: Engine
) -> None:
    fake.channels[INC1]["members"].append(CHLOE)
    response = slack.send.event(
        {
            "type": "member_joined_channel",
            "user": CHLOE,
            "channel": INC1,
            "channel_type": "C",
            "team": "T0ACME",
            "event_ts": fake.next_ts(),
        }
    )
    assert response.status_code == 200
    (ephemeral,) = fake.wait_for("chat.postEphemeral")
    assert (ephemeral["channel"], ephemeral["user"]) == (INC1, CHLOE)
    catchup = "\n\n".join(b["text"]["text"] for b in ephemeral["blocks"] if b["type"] == "section")
    assert catchup == catchup_summary(engine=store, incident_id=1, now=NOW)
    assert "incident-1" in catchup and "Checkout errors for EU customers" in catchup
    slack.idle()
    assert fake.calls_to("chat.postMessage") == []


def test_joins_that_get_no_catchup(slack: Running, fake: FakeSlack) -> None:
    for channel in (INC2, INC3, GENERAL):  # private incident, 3 messages, no incident
        fake.channels[channel]["members"].append(CHLOE)
        slack.send.event(
            {"type": "member_joined_channel", "user": CHLOE, "channel": channel, "event_ts": fake.next_ts()}
        )
    slack.send.event(
        {"type": "member_joined_channel", "user": BOT_USER_ID, "channel": INC1, "event_ts": fake.next_ts()}
    )
    slack.idle()
    assert fake.calls_to("chat.postEphemeral") == []


def test_ten_simultaneous_joins_cost_one_summary(slack: Running, fake: FakeSlack, store: Engine) -> None:
    computed: list[int] = []

    def counting(incident_id: int, moment: datetime) -> str | None:
        computed.append(incident_id)
        return catchup_summary(engine=store, incident_id=incident_id, now=moment)

    slack.runtime.catchup = CatchupCache(compute=counting, now=lambda: NOW)
    joiners = [f"U0JOIN{i}" for i in range(10)]
    for user in joiners:
        fake.add_user(user, f"Joiner {user}")
        fake.channels[INC1]["members"].append(user)
    threads = [
        threading.Thread(
            target=slack.send.event,
            args=(
                {"type": "member_joined_channel", "user": user, "channel": INC1, "event_ts": fake.next_ts()},
            ),
        )
        for user in joiners
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    sent = fake.wait_for("chat.postEphemeral", count=10)
    assert sorted(params["user"] for params in sent) == sorted(joiners)
    assert computed == [1]


# --- timeline ----------------------------------------------------------------------------------------------


def test_channel_messages_go_into_the_timeline_and_follow_edits_and_deletions(
    slack: Running, fake: FakeSlack, store: Engine
) -> None:
    person = fake.add_message(INC1, PRIYA, "rolled back <@U0MARCUS>'s deploy")
    reply = fake.add_message(INC1, MARCUS, "error rate back to 0.1%", thread_ts=person["ts"])
    integration = {
        "type": "message",
        "subtype": "bot_message",
        "bot_id": "B0PAGER",
        "text": "Alert",
        "ts": fake.next_ts(),
    }
    own = {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "text": "answer", "ts": fake.next_ts()}
    elsewhere = fake.add_message(GENERAL, PRIYA, "lunch?")
    for message, channel in (
        (person, INC1),
        (reply, INC1),
        (integration, INC1),
        (own, INC1),
        (elsewhere, GENERAL),
    ):
        assert slack.send.event(message_event(message, channel)).status_code == 200
    # The same message delivered again under a new event id (Slack's retry of a lost ack can do that).
    slack.send.event(message_event(person, INC1))
    slack.idle()

    rows = timeline_messages(store, 1)
    assert [(r.author, r.text, r.source, r.at) for r in rows] == [
        (
            "Priya Raman",
            "rolled back @Marcus Chen's deploy",
            "slack",
            datetime.fromtimestamp(float(person["ts"]), NOW.tzinfo),
        ),
        (
            "Marcus Chen",
            "error rate back to 0.1%",
            "slack",
            datetime.fromtimestamp(float(reply["ts"]), NOW.tzinfo),
        ),
    ]
    assert rows[0].permalink == f"{TEAM_URL}archives/{INC1}/p{person['ts'].replace('.', '')}"
    assert rows[1].permalink.endswith(f"?thread_ts={person['ts']}&cid={INC1}")
    assert timeline_messages(store, 3) == []

    edit_ts = fake.next_ts()
    slack.send.event(
        {
            "type": "message",
            "subtype": "message_changed",
            "hidden": True,
            "channel": INC1,
            "ts": edit_ts,
            "event_ts": edit_ts,
            "message": {
                **person,
                "text": "rolled back the 11:40 deploy",
                "edited": {"user": PRIYA, "ts": edit_ts},
            },
            "previous_message": person,
        }
    )
    delete_ts = fake.next_ts()
    slack.send.event(
        {
            "type": "message",
            "subtype": "message_deleted",
            "hidden": True,
            "channel": INC1,
            "ts": delete_ts,
            "event_ts": delete_ts,
            "deleted_ts": reply["ts"],
            "previous_message": reply,
        }
    )
    slack.idle()
    edited, deleted = timeline_messages(store, 1)
    assert (edited.text, edited.edited_at) == (
        "rolled back the 11:40 deploy",
        datetime.fromtimestamp(float(edit_ts), NOW.tzinfo),
    )
    assert deleted.deleted_at == datetime.fromtimestamp(float(delete_ts), NOW.tzinfo)
    with session_scope(store) as session:
        live = timeline.get_timeline(db_session=session, incident_id=1)
        assert [e.text for e in live if e.slack_ts] == ["rolled back the 11:40 deploy"]


def test_batched_ingestion_stores_each_message_once_on_every_backend(engine: Engine) -> None:
    with session_scope(engine) as session:
        incident = service.declare(
            db_session=session,
            title="Checkout down",
            severity=Severity.sev1,
            now=NOW,
            actor="Priya Raman",
            source="cli",
        ).id
    writer = StoreWriter(engine)
    ingest = TimelineIngest(writer=writer, deduper=EventDeduper(writer=writer, now=lambda: NOW), max_batch=7)
    stamps = [f"{NOW.timestamp() + i:.6f}" for i in range(20)]
    messages = [
        SlackMessage(
            incident_id=incident,
            at=NOW + timedelta(seconds=i),
            author="Priya Raman",
            text=f"update {i}",
            slack_channel_id="C0BATCH",
            slack_ts=ts,
        )
        for i, ts in enumerate(stamps)
    ]
    for i, message in enumerate(messages):
        ingest.put(TimelineChange(f"Ev{i}", "add", "C0BATCH", message.slack_ts, message=message))
        if i % 4 == 0:  # a redelivery, and the same message under a new event id
            ingest.put(TimelineChange(f"Ev{i}", "add", "C0BATCH", message.slack_ts, message=message))
            ingest.put(TimelineChange(f"Ev{i}b", "add", "C0BATCH", message.slack_ts, message=message))
    later = NOW + timedelta(minutes=5)
    ingest.put(TimelineChange("EvEdit", "edit", "C0BATCH", stamps[0], text="update 0, edited", at=later))
    ingest.put(TimelineChange("EvEdit", "edit", "C0BATCH", stamps[0], text="a replayed edit", at=later))
    ingest.put(TimelineChange("EvDelete", "delete", "C0BATCH", stamps[1], at=later))
    ingest.put(TimelineChange("EvPin", "pin", "C0BATCH", stamps[2]))
    assert ingest.wait_idle(30)
    ingest.close()

    with session_scope(engine) as session:
        rows = timeline.get_timeline(db_session=session, incident_id=incident, include_deleted=True)
        slack_rows = {row.slack_ts: row for row in rows if row.slack_ts}
        assert sorted(slack_rows) == stamps
        assert slack_rows[stamps[0]].text == "update 0, edited"
        assert slack_rows[stamps[1]].deleted_at == later
        assert [ts for ts, row in slack_rows.items() if row.pinned] == [stamps[2]]
        claimed = set(session.scalars(select(ProcessedEvent.event_id)))
    assert claimed == {f"Ev{i}" for i in range(20)} | {f"Ev{i}b" for i in range(0, 20, 4)} | {
        "EvEdit",
        "EvDelete",
        "EvPin",
    }
    # A restarted app forgets what it saw in memory; the store still refuses the redelivery.
    assert EventDeduper(writer=writer, now=lambda: NOW).claim_many(["Ev3", "EvNew"]) == {"EvNew"}


def test_in_pinned_mode_only_pinned_messages_go_into_the_timeline(
    fake: FakeSlack, store: Engine, tmp_path: Path, runner: ScriptedRunner
) -> None:
    with serving(fake, store, tmp_path, lambda: runner, INCIDENT_COPILOT_TIMELINE_SYNC="pinned") as slack:
        chatter = fake.add_message(INC1, MARCUS, "anyone seen the dashboard?")
        decision = fake.add_message(INC1, PRIYA, "Decision: fail over to eu-west-2")
        for message in (chatter, decision):
            slack.send.event(message_event(message, INC1))
        slack.idle()
        assert timeline_messages(store, 1) == []
        pin = {
            "type": "pin_added",
            "user": PRIYA,
            "channel_id": INC1,
            "event_ts": fake.next_ts(),
            "item": {
                "type": "message",
                "channel": INC1,
                "message": decision,
                "created": 1,
                "created_by": PRIYA,
            },
        }
        slack.send.event(pin)
        slack.idle()
        (row,) = timeline_messages(store, 1)
        assert (row.text, row.author, row.pinned) == ("Decision: fail over to eu-west-2", "Priya Raman", True)


# --- confirmations -----------------------------------------------------------------------------------------


def confirmation_message(fake: FakeSlack, channel: str) -> dict[str, Any]:
    """Returns the posted message that carries Confirm / Cancel buttons."""
    fake.wait_for("chat.postMessage", lambda p: any(b["type"] == "actions" for b in p.get("blocks") or []))
    return next(
        m for m in fake.messages[channel] if any(b["type"] == "actions" for b in m.get("blocks") or [])
    )


def press(
    slack: Running,
    fake: FakeSlack,
    user: str,
    channel: str,
    message: dict[str, Any],
    action: str = CONFIRM_ACTION,
) -> Callable[[dict[str, Any]], bool]:
    """Presses a button of a message as `user`; returns a filter for what the app says back to them."""
    buttons = next(b for b in message["blocks"] if b["type"] == "actions")["elements"]
    value = buttons[0 if action == CONFIRM_ACTION else 1]["value"]
    url = fake.response_url()
    payload = block_actions_payload(
        user_id=user, channel_id=channel, message=message, action_id=action, value=value, response_url=url
    )
    assert slack.send.action(payload).status_code == 200
    return lambda params: params["response_url"] == urlsplit(url).path


def test_only_an_allowed_person_can_confirm_and_only_once(
    slack: Running, fake: FakeSlack, runner: ScriptedRunner
) -> None:
    runner.replies["sev-1"] = AgentReply(
        answer=SEVERITY_CHANGE.summary, tool_calls=[], incidents=[], pending=SEVERITY_CHANGE
    )
    mention = mention_event(INC1, PRIYA, "Update this incident to SEV-1", ts=fake.next_ts())
    slack.send.event(mention)
    posted = confirmation_message(fake, INC1)
    message = copy.deepcopy(posted)  # as people's Slack clients show it until the app updates it
    assert message["thread_ts"] == mention["ts"]
    assert message["text"] == "Confirm: Change the severity of incident-1 from SEV-2 to SEV-1?"

    to_sam = press(slack, fake, SAM, INC1, message)  # not in the channel, not a responder
    (refusal,) = fake.wait_for("respond", to_sam)
    assert refusal["text"].startswith("Only the members of this channel and the incident's responders can")
    assert (refusal["response_type"], refusal["replace_original"]) == ("ephemeral", False)
    slack.idle()
    assert runner.resumed == [] and fake.calls_to("chat.update") == []

    press(slack, fake, MARCUS, INC1, message)
    updates = fake.wait_for("chat.update", lambda p: "applied" in p.get("text", ""))
    assert updates[-1]["ts"] == message["ts"]
    assert updates[-1]["text"].startswith(":white_check_mark: Confirmed by *Marcus Chen*.")
    assert runner.resumed == [
        {
            "thread_id": f"slack:{INC1}:{mention['ts']}:{mention['ts']}",
            "confirmed": True,
            "user": "Marcus Chen",
            "now": NOW,
        }
    ]
    assert all(b["type"] != "actions" for b in posted["blocks"])

    to_priya = press(slack, fake, PRIYA, INC1, message)
    (again,) = fake.wait_for("respond", to_priya)
    assert again["text"] == "This change was already answered."
    slack.idle()
    assert len(runner.resumed) == 1


# --- /incident ---------------------------------------------------------------------------------------------


def test_incident_command_help_and_argument_errors(
    slack: Running, fake: FakeSlack, runner: ScriptedRunner
) -> None:
    fields = command_fields(
        user_id=PRIYA,
        channel_id=INC1,
        channel_name="incident-1-checkout-errors",
        text="help",
        response_url=fake.response_url(),
    )
    response = slack.send.command(fields)
    assert response.status_code == 200 and response.json()["text"] == HELP_TEXT

    response = slack.send.command(fields | {"text": "severity banana"})
    assert response.json() == {
        "text": ":warning: 'banana' is not a severity; use SEV-1 (worst) to SEV-5, or unknown.",
        "response_type": "ephemeral",
    }
    # Time frames are checked after the ack (the date parser is slow to load), and answered privately.
    response = slack.send.command(fields | {"text": "related banana o'clock"})
    assert response.json()["text"] == "Working on `/incident related banana o'clock`…"
    (error,) = fake.wait_for("respond")
    assert error["text"].startswith(":warning: 'banana o'clock' is not a time frame I understand")
    slack.idle()
    assert runner.asked == []


def test_incident_command_puts_the_question_to_the_agent_and_answers_privately(
    slack: Running, fake: FakeSlack, runner: ScriptedRunner
) -> None:
    url = fake.response_url()
    fields = command_fields(
        user_id=PRIYA,
        channel_id=INC1,
        channel_name="incident-1-checkout-errors",
        text="summary",
        response_url=url,
    )
    assert slack.send.command(fields).json()["text"] == "Working on `/incident summary`…"
    (answer,) = fake.wait_for("respond")
    assert answer["response_url"] == urlsplit(url).path
    assert (answer["text"], answer["response_type"]) == (
        "You asked: Give me a summary of this incident",
        "ephemeral",
    )

    runner.replies["sev-1"] = AgentReply(
        answer=SEVERITY_CHANGE.summary, tool_calls=[], incidents=[], pending=SEVERITY_CHANGE
    )
    slack.send.command(fields | {"text": "severity critical"})
    message = confirmation_message(fake, INC1)
    assert "thread_ts" not in message
    assert [a["question"] for a in runner.asked] == [
        "Give me a summary of this incident",
        "Update this incident to SEV-1",
    ]
    assert fake.calls_to("chat.postEphemeral") == []


# --- end to end: the real agent (offline model) on the demo organisation -----------------------------------


@contextmanager
def serving_demo(
    fake: FakeSlack, demo: DemoStore, tmp_path: Path, *, agent_processes: int = 0
) -> Iterator[Running]:
    """Serves the app with its default runner (offline model, durable checkpoints) on a demo store copy."""
    with serving(
        fake,
        demo.engine,
        tmp_path,
        runner_factory=None,
        agent_processes=agent_processes,
        INCIDENT_COPILOT_DATA_DIR=str(demo.data_dir),
        DATABASE_URL=demo.database_url,
    ) as running:
        yield running


@pytest.fixture
def demo(demo_copy: DemoStore, monkeypatch: pytest.MonkeyPatch) -> DemoStore:
    demo_copy.activate(monkeypatch)
    return demo_copy


def test_end_to_end_a_question_is_answered_from_the_store(
    fake: FakeSlack, demo: DemoStore, tmp_path: Path
) -> None:
    with session_scope(demo.engine) as session:
        ongoing = service.query(
            db_session=session, criteria=service.IncidentFilter(statuses=ONGOING_STATUSES), limit=50
        )
        expected_ids = {incident.public_id for incident in ongoing.incidents}
    with serving_demo(fake, demo, tmp_path) as slack:
        mention = mention_event(GENERAL, SAM, "How many incidents are currently ongoing?", ts=fake.next_ts())
        slack.send.event(mention)
        (reply,) = fake.wait_for("chat.postMessage", in_thread(GENERAL, mention["ts"]), timeout=120)
    assert f"There are {ongoing.total} ongoing incidents" in reply["text"]
    sections = [b["text"]["text"] for b in reply["blocks"] if b["type"] == "section"]
    listed = {match for text in sections for match in re.findall(r"incident-\d+", text.split("\n")[0])}
    assert listed == expected_ids and len(sections) == ongoing.total


def test_end_to_end_a_follow_up_in_a_thread_remembers_the_incident(
    fake: FakeSlack, demo: DemoStore, tmp_path: Path
) -> None:
    with session_scope(demo.engine) as session:
        incident = service.get_or_raise(db_session=session, incident_id=123)
        root_cause, remediation = incident.root_cause, incident.remediation
    assert root_cause and remediation
    with serving_demo(fake, demo, tmp_path) as slack:
        question = fake.add_message(GENERAL, MARCUS, "<@U0COPILOT> What was the root cause of incident-123?")
        slack.send.event(
            mention_event(GENERAL, MARCUS, "What was the root cause of incident-123?", ts=question["ts"])
        )
        (first,) = fake.wait_for("chat.postMessage", in_thread(GENERAL, question["ts"]), timeout=120)
        follow_up = mention_event(
            GENERAL,
            SAM,
            "What remediation actions did the responders take?",
            ts=fake.next_ts(),
            thread_ts=question["ts"],
        )
        slack.send.event(follow_up)
        replies = fake.wait_for("chat.postMessage", in_thread(GENERAL, question["ts"]), count=2, timeout=120)
    assert root_cause.split(".")[0] in first["text"]
    assert "incident-123" in replies[1]["text"]
    assert remediation.split(".")[0] in replies[1]["text"]


def test_end_to_end_a_confirmed_write_survives_a_restart_and_is_audited(
    fake: FakeSlack, demo: DemoStore, tmp_path: Path
) -> None:
    number = demo.special["active_checkout"][0]
    with session_scope(demo.engine) as session:
        incident = service.get_or_raise(db_session=session, incident_id=number)
        channel_id, channel_name, before = (
            incident.slack_channel_id,
            incident.slack_channel_name,
            incident.severity,
        )
    assert channel_id and channel_name and before == "SEV-1"
    fake.add_channel(channel_id, channel_name, members=[PRIYA, MARCUS])

    with serving_demo(fake, demo, tmp_path) as slack:
        mention = mention_event(channel_id, PRIYA, "Update this incident to SEV-2", ts=fake.next_ts())
        slack.send.event(mention)
        message = copy.deepcopy(confirmation_message(fake, channel_id))
    assert message["text"] == f"Confirm: Change the severity of incident-{number} from SEV-1 to SEV-2?"

    # A restart: new app, new runner, here in a worker process as `slack serve` runs it; the paused graph
    # comes back from the checkpoint file.
    with serving_demo(fake, demo, tmp_path, agent_processes=1) as slack:
        refused = press(slack, fake, CHLOE, channel_id, message)
        fake.wait_for("respond", refused)
        slack.idle()
        with session_scope(demo.engine) as session:
            assert service.get_or_raise(db_session=session, incident_id=number).severity == "SEV-1"

        press(slack, fake, PRIYA, channel_id, message)
        (done,) = fake.wait_for(
            "chat.update", lambda p: p["text"].startswith(":white_check_mark:"), timeout=120
        )
    assert done["ts"] == message["ts"]
    assert "SEV-2" in done["text"]
    with session_scope(demo.engine) as session:
        assert service.get_or_raise(db_session=session, incident_id=number).severity == "SEV-2"
        (audit,) = [
            a
            for a in incident_audit.audit_log(db_session=session, incident_id=number)
            if a.action == "update_severity"
        ]
        assert (audit.actor, audit.source, audit.before, audit.after) == (
            "Priya Raman",
            "slack",
            {"severity": "SEV-1"},
            {"severity": "SEV-2"},
        )


def test_end_to_end_a_confirmed_postmortem_draft_is_uploaded_as_a_file_in_the_thread(
    fake: FakeSlack, demo: DemoStore, tmp_path: Path
) -> None:
    with session_scope(demo.engine) as session:
        incident = service.get_or_raise(db_session=session, incident_id=123)
        channel_id, channel_name, root_cause = (
            incident.slack_channel_id,
            incident.slack_channel_name,
            incident.root_cause,
        )
    assert channel_id and channel_name and root_cause
    fake.add_channel(channel_id, channel_name, members=[PRIYA])

    with serving_demo(fake, demo, tmp_path) as slack:
        mention = mention_event(channel_id, PRIYA, "Draft a postmortem for this incident", ts=fake.next_ts())
        slack.send.event(mention)
        message = copy.deepcopy(confirmation_message(fake, channel_id))
        assert message["text"] == "Confirm: Draft a postmortem of incident-123 from the 'ai' template?"
        with session_scope(demo.engine) as session:
            assert postmortems.get_linked(db_session=session, incident_id=123) is None
        press(slack, fake, PRIYA, channel_id, message)
        (completed,) = fake.wait_for("files.completeUploadExternal", timeout=120)
    (upload,) = fake.calls_to("upload")
    with session_scope(demo.engine) as session:
        draft = postmortems.get_linked_or_raise(db_session=session, incident_id=123)
    # The whole stored draft is the file; the thread gets the excerpt, not a clipped copy of the draft.
    assert upload["content"] == draft.body and root_cause in upload["content"]
    assert (completed["channel_id"], completed["thread_ts"]) == (channel_id, mention["ts"])
    assert completed["initial_comment"].startswith("First-draft postmortem for incident-123")
    # The confirmation message says who confirmed and where the draft is, not the whole draft again.
    outcome = fake.calls_to("chat.update")[-1]
    assert outcome["ts"] == message["ts"] and outcome["text"].startswith(":white_check_mark:")
    assert "Markdown file" in outcome["text"] and draft.body not in outcome["text"]


# --- the manifest ------------------------------------------------------------------------------------------


def test_the_manifest_subscribes_to_what_the_app_handles_at_its_endpoint() -> None:
    result = CliRunner().invoke(cli, ["slack", "manifest", "--url", "https://copilot.example.com/"])
    assert result.exit_code == 0, result.output
    manifest = yaml.safe_load(result.output)
    settings = manifest["settings"]
    endpoint = f"https://copilot.example.com{EVENTS_PATH}"
    assert settings["event_subscriptions"]["request_url"] == endpoint
    assert settings["interactivity"] == {"is_enabled": True, "request_url": endpoint}
    assert [(c["command"], c["url"]) for c in manifest["features"]["slash_commands"]] == [
        ("/incident", endpoint)
    ]
    assert set(settings["event_subscriptions"]["bot_events"]) == {
        "app_mention",
        "assistant_thread_started",
        "assistant_thread_context_changed",
        "member_joined_channel",
        "message.channels",
        "message.groups",
        "message.im",
        "pin_added",
        "pin_removed",
    }
    assert {
        "app_mentions:read",
        "assistant:write",
        "chat:write",
        "commands",
        "im:history",
        "reactions:write",
        "users:read",
    } <= set(manifest["oauth_config"]["scopes"]["bot"])
    assert manifest["features"]["assistant_view"]["assistant_description"]
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True
    assert settings["socket_mode_enabled"] is False
    socket = CliRunner().invoke(cli, ["slack", "manifest", "--socket"])
    assert yaml.safe_load(socket.output)["settings"]["socket_mode_enabled"] is True


@pytest.mark.postgres
def test_on_postgresql_a_change_paused_on_one_replica_is_confirmed_on_another_exactly_once(
    fake: FakeSlack, postgres_url: str, tmp_path: Path
) -> None:
    store = fresh_postgres(postgres_url)
    with session_scope(store) as session:
        service.declare(
            db_session=session,
            title="Checkout errors for EU customers",
            severity=Severity.sev2,
            now=NOW - timedelta(hours=1),
            actor="Priya Raman",
            source=EntrySource.cli,
            services=["checkout"],
            slack_channel_id=INC1,
        )

    def replica(name: str) -> Any:
        # Each replica has a data folder of its own: nothing in it may be needed by the other.
        return serving(
            fake,
            store,
            tmp_path / name,
            runner_factory=None,
            INCIDENT_COPILOT_DATA_DIR=str(tmp_path / name / "data"),
            DATABASE_URL=postgres_url,
        )

    with replica("a") as a, replica("b") as b:
        a.send.event(mention_event(INC1, PRIYA, "Update incident-1 to SEV-1", ts=fake.next_ts()))
        message = copy.deepcopy(confirmation_message(fake, INC1))
        assert message["text"] == "Confirm: Change the severity of incident-1 from SEV-2 to SEV-1?"

        press(b, fake, PRIYA, INC1, message)
        (done,) = fake.wait_for(
            "chat.update", lambda p: p["text"].startswith(":white_check_mark:"), timeout=120
        )
        again = press(a, fake, PRIYA, INC1, message)
        (refused,) = fake.wait_for("respond", again)
        a.idle()
        b.idle()
    assert refused["text"] == "This change was already answered."
    assert "SEV-1" in done["text"]
    with session_scope(store) as session:
        assert service.get_or_raise(db_session=session, incident_id=1).severity == "SEV-1"
        changes = [
            a
            for a in incident_audit.audit_log(db_session=session, incident_id=1)
            if a.action == "update_severity"
        ]
        assert [(c.actor, c.before, c.after) for c in changes] == [
            ("Priya Raman", {"severity": "SEV-2"}, {"severity": "SEV-1"})
        ]
    assert not list(tmp_path.glob("*/data/*checkpoints*"))
    store.dispose()

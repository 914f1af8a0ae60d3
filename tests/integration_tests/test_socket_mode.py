"""The Slack app over Socket Mode, against a local server that speaks Slack's Socket Mode protocol.

The app connects with Bolt's `SocketModeHandler`, as `slack serve --socket` does; the Web API is the
same local fake as in the HTTP tests. The agent is the scripted runner double of those tests.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from agent.runner import AgentReply
from agent.slack.app import build_app, runtime_for
from agent.slack.blocks import CONFIRM_ACTION, HELP_TEXT
from agent.slack.runtime import SlackRuntime
from agent.slack.server import socket_mode_handler
from evals.fake_slack import (
    FakeSlack,
    block_actions_payload,
    command_fields,
    event_callback,
    mention_event,
)
from tests.conftest import NOW
from tests.integration_tests.slack_world import (
    INC1,
    PRIYA,
    SEVERITY_CHANGE,
    ScriptedRunner,
    in_thread,
    slack_settings,
)
from tests.servers.socket_mode import SocketModeServer


@dataclass
class Connected:
    """The app connected over Socket Mode."""

    runtime: SlackRuntime
    server: SocketModeServer

    def idle(self) -> None:
        assert self.runtime.wait_idle(30), "the app did not go idle within 30 s"


@pytest.fixture
def socket_mode(
    fake: FakeSlack, store: Engine, tmp_path: Path, runner: ScriptedRunner
) -> Iterator[Connected]:
    server = SocketModeServer()
    with server.running():
        fake.socket_url = lambda: server.url
        app = build_app(
            settings=slack_settings(
                tmp_path, fake.api_url, SLACK_APP_TOKEN="xapp-1-test", SLACK_SIGNING_SECRET=""
            ),
            engine=store,
            runner_factory=lambda: runner,
            now=lambda: NOW,
            socket_mode=True,
        )
        handler = socket_mode_handler(app, app_token="xapp-1-test")
        handler.connect()
        try:
            server.wait_connected(1)
            yield Connected(runtime_for(app), server)
        finally:
            handler.close()
            runtime_for(app).close()


def _mention(connected: Connected, fake: FakeSlack, text: str, *, event_id: str | None = None) -> dict:
    mention = mention_event(INC1, PRIYA, text, ts=fake.next_ts())
    envelope = connected.server.send("events_api", event_callback(mention, event_id=event_id))
    assert connected.server.wait_ack(envelope)["envelope_id"] == envelope.envelope_id
    return mention


def test_mentions_are_answered_and_a_redelivery_once(
    socket_mode: Connected, fake: FakeSlack, runner: ScriptedRunner
) -> None:
    mention = mention_event(INC1, PRIYA, "how many incidents are ongoing?", ts=fake.next_ts())
    body = event_callback(mention, event_id="Ev0SOCKET")
    first = socket_mode.server.send("events_api", body)
    socket_mode.server.wait_ack(first)
    (reply,) = fake.wait_for("chat.postMessage", in_thread(INC1, mention["ts"]))
    assert reply["text"] == "You asked: how many incidents are ongoing?"

    again = socket_mode.server.send("events_api", body)  # Slack redelivers with the same event id
    socket_mode.server.wait_ack(again)
    socket_mode.idle()
    assert len(fake.calls_to("chat.postMessage")) == 1
    assert len(runner.asked) == 1


def test_a_refresh_and_a_dropped_connection_lose_no_event(
    socket_mode: Connected, fake: FakeSlack, runner: ScriptedRunner
) -> None:
    socket_mode.server.ask_to_reconnect()
    socket_mode.server.wait_connected(2)
    after_refresh = _mention(socket_mode, fake, "status after refresh?")
    fake.wait_for("chat.postMessage", in_thread(INC1, after_refresh["ts"]))

    socket_mode.server.drop()
    # Sent while the app is away: delivered on its next connection, as Slack does.
    while_away = mention_event(INC1, PRIYA, "status while away?", ts=fake.next_ts())
    envelope = socket_mode.server.send("events_api", event_callback(while_away))
    socket_mode.server.wait_connected(3, timeout=60)
    socket_mode.server.wait_ack(envelope, timeout=60)
    (reply,) = fake.wait_for("chat.postMessage", in_thread(INC1, while_away["ts"]))
    assert reply["text"] == "You asked: status while away?"
    socket_mode.idle()
    assert [a["question"] for a in runner.asked] == ["status after refresh?", "status while away?"]


def test_confirm_and_slash_commands_work_over_socket_mode(
    socket_mode: Connected, fake: FakeSlack, runner: ScriptedRunner
) -> None:
    runner.replies["sev-1"] = AgentReply(
        answer=SEVERITY_CHANGE.summary, tool_calls=[], incidents=[], pending=SEVERITY_CHANGE
    )
    _mention(socket_mode, fake, "Update this incident to SEV-1")
    fake.wait_for("chat.postMessage", lambda p: any(b["type"] == "actions" for b in p.get("blocks") or []))
    message = copy.deepcopy(
        next(m for m in fake.messages[INC1] if any(b["type"] == "actions" for b in m.get("blocks") or []))
    )
    value = next(b for b in message["blocks"] if b["type"] == "actions")["elements"][0]["value"]
    press = socket_mode.server.send(
        "interactive",
        block_actions_payload(
            user_id=PRIYA,
            channel_id=INC1,
            message=message,
            action_id=CONFIRM_ACTION,
            value=value,
            response_url=fake.response_url(),
        ),
    )
    socket_mode.server.wait_ack(press)
    (done,) = fake.wait_for("chat.update", lambda p: p["text"].startswith(":white_check_mark:"))
    assert done["ts"] == message["ts"]
    assert [r["confirmed"] for r in runner.resumed] == [True]

    # The command's acknowledgement carries its answer, as the HTTP response does over HTTP.
    command = socket_mode.server.send(
        "slash_commands",
        command_fields(
            user_id=PRIYA,
            channel_id=INC1,
            channel_name="incident-1-checkout-errors",
            text="help",
            response_url=fake.response_url(),
        ),
    )
    acked = socket_mode.server.wait_ack(command)
    assert acked["payload"]["text"] == HELP_TEXT
    assert acked["payload"]["response_type"] == "ephemeral"

"""Slack messages as agent memory: mrkdwn to plain text, and threads to LangChain messages."""

from __future__ import annotations

from datetime import UTC, datetime

from langchain_core.messages import AIMessage, HumanMessage

from agent.slack.history import (
    datetime_to_ts,
    is_bot_message,
    message_text,
    plain_text,
    to_messages,
    ts_to_datetime,
)

NAMES = {"U1": "Priya Raman", "U2": "Marcus Chen", "UBOT": "Incident Copilot"}


def name_of(user_id: str) -> str:
    return NAMES.get(user_id, user_id)


def test_plain_text_names_people_and_drops_the_app_mention() -> None:
    text = "<@UBOT> did <@U2> roll back? see <#C123|incident-7-checkout> &amp; <https://grafana.example/d/1|the graph>"
    assert plain_text(text, name_of=name_of, drop_user="UBOT") == (
        "did @Marcus Chen roll back? see #incident-7-checkout & the graph (https://grafana.example/d/1)"
    )


def test_plain_text_keeps_bare_links_and_broadcasts() -> None:
    assert plain_text("<!here> <https://status.example>", name_of=name_of) == "@here https://status.example"


def test_message_text_names_shared_files() -> None:
    message = {"text": "dashboard", "files": [{"name": "latency.png", "title": "p99 latency"}]}
    assert message_text(message, name_of=name_of, drop_user=None) == "dashboard\n[shared: p99 latency]"


def test_slack_timestamps_round_trip_in_utc() -> None:
    moment = datetime(2026, 11, 27, 12, 0, 0, 123000, tzinfo=UTC)
    assert datetime_to_ts(moment) == "1795780800.123000"
    assert ts_to_datetime("1795780800.123000") == moment


def test_to_messages_orders_names_and_splits_people_from_the_app() -> None:
    # conversations.history returns newest first; the result must read oldest first.
    slack = [
        {"ts": "1700000004.000000", "user": "U1", "text": "<@UBOT> and its root cause?"},
        {"ts": "1700000003.000000", "user": "UBOT", "bot_id": "BBOT", "text": "incident-7 is SEV-2, active."},
        {"ts": "1700000002.000000", "subtype": "channel_join", "user": "U2", "text": "<@U2> has joined"},
        {"ts": "1700000001.000000", "user": "U2", "text": "<@UBOT> what about incident-7?"},
        {
            "ts": "1700000000.500000",
            "bot_id": "BPD",
            "subtype": "bot_message",
            "username": "PagerDuty",
            "text": "Alert",
        },
    ]
    messages = to_messages(
        slack, name_of=name_of, bot_user_id="UBOT", bot_id="BBOT", before_ts="1700000004.000000"
    )
    assert [type(m) for m in messages] == [HumanMessage, HumanMessage, AIMessage]
    assert [m.content for m in messages] == [
        "PagerDuty (bot): Alert",
        "Marcus Chen: what about incident-7?",
        "incident-7 is SEV-2, active.",
    ]
    assert messages[1].name == "Marcus_Chen"


def test_to_messages_keeps_only_the_newest_and_skips_empty_ones() -> None:
    slack = [{"ts": f"17000000{i:02d}.000000", "user": "U1", "text": f"message {i}"} for i in range(30)]
    slack.append({"ts": "1700000099.000000", "user": "U1", "text": "<@UBOT>"})
    messages = to_messages(slack, name_of=name_of, bot_user_id="UBOT", bot_id=None, limit=5)
    assert [m.content for m in messages] == [f"Priya Raman: message {i}" for i in range(25, 30)]


def test_is_bot_message() -> None:
    assert is_bot_message({"bot_id": "B1", "text": "x"})
    assert is_bot_message({"subtype": "bot_message"})
    assert not is_bot_message({"user": "U1", "text": "x"})

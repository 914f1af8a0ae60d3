"""Two `slack serve` replicas on one PostgreSQL and one Chroma server, as a team runs them.

Each replica is a process of its own with a data folder of its own, so anything they agree on can only
come from the shared database and index.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine

from agent.db import session_scope
from agent.incidents import audit, service
from agent.slack.blocks import CONFIRM_ACTION
from evals.fake_slack import FakeSlack, SlackSender, block_actions_payload, mention_event
from tests.conftest import NOW, declare_incidents, fresh_postgres
from tests.servers.chroma import ChromaServer
from tests.servers.slack_replica import SlackReplica

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
PRIYA, MARCUS = "U0PRIYA", "U0MARCUS"
INC1, GENERAL = "C0INC1", "C0GENERAL"
MENTIONS = 20
STORE_INCIDENTS = (
    ("Checkout errors for EU customers", "checkout"),
    ("Search is slow", "checkout"),
)


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    slack = FakeSlack(start_ts=NOW.timestamp())
    slack.add_user(PRIYA, "Priya Raman")
    slack.add_user(MARCUS, "Marcus Chen")
    slack.add_channel(INC1, "incident-1-checkout-errors", members=[PRIYA, MARCUS])
    slack.add_channel(GENERAL, "general", members=[PRIYA, MARCUS])
    with slack.running():
        yield slack


@pytest.fixture
def store(postgres_url: str) -> Iterator[Engine]:
    engine = fresh_postgres(postgres_url)
    declare_incidents(engine, STORE_INCIDENTS, channel_ids={1: INC1})
    yield engine
    engine.dispose()


@pytest.fixture
def replicas(
    fake: FakeSlack, store: Engine, postgres_url: str, tmp_path: Path
) -> Iterator[tuple[SlackReplica, SlackReplica]]:
    chroma = ChromaServer(tmp_path / "chroma-server").start()
    environment = {
        "DATABASE_URL": postgres_url,
        "CHROMA_HOST": chroma.host,
        "CHROMA_PORT": str(chroma.port),
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.api_url,
        "INCIDENT_COPILOT_MODEL": "offline",
        "INCIDENT_CHANNEL_PREFIX": "incident-",
    }
    started: list[SlackReplica] = []
    try:
        for name in ("a", "b"):
            replica = SlackReplica(name, folder=tmp_path / name, environment=environment, now=NOW.isoformat())
            started.append(replica.start())
        yield started[0], started[1]
    finally:
        for replica in started:
            replica.stop()
        chroma.stop()


def _replies_in(fake: FakeSlack, channel: str, thread_ts: str) -> list[dict[str, Any]]:
    return [
        p
        for p in fake.calls_to("chat.postMessage")
        if p.get("channel") == channel and p.get("thread_ts") == thread_ts
    ]


def test_two_replicas_share_claims_confirmations_and_load(
    fake: FakeSlack, store: Engine, replicas: tuple[SlackReplica, SlackReplica], tmp_path: Path
) -> None:
    a, b = replicas
    to_a, to_b = SlackSender(a.base_url, SECRET), SlackSender(b.base_url, SECRET)
    try:
        # A redelivery that reaches the other replica gets no second reply.
        first = mention_event(GENERAL, PRIYA, "How many incidents are currently ongoing?", ts=fake.next_ts())
        assert to_a.event(first, event_id="Ev0SHARED").status_code == 200
        fake.wait_for("chat.postMessage", lambda p: p.get("thread_ts") == first["ts"], timeout=120)
        assert to_b.event(first, event_id="Ev0SHARED", retry_num=1).status_code == 200
        b.wait_for_log("Ignoring redelivered mention Ev0SHARED")

        # Simultaneous mentions spread over both replicas are each answered once.
        mentions = [
            mention_event(GENERAL, MARCUS, "How many incidents are currently ongoing?", ts=fake.next_ts())
            for _ in range(MENTIONS)
        ]
        for number, mention in enumerate(mentions):
            assert (to_a if number % 2 else to_b).event(mention).status_code == 200
        for mention in mentions:
            fake.wait_for(
                "chat.postMessage", lambda p, ts=mention["ts"]: p.get("thread_ts") == ts, timeout=180
            )

        # Confirm pressed on replica B applies a change paused on replica A, exactly once.
        to_a.event(mention_event(INC1, PRIYA, "Update incident-1 to SEV-1", ts=fake.next_ts()))
        fake.wait_for(
            "chat.postMessage",
            lambda p: any(block["type"] == "actions" for block in p.get("blocks") or []),
            timeout=120,
        )
        message = copy.deepcopy(
            next(m for m in fake.messages[INC1] if any(x["type"] == "actions" for x in m.get("blocks") or []))
        )
        assert message["text"] == "Confirm: Change the severity of incident-1 from SEV-2 to SEV-1?"
        _press(to_b, fake, message)
        (done,) = fake.wait_for(
            "chat.update", lambda p: p["text"].startswith(":white_check_mark:"), timeout=120
        )
        again_url = _press(to_a, fake, message)
        (refused,) = fake.wait_for("respond", lambda p: p["response_url"] == again_url, timeout=60)
    finally:
        to_a.close()
        to_b.close()

    assert "SEV-1" in done["text"]
    assert refused["text"] == "This change was already answered."
    assert [len(_replies_in(fake, GENERAL, m["ts"])) for m in [first, *mentions]] == [1] * (MENTIONS + 1)
    assert all(
        r["text"].startswith("There are 2 ongoing incidents.")
        for r in _replies_in(fake, GENERAL, first["ts"])
    )
    with session_scope(store) as session:
        assert service.get_or_raise(db_session=session, incident_id=1).severity == "SEV-1"
        changes = [
            x for x in audit.audit_log(db_session=session, incident_id=1) if x.action == "update_severity"
        ]
        assert len(changes) == 1
    assert not list(tmp_path.glob("*/data/*checkpoints*"))

    # Stopped as a supervisor stops it (SIGTERM), a replica takes its agent worker processes with it.
    workers = b.children()
    assert workers, "the replica runs its agent turns in worker processes"
    b.stop()
    # Its resource tracker notices the replica is gone a moment later: poll, bounded by a deadline.
    deadline = time.monotonic() + 10
    while [pid for pid in workers if _running(pid)] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid in workers if _running(pid)] == []


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _press(sender: SlackSender, fake: FakeSlack, message: dict[str, Any]) -> str:
    buttons = next(block for block in message["blocks"] if block["type"] == "actions")["elements"]
    url = fake.response_url()
    payload = block_actions_payload(
        user_id=PRIYA,
        channel_id=INC1,
        message=message,
        action_id=CONFIRM_ACTION,
        value=buttons[0]["value"],
        response_url=url,
    )
    assert sender.action(payload).status_code == 200
    return urlsplit(url).path

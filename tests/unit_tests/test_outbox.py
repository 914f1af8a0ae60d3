"""The outbox of undelivered replies, on SQLite and PostgreSQL: kept once, leased to one sender, settled."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from agent.db import session_scope
from agent.outbox import service as outbox
from tests.conftest import NOW

LEASE = timedelta(minutes=2)


def _keep(engine: Engine, key: str = "slack:C1:1.0:1.0:answer") -> int:
    with session_scope(engine) as session:
        return outbox.enqueue(
            db_session=session,
            key=key,
            channel="slack",
            method="chat_postMessage",
            payload={"channel": "C1", "text": "hello"},
            error="HTTP 503 service_unavailable",
            now=NOW,
        ).id


def test_the_same_reply_is_kept_once(engine: Engine) -> None:
    first, again = _keep(engine), _keep(engine)
    assert first == again
    with session_scope(engine) as session:
        (kept,) = outbox.pending(db_session=session, channel="slack")
        assert (kept.attempts, kept.payload, kept.next_attempt_at) == (
            1,
            {"channel": "C1", "text": "hello"},
            NOW + outbox.FIRST_RETRY,
        )


def test_a_due_reply_is_leased_to_one_sender_until_its_lease_ends(engine: Engine) -> None:
    _keep(engine)
    due = NOW + timedelta(seconds=10)
    with session_scope(engine) as session:
        assert outbox.lease_due(db_session=session, channel="slack", now=NOW, lease=LEASE) == []
        (leased,) = outbox.lease_due(db_session=session, channel="slack", now=due, lease=LEASE)
    with session_scope(engine) as other_replica:
        assert outbox.lease_due(db_session=other_replica, channel="slack", now=due, lease=LEASE) == []
        # A sender that died holding the lease does not keep the reply forever.
        (again,) = outbox.lease_due(db_session=other_replica, channel="slack", now=due + LEASE, lease=LEASE)
    assert again.id == leased.id


def test_failures_back_off_then_give_up_and_delivery_settles(engine: Engine) -> None:
    message_id = _keep(engine)
    with session_scope(engine) as session:
        failed = outbox.mark_failed(db_session=session, message_id=message_id, error="HTTP 429", now=NOW)
        assert failed.next_attempt_at == NOW + 2 * outbox.FIRST_RETRY
        for _ in range(outbox.MAX_ATTEMPTS):
            failed = outbox.mark_failed(db_session=session, message_id=message_id, error="HTTP 429", now=NOW)
        assert failed.given_up_at == NOW
        assert failed.next_attempt_at <= NOW + outbox.LONGEST_WAIT
        assert outbox.counts(db_session=session, channel="slack") == {
            "pending": 0,
            "delivered": 0,
            "given_up": 1,
        }

    other = _keep(engine, key="slack:C1:2.0:2.0:answer")
    with session_scope(engine) as session:
        outbox.mark_delivered(db_session=session, message_id=other, now=NOW)
        assert outbox.pending(db_session=session, channel="slack") == []
        assert (
            outbox.lease_due(db_session=session, channel="slack", now=NOW + timedelta(days=1), lease=LEASE)
            == []
        )
        assert outbox.counts(db_session=session, channel="slack") == {
            "pending": 0,
            "delivered": 1,
            "given_up": 1,
        }


def test_a_refusal_no_retry_fixes_is_given_up_at_once(engine: Engine) -> None:
    message_id = _keep(engine)
    with session_scope(engine) as session:
        failed = outbox.mark_failed(
            db_session=session, message_id=message_id, error="channel_not_found", now=NOW, permanent=True
        )
    assert (failed.given_up_at, failed.attempts) == (NOW, 2)

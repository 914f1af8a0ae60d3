"""Keeping, leasing and settling undelivered replies (keyword-only functions over a session)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from agent.outbox.models import OutboxMessage

MAX_ATTEMPTS = 30
"""Delivery attempts before a reply is given up (logged as an error and kept for inspection)."""

FIRST_RETRY = timedelta(seconds=5)
LONGEST_WAIT = timedelta(minutes=10)
"""Waits between attempts double from `FIRST_RETRY` up to this; 30 attempts span about four hours."""

MAX_ERROR_CHARS = 2000


def enqueue(
    *,
    db_session: Session,
    key: str,
    channel: str,
    method: str,
    payload: dict[str, Any],
    error: str,
    now: datetime,
) -> OutboxMessage:
    """Keeps a reply whose first delivery failed, due for another attempt after `FIRST_RETRY`.

    The same `key` enqueued again (a redelivery, another replica) returns the row already kept.
    """
    existing = db_session.scalar(select(OutboxMessage).where(OutboxMessage.key == key))
    if existing is not None:
        return existing
    message = OutboxMessage(
        key=key,
        channel=channel,
        method=method,
        payload=payload,
        created_at=now,
        attempts=1,
        last_error=error[:MAX_ERROR_CHARS],
        next_attempt_at=now + FIRST_RETRY,
    )
    try:
        with db_session.begin_nested():
            db_session.add(message)
    except IntegrityError:
        # Another writer kept the same reply a moment ago.
        return db_session.scalars(select(OutboxMessage).where(OutboxMessage.key == key)).one()
    db_session.commit()
    return message


def lease_due(
    *, db_session: Session, channel: str, now: datetime, lease: timedelta, limit: int = 20
) -> list[OutboxMessage]:
    """Returns up to `limit` replies due now, each leased to the caller until `now + lease`.

    A row is leased by a conditional update, so when two replicas look at once each row goes to one.
    """
    due = db_session.scalars(
        select(OutboxMessage.id)
        .where(
            OutboxMessage.channel == channel,
            OutboxMessage.delivered_at.is_(None),
            OutboxMessage.given_up_at.is_(None),
            OutboxMessage.next_attempt_at <= now,
            or_(OutboxMessage.leased_until.is_(None), OutboxMessage.leased_until <= now),
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    ).all()
    leased: list[int] = []
    for message_id in due:
        result = db_session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                OutboxMessage.delivered_at.is_(None),
                or_(OutboxMessage.leased_until.is_(None), OutboxMessage.leased_until <= now),
            )
            .values(leased_until=now + lease)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            leased.append(message_id)
    db_session.commit()
    if not leased:
        return []
    return list(
        db_session.scalars(
            select(OutboxMessage).where(OutboxMessage.id.in_(leased)).order_by(OutboxMessage.id)
        )
    )


def mark_delivered(*, db_session: Session, message_id: int, now: datetime) -> None:
    """Records that a reply reached its destination."""
    db_session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(delivered_at=now, leased_until=None, attempts=OutboxMessage.attempts + 1, last_error=None)
    )
    db_session.commit()


def mark_failed(
    *, db_session: Session, message_id: int, error: str, now: datetime, permanent: bool = False
) -> OutboxMessage:
    """Records a failed attempt: due again after a doubled wait, or given up when `permanent` or too many."""
    message = db_session.get_one(OutboxMessage, message_id)
    message.attempts += 1
    message.last_error = error[:MAX_ERROR_CHARS]
    message.leased_until = None
    if permanent or message.attempts >= MAX_ATTEMPTS:
        message.given_up_at = now
    else:
        wait = min(FIRST_RETRY * 2 ** (message.attempts - 1), LONGEST_WAIT)
        message.next_attempt_at = now + wait
    db_session.commit()
    return message


def pending(*, db_session: Session, channel: str) -> Sequence[OutboxMessage]:
    """Returns the replies not delivered and not given up, oldest first."""
    return db_session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.channel == channel,
            OutboxMessage.delivered_at.is_(None),
            OutboxMessage.given_up_at.is_(None),
        )
        .order_by(OutboxMessage.id)
    ).all()


def counts(*, db_session: Session, channel: str) -> dict[str, int]:
    """Returns how many replies are pending, delivered late, and given up."""
    rows = db_session.execute(
        select(
            func.count().filter(OutboxMessage.delivered_at.is_(None), OutboxMessage.given_up_at.is_(None)),
            func.count().filter(OutboxMessage.delivered_at.is_not(None)),
            func.count().filter(OutboxMessage.given_up_at.is_not(None)),
        ).where(OutboxMessage.channel == channel)
    ).one()
    return {"pending": rows[0], "delivered": rows[1], "given_up": rows[2]}

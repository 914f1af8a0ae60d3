"""Slack deliveries handled once: each claim is a row of `processed_events`, so a restart, or another
process, between two deliveries of one event does not answer it twice."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from agent.incidents.models import ProcessedEvent


def mark_events_processed(*, db_session: Session, event_ids: Sequence[str], now: datetime) -> set[str]:
    """Returns the Slack event ids recorded now (one commit); ids recorded before are left out."""
    wanted = list(dict.fromkeys(event_ids))
    if not wanted:
        return set()
    seen = set(db_session.scalars(select(ProcessedEvent.event_id).where(ProcessedEvent.event_id.in_(wanted))))
    fresh = [event_id for event_id in wanted if event_id not in seen]
    try:
        with db_session.begin_nested():
            db_session.add_all(ProcessedEvent(event_id=event_id, received_at=now) for event_id in fresh)
        db_session.commit()
        return set(fresh)
    except IntegrityError:
        # Another process recorded some of them a moment ago: claim the rest one at a time.
        db_session.rollback()
    claimed: set[str] = set()
    for event_id in fresh:
        try:
            with db_session.begin_nested():
                db_session.add(ProcessedEvent(event_id=event_id, received_at=now))
            db_session.commit()
            claimed.add(event_id)
        except IntegrityError:
            db_session.rollback()
    return claimed


def prune_processed_events(*, db_session: Session, before: datetime) -> int:
    """Returns how many processed-event records older than `before` were deleted (Slack retries for minutes, not days)."""
    deleted = db_session.execute(delete(ProcessedEvent).where(ProcessedEvent.received_at < before))
    db_session.commit()
    return int(deleted.rowcount or 0)  # type: ignore[attr-defined]

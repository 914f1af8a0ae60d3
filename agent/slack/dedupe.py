"""At-most-once handling of Slack deliveries, durable across restarts.

Slack redelivers an event (same `event_id`, header `X-Slack-Retry-Num`) when it thinks the first delivery
failed. The first delivery to claim an id wins; the claim is a row in `processed_events`, so a restart
between two deliveries does not answer twice. A bounded in-memory set in front answers the common case
(a retry reaching the same process) without a database round trip.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from agent.incidents.models import ProcessedEvent
from agent.slack.store import StoreWriter

RETENTION = timedelta(days=2)
"""How long claims are kept; Slack gives up retrying after minutes, so this is generous."""

PRUNE_EVERY = 5000
"""Claims between two prunes of expired rows."""

MAX_KEY_CHARS = 100
"""The width of `processed_events.event_id`."""


class EventDeduper:
    """Claims Slack event ids (and other once-only keys, such as a confirmation) exactly once."""

    def __init__(
        self, *, writer: StoreWriter, now: Callable[[], datetime], memory_size: int = 50_000
    ) -> None:
        self._writer = writer
        self._now = now
        self._memory_size = memory_size
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._claims = 0

    def claim(self, key: str | None) -> bool:
        """Returns True for the first claim of `key`, False for every later one; None is always new."""
        if key is None:
            return True
        return key[:MAX_KEY_CHARS] in self.claim_many([key])

    def claim_many(self, keys: Sequence[str]) -> set[str]:
        """Returns the keys (cut to `MAX_KEY_CHARS`) claimed now, recording them in one statement."""
        with self._lock:
            fresh: list[str] = []
            for key in (key[:MAX_KEY_CHARS] for key in keys):
                if key in self._seen:
                    continue
                self._seen[key] = None
                fresh.append(key)
            while len(self._seen) > self._memory_size:
                self._seen.popitem(last=False)
            before = self._claims
            self._claims += len(fresh)
            prune = self._claims // PRUNE_EVERY > before // PRUNE_EVERY
        if not fresh:
            return set()
        now = self._now()

        def record(session: Session) -> set[str]:
            claimed = mark_events_processed(db_session=session, event_ids=fresh, now=now)
            if prune:
                prune_processed_events(db_session=session, before=now - RETENTION)
            return claimed

        return self._writer.run(record)


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

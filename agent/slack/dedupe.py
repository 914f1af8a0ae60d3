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

from sqlalchemy.orm import Session

from agent.incidents.deliveries import mark_events_processed, prune_processed_events
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

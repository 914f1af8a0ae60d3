"""The catch-up a person gets, privately, when they join an incident channel (or ask for one).

The first time it is the incident's summary; after that, what changed since their last catch-up
(`personal_catchup`, remembered per person and incident in the store, so any replica knows).

`catchup_summary` is the one place the summary is computed, so switching to another summariser means
changing one function. `CatchupCache` keeps each incident's summary for a short while and computes it once
even when ten people join at the same moment.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from agent.catchups import service as catchups
from agent.db import session_scope
from agent.incidents import service
from agent.postmortems import service as postmortems
from agent.slack.blocks import catchup_blocks, since_blocks
from agent.summaries.extract import NotEnoughTimeline
from agent.summaries.render import render_summary_slack_mrkdwn

MIN_MESSAGES = 10
"""A channel with fewer messages is short enough to read; no summary is offered."""

CACHE_TTL = timedelta(minutes=2)
"""How long a summary is reused; long enough for a wave of joiners, short enough to stay current."""


def catchup_summary(*, engine: Engine, incident_id: int, now: datetime) -> str | None:
    """Returns the incident's catch-up summary as Slack mrkdwn, or None when none is offered.

    None for a private incident, an unknown one, or one whose timeline has fewer than `MIN_MESSAGES` live
    messages (counted by SQL before anything is built).
    """
    with session_scope(engine) as session:
        incident = service.get(db_session=session, incident_id=incident_id)
        if incident is None or incident.private:
            return None
        summary = postmortems.summarize(
            db_session=session, incident_id=incident_id, now=now, min_messages=MIN_MESSAGES
        )
    if isinstance(summary, NotEnoughTimeline):
        return None
    return render_summary_slack_mrkdwn(summary)


@dataclass
class _Slot:
    lock: threading.Lock
    value: str | None = None
    expires: datetime | None = None


class CatchupCache:
    """Summaries per incident for `ttl`, computed once per incident however many ask at the same time."""

    def __init__(
        self,
        *,
        compute: Callable[[int, datetime], str | None],
        now: Callable[[], datetime],
        ttl: timedelta = CACHE_TTL,
    ) -> None:
        self._compute = compute
        self._now = now
        self._ttl = ttl
        self._slots: dict[int, _Slot] = {}
        self._lock = threading.Lock()

    def get(self, incident_id: int) -> str | None:
        """Returns the incident's summary (None when none is offered), from the cache while it is fresh."""
        with self._lock:
            slot = self._slots.setdefault(incident_id, _Slot(lock=threading.Lock()))
        # Joiners of one incident wait for the one computing it; other incidents are not held up.
        with slot.lock:
            now = self._now()
            if slot.expires is None or now >= slot.expires:
                slot.value = self._compute(incident_id, now)
                slot.expires = now + self._ttl
            return slot.value


def personal_catchup(
    *, engine: Engine, cache: CatchupCache, user_id: str, incident_id: int, now: datetime
) -> dict[str, Any] | None:
    """Returns a person's catch-up on an incident as `text` and `blocks`, or None when none is offered.

    Someone who got one before gets what changed since (new timeline entries, severity and status changes)
    with the full summary one button away; anyone else the full summary, when the incident offers one.
    Private incidents get neither. The caller records the catch-up with `catchups.mark_seen` once it is sent.
    """
    with session_scope(engine) as session:
        incident = service.get(db_session=session, incident_id=incident_id)
        if incident is None or incident.private:
            return None
        seen = catchups.last_seen(db_session=session, user_id=user_id, incident_id=incident_id)
        delta = (
            catchups.since(db_session=session, incident_id=incident_id, moment=seen, now=now)
            if seen is not None
            else None
        )
    public_id = f"incident-{incident_id}"
    if delta is not None:
        return {
            "text": f"What changed on {public_id} since you last looked",
            "blocks": since_blocks(
                public_id=public_id,
                incident_id=incident_id,
                since=delta.since,
                now=now,
                changes=[change.model_dump() for change in delta.changes],
                entries=[entry.model_dump() for entry in delta.entries],
                more_entries=delta.more_entries,
            ),
        }
    summary = cache.get(incident_id)
    if summary is None:
        return None
    return {"text": f"Catch-up on {public_id}", "blocks": catchup_blocks(summary)}

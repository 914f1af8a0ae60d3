"""Timeline changes from Slack, written in batches by one thread.

A busy incident channel (or Slack catching up after an outage) delivers hundreds of messages a second.
Each listener only turns its event into a `TimelineChange` and queues it; one writer thread takes
whatever is queued, claims the event ids in one statement and stores a run of new messages with one
commit. Changes are applied in the order they were queued, so an edit never overtakes its message.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy.orm import Session

from agent.incidents import timeline
from agent.slack.dedupe import EventDeduper
from agent.slack.store import StoreWriter

logger = logging.getLogger(__name__)

MAX_BATCH = 500
"""Most changes written in one go; bounds the statement size and how long the store is held."""


@dataclass(frozen=True)
class TimelineChange:
    """One change to an incident timeline, from one Slack event."""

    event_id: str | None
    """The delivery's event id, claimed once (None: not deduplicated by id)."""
    action: Literal["add", "edit", "delete", "pin", "unpin"]
    channel_id: str
    ts: str
    """The Slack timestamp of the message changed."""
    message: timeline.SlackMessage | None = None
    """The message to store (`add`; `pin` stores it when it was not stored before)."""
    text: str | None = None
    """The new text (`edit`)."""
    at: datetime | None = None
    """When it was edited or deleted."""


_STOP = object()


class TimelineIngest:
    """A queue of timeline changes and the thread that writes them."""

    def __init__(self, *, writer: StoreWriter, deduper: EventDeduper, max_batch: int = MAX_BATCH) -> None:
        self._writer = writer
        self._deduper = deduper
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[TimelineChange | object] = queue.SimpleQueue()
        self._pending = 0
        self._idle = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="slack-timeline", daemon=True)
        self._thread.start()

    def put(self, change: TimelineChange) -> None:
        """Queues a change; it is written shortly, with whatever else is queued by then."""
        with self._idle:
            self._pending += 1
        self._queue.put(change)

    def wait_idle(self, timeout: float) -> bool:
        """Returns True once every queued change is written, False if that takes longer than `timeout`."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout)

    def close(self) -> None:
        """Writes what is queued, then stops the thread."""
        self._queue.put(_STOP)
        self._thread.join()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            item = self._queue.get()
            batch: list[TimelineChange] = []
            while True:
                if item is _STOP:
                    stopping = True
                elif isinstance(item, TimelineChange):
                    batch.append(item)
                if stopping or len(batch) >= self._max_batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            try:
                if batch:
                    self._write(batch)
            except Exception:
                logger.exception("Writing %d timeline changes failed", len(batch))
            finally:
                with self._idle:
                    self._pending -= len(batch)
                    self._idle.notify_all()

    def _write(self, batch: list[TimelineChange]) -> None:
        claimed = self._deduper.claim_many([change.event_id for change in batch if change.event_id])
        changes: list[TimelineChange] = []
        for change in batch:
            if change.event_id is None:
                changes.append(change)
            elif change.event_id in claimed:
                changes.append(change)
                claimed.discard(change.event_id)  # a second delivery in the same batch is a duplicate
        if changes:
            self._writer.run(lambda session: _apply(session, changes))


def _apply(session: Session, changes: list[TimelineChange]) -> None:
    """Applies changes in order, storing each run of new messages with one commit."""
    run: list[timeline.SlackMessage] = []
    for change in changes:
        if change.action == "add" and change.message is not None:
            run.append(change.message)
            continue
        if run:
            timeline.add_slack_messages(db_session=session, messages=run)
            run = []
        if change.action == "edit" and change.text is not None and change.at is not None:
            timeline.edit_timeline_message(
                db_session=session,
                slack_channel_id=change.channel_id,
                slack_ts=change.ts,
                text=change.text,
                edited_at=change.at,
            )
        elif change.action == "delete" and change.at is not None:
            timeline.delete_timeline_message(
                db_session=session,
                slack_channel_id=change.channel_id,
                slack_ts=change.ts,
                deleted_at=change.at,
            )
        elif change.action in {"pin", "unpin"}:
            pinned = change.action == "pin"
            entry = timeline.set_pinned(
                db_session=session, slack_channel_id=change.channel_id, slack_ts=change.ts, pinned=pinned
            )
            if entry is None and pinned and change.message is not None:
                timeline.add_slack_messages(db_session=session, messages=[change.message])
    if run:
        timeline.add_slack_messages(db_session=session, messages=run)

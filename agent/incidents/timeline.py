"""Incident timelines: the entries of each incident, and the Slack messages stored in them.

An entry is a chat message, a note, the declaration or a status or severity change. One stored from Slack
keeps its channel and `ts`, so a message Slack delivers twice, or an export imported twice, is stored
once, and a later edit, deletion or pin finds it again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from agent.incidents.changes import mark_changed
from agent.incidents.enums import EntrySource, TimelineKind
from agent.incidents.models import TimelineEntry

_TS_CHUNK = 500
"""Slack timestamps per `IN (...)` query; far below every backend's parameter limit."""


# --- reads -------------------------------------------------------------------------------------------


def get_timeline(
    *, db_session: Session, incident_id: int, include_deleted: bool = False, pinned_only: bool = False
) -> list[TimelineEntry]:
    """Returns the incident's timeline entries in time order."""
    statement = select(TimelineEntry).where(TimelineEntry.incident_id == incident_id)
    if not include_deleted:
        statement = statement.where(TimelineEntry.deleted_at.is_(None))
    if pinned_only:
        statement = statement.where(TimelineEntry.pinned.is_(True))
    return list(db_session.scalars(statement.order_by(TimelineEntry.at, TimelineEntry.id)))


def count_messages(*, db_session: Session, incident_id: int) -> int:
    """Returns how many live (not deleted) chat messages the incident's timeline holds."""
    return (
        db_session.scalar(
            select(func.count(TimelineEntry.id)).where(
                TimelineEntry.incident_id == incident_id,
                TimelineEntry.kind == TimelineKind.message,
                TimelineEntry.deleted_at.is_(None),
            )
        )
        or 0
    )


def get_timelines(*, db_session: Session, incident_ids: Iterable[int]) -> dict[int, list[TimelineEntry]]:
    """Returns the live (not deleted) timeline entries of several incidents, each list in time order."""
    ids = list(dict.fromkeys(incident_ids))
    timelines: dict[int, list[TimelineEntry]] = {i: [] for i in ids}
    if not ids:
        return timelines
    statement = (
        select(TimelineEntry)
        .where(TimelineEntry.incident_id.in_(ids), TimelineEntry.deleted_at.is_(None))
        .order_by(TimelineEntry.incident_id, TimelineEntry.at, TimelineEntry.id)
    )
    for entry in db_session.scalars(statement):
        timelines[entry.incident_id].append(entry)
    return timelines


# --- writes ------------------------------------------------------------------------------------------


def add_timeline_entry(
    *,
    db_session: Session,
    incident_id: int,
    at: datetime,
    author: str,
    text: str,
    source: EntrySource | str,
    kind: TimelineKind = TimelineKind.message,
    slack_channel_id: str | None = None,
    slack_ts: str | None = None,
    permalink: str | None = None,
    pinned: bool = False,
) -> tuple[TimelineEntry, bool]:
    """Adds an entry and commits; returns (entry, created). A Slack message already stored is not added again."""
    if slack_ts is not None:
        existing = db_session.scalar(
            select(TimelineEntry).where(
                TimelineEntry.slack_channel_id == slack_channel_id, TimelineEntry.slack_ts == slack_ts
            )
        )
        if existing is not None:
            return existing, False
    entry = TimelineEntry(
        incident_id=incident_id,
        at=at,
        author=author,
        kind=kind.value,
        text=text,
        source=str(source),
        slack_channel_id=slack_channel_id,
        slack_ts=slack_ts,
        permalink=permalink,
        pinned=pinned,
    )
    try:
        with db_session.begin_nested():
            db_session.add(entry)
        mark_changed(db_session=db_session, incident_ids=(incident_id,))
        db_session.commit()
    except IntegrityError:
        # The same message arrived twice at once; the other delivery stored it.
        db_session.rollback()
        existing = db_session.scalar(
            select(TimelineEntry).where(
                TimelineEntry.slack_channel_id == slack_channel_id, TimelineEntry.slack_ts == slack_ts
            )
        )
        if existing is None:
            raise
        return existing, False
    return entry, True


def _entry_by_ts(db_session: Session, slack_channel_id: str, slack_ts: str) -> TimelineEntry | None:
    return db_session.scalar(
        select(TimelineEntry).where(
            TimelineEntry.slack_channel_id == slack_channel_id, TimelineEntry.slack_ts == slack_ts
        )
    )


def edit_timeline_message(
    *, db_session: Session, slack_channel_id: str, slack_ts: str, text: str, edited_at: datetime
) -> TimelineEntry | None:
    """Replaces the text of a stored Slack message; returns None when it was never stored."""
    entry = _entry_by_ts(db_session, slack_channel_id, slack_ts)
    if entry is None:
        return None
    entry.text = text
    entry.edited_at = edited_at
    mark_changed(db_session=db_session, incident_ids=(entry.incident_id,))
    db_session.commit()
    return entry


def delete_timeline_message(
    *, db_session: Session, slack_channel_id: str, slack_ts: str, deleted_at: datetime
) -> TimelineEntry | None:
    """Marks a stored Slack message as deleted, keeping the row as a record; None when never stored."""
    entry = _entry_by_ts(db_session, slack_channel_id, slack_ts)
    if entry is None:
        return None
    entry.deleted_at = deleted_at
    mark_changed(db_session=db_session, incident_ids=(entry.incident_id,))
    db_session.commit()
    return entry


def set_pinned(
    *, db_session: Session, slack_channel_id: str, slack_ts: str, pinned: bool
) -> TimelineEntry | None:
    """Records that a stored Slack message was pinned or unpinned; None when never stored."""
    entry = _entry_by_ts(db_session, slack_channel_id, slack_ts)
    if entry is None:
        return None
    entry.pinned = pinned
    db_session.commit()
    return entry


# --- Slack ingestion --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlackMessage:
    """A Slack message to store in an incident's timeline."""

    incident_id: int
    at: datetime
    author: str
    text: str
    slack_channel_id: str
    slack_ts: str
    permalink: str | None = None
    pinned: bool = False
    edited_at: datetime | None = None


def add_slack_messages(*, db_session: Session, messages: Sequence[SlackMessage]) -> int:
    """Returns how many messages were added to their timelines, in one commit.

    A message already stored (same channel and ts, in the store or earlier in `messages`) is skipped, so a
    burst with redeliveries stores each message once.
    """
    fresh = _unstored(db_session, messages)
    try:
        with db_session.begin_nested():
            _add_messages(db_session, fresh)
        db_session.commit()
        return len(fresh)
    except IntegrityError:
        # Another process stored some of them a moment ago: add the rest one at a time.
        db_session.rollback()
    added = 0
    for message in fresh:
        _entry, created = add_timeline_entry(
            db_session=db_session,
            incident_id=message.incident_id,
            at=message.at,
            author=message.author,
            text=message.text,
            source=EntrySource.slack,
            slack_channel_id=message.slack_channel_id,
            slack_ts=message.slack_ts,
            permalink=message.permalink,
            pinned=message.pinned,
        )
        added += created
    return added


def add_imported_slack_messages(*, db_session: Session, messages: Sequence[SlackMessage]) -> int:
    """Returns how many messages were added to their timelines, without committing (an import's transaction).

    A message already stored (same channel and ts, in the store or earlier in `messages`) is skipped, so
    importing the same export twice adds nothing.
    """
    fresh = _unstored(db_session, messages)
    _add_messages(db_session, fresh)
    return len(fresh)


def _unstored(db_session: Session, messages: Sequence[SlackMessage]) -> list[SlackMessage]:
    """Returns the messages whose (channel, ts) is neither stored nor earlier in `messages`."""
    fresh: dict[tuple[str, str], SlackMessage] = {}
    for message in messages:
        fresh.setdefault((message.slack_channel_id, message.slack_ts), message)
    channels: dict[str, list[str]] = {}
    for channel_id, ts in fresh:
        channels.setdefault(channel_id, []).append(ts)
    for channel_id, stamps in channels.items():
        # An exported channel can hold more messages than a backend takes parameters in one statement.
        for start in range(0, len(stamps), _TS_CHUNK):
            stored = db_session.scalars(
                select(TimelineEntry.slack_ts).where(
                    TimelineEntry.slack_channel_id == channel_id,
                    TimelineEntry.slack_ts.in_(stamps[start : start + _TS_CHUNK]),
                )
            )
            for ts in stored:
                fresh.pop((channel_id, ts), None)
    return list(fresh.values())


def _add_messages(db_session: Session, messages: Sequence[SlackMessage]) -> None:
    db_session.add_all(
        TimelineEntry(
            incident_id=message.incident_id,
            at=message.at,
            author=message.author,
            kind=TimelineKind.message.value,
            text=message.text,
            source=EntrySource.slack.value,
            slack_channel_id=message.slack_channel_id,
            slack_ts=message.slack_ts,
            permalink=message.permalink,
            pinned=message.pinned,
            edited_at=message.edited_at,
        )
        for message in messages
    )
    mark_changed(db_session=db_session, incident_ids=(message.incident_id for message in messages))

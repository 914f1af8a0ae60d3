"""Reading and moving catch-up marks, and listing what changed since a mark (keyword-only functions)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from agent.catchups.models import CatchupMark, ChangeRead, EntryRead, SinceLastTime
from agent.db import upsert
from agent.incidents.enums import TimelineKind
from agent.incidents.models import AuditRecord, TimelineEntry

MAX_ENTRIES = 15
"""New timeline entries shown at most; the full summary is one button away."""

WATCHED_CHANGES = ("severity", "status")


def last_seen(*, db_session: Session, user_id: str, incident_id: int) -> datetime | None:
    """Returns when the person last got a catch-up on the incident, None if never."""
    return db_session.scalar(
        select(CatchupMark.seen_at).where(
            CatchupMark.user_id == user_id, CatchupMark.incident_id == incident_id
        )
    )


def mark_seen(*, db_session: Session, user_id: str, incident_id: int, now: datetime) -> None:
    """Records that the person got a catch-up now (one upsert, safe when two replicas race)."""
    upsert(
        db_session,
        CatchupMark,
        values={"user_id": user_id, "incident_id": incident_id, "seen_at": now},
        keys=["user_id", "incident_id"],
        update={"seen_at": now},
    )
    db_session.commit()


def since(*, db_session: Session, incident_id: int, moment: datetime, now: datetime) -> SinceLastTime:
    """Returns the timeline entries added, and the severity and status changes made, after `moment`.

    Entries are those dated after `moment` (deleted ones left out) other than severity and status changes,
    which come from the audit log with who made them and are listed apart.
    """
    live = (
        TimelineEntry.incident_id == incident_id,
        TimelineEntry.kind.not_in([TimelineKind.severity_change.value, TimelineKind.status_change.value]),
        TimelineEntry.at > moment,
        TimelineEntry.at <= now,
        TimelineEntry.deleted_at.is_(None),
    )
    total = db_session.scalar(select(func.count()).select_from(TimelineEntry).where(*live)) or 0
    newest = db_session.scalars(
        select(TimelineEntry).where(*live).order_by(TimelineEntry.at.desc(), TimelineEntry.id.desc())
    ).fetchmany(MAX_ENTRIES)
    audits = db_session.scalars(
        select(AuditRecord)
        .where(AuditRecord.incident_id == incident_id, AuditRecord.at > moment, AuditRecord.at <= now)
        .order_by(AuditRecord.at, AuditRecord.id)
    ).all()
    changes = [
        ChangeRead(
            at=record.at,
            field=field,
            before=(record.before or {}).get(field),
            after=(record.after or {}).get(field),
            actor=record.actor,
        )
        for record in audits
        for field in WATCHED_CHANGES
        if (record.after or {}).get(field) is not None
        and (record.after or {}).get(field) != (record.before or {}).get(field)
    ]
    return SinceLastTime(
        incident_id=incident_id,
        since=moment,
        entries=[EntryRead(at=e.at, author=e.author, text=e.text) for e in reversed(newest)],
        changes=changes,
        more_entries=max(total - len(newest), 0),
    )

"""The audit log: who changed what, when, from where, with the values before and after.

A write adds its record to the session and commits it together with the change it describes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent.incidents.changes import mark_changed
from agent.incidents.enums import EntrySource
from agent.incidents.models import AuditRecord, Incident


def record_audit(
    *,
    db_session: Session,
    actor: str,
    source: EntrySource | str,
    action: str,
    now: datetime,
    incident_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditRecord:
    """Adds an audit record to the session (committed with the change it describes)."""
    record = AuditRecord(
        at=now,
        actor=actor,
        source=str(source),
        action=action,
        incident_id=incident_id,
        before=before,
        after=after,
    )
    db_session.add(record)
    return record


def record_import(
    *,
    db_session: Session,
    incident_ids: Iterable[int],
    actor: str,
    action: str,
    now: datetime,
    after: dict[str, Any],
) -> AuditRecord:
    """Returns the audit record of an import, added to the session; the incidents it wrote are reindexed on commit."""
    mark_changed(db_session=db_session, incident_ids=incident_ids)
    return record_audit(
        db_session=db_session, actor=actor, source=EntrySource.import_, action=action, now=now, after=after
    )


def audit_log(*, db_session: Session, incident_id: int | None = None, limit: int = 100) -> list[AuditRecord]:
    """Returns the newest audit records, optionally for one incident."""
    statement = select(AuditRecord).order_by(AuditRecord.at.desc(), AuditRecord.id.desc()).limit(limit)
    if incident_id is not None:
        statement = statement.where(AuditRecord.incident_id == incident_id)
    return list(db_session.scalars(statement))


def snapshot(incident: Incident) -> dict[str, Any]:
    """Returns the audited fields of an incident as JSON-ready values."""
    return {
        "title": incident.title,
        "severity": incident.severity,
        "status": incident.status,
        "commander": incident.commander,
        "services": incident.service_names,
        "version": incident.version,
    }

"""JSON views of incidents shared by the tools, the CLI's `--json` output and the Slack app."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from agent.incidents.enums import TimelineKind
from agent.incidents.models import Incident, TimelineEntry

EXCERPT_EVENTS = 6
"""Most lifecycle events (declared, status and severity changes) in a timeline excerpt."""

EXCERPT_MESSAGES = 8
"""Most chat messages in a timeline excerpt: the first two and the latest ones."""

EXCERPT_TEXT_CHARS = 240


def iso(moment: datetime | None) -> str | None:
    """Returns an ISO-8601 UTC time with a `Z`, or None."""
    if moment is None:
        return None
    return moment.isoformat().replace("+00:00", "Z")


def incident_brief(incident: Incident) -> dict[str, Any]:
    """Returns the `IncidentBrief` of the tool contract."""
    return {
        "id": incident.public_id,
        "title": incident.title,
        "severity": incident.severity,
        "status": incident.status,
        "services": incident.service_names,
        "declared_at": iso(incident.declared_at),
        "resolved_at": iso(incident.resolved_at),
    }


def timeline_excerpt(entries: Sequence[TimelineEntry]) -> list[dict[str, Any]]:
    """Returns the entries worth showing: lifecycle events, the first messages and the latest ones."""
    live = [entry for entry in entries if entry.deleted_at is None]
    events = [entry for entry in live if entry.kind != TimelineKind.message][:EXCERPT_EVENTS]
    messages = [entry for entry in live if entry.kind == TimelineKind.message]
    if len(messages) > EXCERPT_MESSAGES:
        messages = messages[:2] + messages[-(EXCERPT_MESSAGES - 2) :]
    chosen = sorted({entry.id: entry for entry in events + messages}.values(), key=lambda e: (e.at, e.id))
    return [
        {
            "at": iso(entry.at),
            "author": entry.author,
            "kind": entry.kind,
            "text": entry.text
            if len(entry.text) <= EXCERPT_TEXT_CHARS
            else entry.text[:EXCERPT_TEXT_CHARS] + "…",
        }
        for entry in chosen
    ]


def incident_detail(
    incident: Incident, *, timeline: Sequence[TimelineEntry], message_count: int
) -> dict[str, Any]:
    """Returns the `IncidentDetail` of the tool contract; unknown root cause or remediation is null."""
    return {
        **incident_brief(incident),
        "commander": incident.commander,
        "responders": list(incident.responders or []),
        "stable_at": iso(incident.stable_at),
        "completed_at": iso(incident.completed_at),
        "summary": incident.summary,
        "customer_impact": incident.customer_impact,
        "root_cause": incident.root_cause,
        "remediation": incident.remediation,
        "channel": incident.slack_channel_name,
        "message_count": message_count,
        "timeline_excerpt": timeline_excerpt(timeline),
    }

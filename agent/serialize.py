"""JSON views of incidents shared by the tools, the CLI's `--json` output and the Slack app."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
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


def format_duration(delta: timedelta) -> str:
    """Format a duration compactly: ``"45m"``, ``"2h 10m"``, ``"3d 4h"``.

    Args:
        delta: The duration; negative durations count as zero.

    Returns:
        The formatted duration (``"<1m"`` below a minute).
    """
    minutes = max(int(delta.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m" if minutes else "<1m"


def duration_text(delta: timedelta) -> str:
    """Returns a duration as people read it: "34 min", "3h 49m", or "1d 3h (27h 5m)" past a day."""
    compact = format_duration(delta)
    if timedelta(minutes=1) <= delta < timedelta(hours=1):
        return f"{int(delta.total_seconds() // 60)} min"
    if delta < timedelta(days=1):
        return compact
    hours, minutes = divmod(int(delta.total_seconds() // 60), 60)
    return f"{compact} ({hours}h {minutes}m)"


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
        "commander": incident.commander,
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
        # Computed here from the stored times, so no model ever does the arithmetic.
        "duration": duration_text(incident.resolved_at - incident.declared_at)
        if incident.resolved_at
        else None,
        "mitigated_after": duration_text(incident.stable_at - incident.declared_at)
        if incident.stable_at
        else None,
        "message_count": message_count,
        "timeline_excerpt": timeline_excerpt(timeline),
    }

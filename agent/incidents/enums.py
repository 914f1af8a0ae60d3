"""Enumerations of the incident domain and the status transitions they allow."""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    """Incident severity, SEV-1 being the worst."""

    sev1 = "SEV-1"
    sev2 = "SEV-2"
    sev3 = "SEV-3"
    sev4 = "SEV-4"
    sev5 = "SEV-5"
    unknown = "unknown"


class Status(StrEnum):
    """Incident lifecycle status."""

    active = "active"
    stable = "stable"
    resolved = "resolved"
    completed = "completed"


ONGOING_STATUSES: frozenset[Status] = frozenset({Status.active, Status.stable})
"""What people mean by "ongoing" or "open"."""

RESOLVED_STATUSES: frozenset[Status] = frozenset({Status.resolved, Status.completed})
"""Over: resolved, with or without the postmortem done."""

ALLOWED_TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.active: frozenset({Status.stable, Status.resolved}),
    # A stable incident can flare up again, and a resolved one can be reopened.
    Status.stable: frozenset({Status.active, Status.resolved}),
    Status.resolved: frozenset({Status.active, Status.completed}),
    # Completed means the postmortem is done; reopening it would rewrite history.
    Status.completed: frozenset(),
}


class TimelineKind(StrEnum):
    """What a timeline entry records."""

    message = "message"
    status_change = "status_change"
    severity_change = "severity_change"
    note = "note"
    declared = "declared"


class EntrySource(StrEnum):
    """Where a timeline entry or an audited change came from."""

    slack = "slack"
    cli = "cli"
    studio = "studio"
    import_ = "import"
    copilot = "copilot"

"""Domain errors; each message is written to be shown to the person who asked."""

from __future__ import annotations


class IncidentCopilotError(Exception):
    """Base class of every error a user may see."""


class IncidentNotFound(IncidentCopilotError):
    """No incident has that reference."""


class InvalidSeverity(IncidentCopilotError):
    """The text does not name a severity."""


class InvalidStatus(IncidentCopilotError):
    """The text does not name a status."""


class IllegalTransition(IncidentCopilotError):
    """The status change is not allowed from the current status."""


class NoChange(IncidentCopilotError):
    """The requested value is already the current one."""


class PermissionDenied(IncidentCopilotError):
    """The person asking may not make this change."""


class ConcurrentUpdate(IncidentCopilotError):
    """Someone else changed the incident at the same moment and retries ran out."""


class InvalidInput(IncidentCopilotError):
    """Input that cannot be accepted, with the reason."""


class SearchUnavailable(IncidentCopilotError):
    """The search index cannot be reached; what the store answers (counts, lists, details) still works."""

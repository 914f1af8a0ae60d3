"""Who may change an incident, and whether the person talking to the agent asked for a change.

Two separate checks guard every write. `check_may_change` is about people: at the terminal the operator
may change anything; elsewhere the policy `Context.write_permission` decides (`channel_members`: the
members of the incident's channel, as the Slack layer passes them in `Context.allowed_confirmers`, and its
responders; `responders`: its commander and responders; `anyone`). Declaring a new incident is open to
everyone talking to the agent. `write_was_requested` is about intent: a write follows only from the latest
message of the person talking to the agent, never from text the agent read in a tool result or timeline.
"""

from __future__ import annotations

import re
from typing import Literal

from agent.context import Context
from agent.incidents.enums import Severity, Status
from agent.incidents.exceptions import InvalidInput, InvalidSeverity, InvalidStatus, PermissionDenied
from agent.incidents.models import Incident
from agent.lexicon import DECLARE_REQUEST_PHRASES, asker_words
from agent.normalize import find_severities, parse_severity, parse_status

WRITE_PERMISSIONS = ("channel_members", "responders", "anyone")
WriteAction = Literal["declare", "update_severity", "set_status"]

_DECLARE_RE = re.compile(DECLARE_REQUEST_PHRASES, re.IGNORECASE)
_WORD_RE = re.compile(r"[a-z]+")


def may_change(user: str | None, *, context: Context, incident: Incident | None) -> bool:
    """Returns whether `user` may ask for or confirm a change to `incident` (None: a new incident)."""
    if context.operator:
        return True
    if not user:
        return False
    if incident is None:
        return True
    policy = context.write_permission
    if policy not in WRITE_PERMISSIONS:
        raise InvalidInput(f"Unknown write permission '{policy}'; use {', '.join(WRITE_PERMISSIONS)}.")
    if policy == "anyone":
        return True
    responders = {*(incident.responders or []), *([incident.commander] if incident.commander else [])}
    if policy == "channel_members" and context.allowed_confirmers is not None:
        return user in responders or user in context.allowed_confirmers
    return user in responders


def check_may_change(user: str | None, *, context: Context, incident: Incident | None) -> None:
    """Raises PermissionDenied, with who may, unless `user` may change `incident`."""
    if may_change(user, context=context, incident=incident):
        return
    if incident is None:
        raise PermissionDenied("I need to know who is asking before I declare an incident.")
    who = {
        "responders": "its commander and responders",
        "channel_members": "members of its channel and its responders",
    }.get(context.write_permission, "its responders")
    raise PermissionDenied(
        f"{user or 'An unknown user'} may not change {incident.public_id}; only {who} may."
    )


def _words(text: str) -> list[str]:
    return _WORD_RE.findall(text.lower())


def _names_severity(word: str, severity: Severity) -> bool:
    try:
        return parse_severity(word) is severity
    except InvalidSeverity:
        return False


def _names_status(word: str, status: Status) -> bool:
    # "resolve", "close", "stabilise" name the status their participle does.
    for form in (word, f"{word}d", f"{word}ed"):
        try:
            if parse_status(form) is status:
                return True
        except InvalidStatus:
            continue
    return False


def write_was_requested(action: WriteAction, message: str, *, value: Severity | Status | None = None) -> bool:
    """Returns whether the person's own message asks for this kind of change (and this value); quoted or
    pasted text in it (`asker_words`) asks for nothing."""
    message = asker_words(message)
    if action == "declare":
        return bool(_DECLARE_RE.search(message))
    if action == "update_severity" and isinstance(value, Severity):
        # "change sev to 3": a bare level counts where the message speaks of severity.
        bare = re.findall(r"\b[1-5]\b", message) if re.search(r"\bsev", message, re.IGNORECASE) else []
        return value in find_severities(message) or any(
            _names_severity(w, value) for w in [*_words(message), *bare]
        )
    if action == "set_status" and isinstance(value, Status):
        return any(_names_status(w, value) for w in _words(message))
    return False

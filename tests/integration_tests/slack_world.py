"""The Slack workspace the Slack tests share: people, channels, seeded incidents, and a runner double."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from agent.db import session_scope
from agent.incidents import service, timeline
from agent.incidents.enums import EntrySource, Severity
from agent.runner import AgentReply, PendingConfirmation, TurnEvent
from agent.settings import Settings
from tests.conftest import NOW

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"

PRIYA, MARCUS, SAM, CHLOE = "U0PRIYA", "U0MARCUS", "U0SAM", "U0CHLOE"
INC1, INC2, INC3, GENERAL = "C0INC1", "C0INC2", "C0INC3", "C0GENERAL"


# --- a runner double for the HTTP mechanics ---------------------------------------------------------------


@dataclass
class ScriptedRunner:
    """Answers from a table (first matching phrase wins) and records every call; it changes nothing."""

    replies: dict[str, AgentReply] = field(default_factory=dict)
    error: Exception | None = None
    asked: list[dict[str, Any]] = field(default_factory=list)
    resumed: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def ask(self, question: str, **kwargs: Any) -> AgentReply:
        with self._lock:
            self.asked.append({"question": question, **kwargs})
        if self.error is not None:
            raise self.error
        reply = next(
            (reply for phrase, reply in self.replies.items() if phrase.lower() in question.lower()),
            AgentReply(answer=f"You asked: {question}", tool_calls=[], incidents=[]),
        )
        # Reports progress as the real runner does: each tool before it is called, then the answer's text.
        progress = kwargs.get("progress")
        if progress is not None:
            for call in reply.tool_calls:
                progress(TurnEvent(kind="tool", value=call["name"]))
            if reply.pending is None:
                progress(TurnEvent(kind="text", value=reply.answer))
        return reply

    def resume(self, thread_id: str, **kwargs: Any) -> AgentReply:
        with self._lock:
            self.resumed.append({"thread_id": thread_id, **kwargs})
        verdict = "applied" if kwargs["confirmed"] else "dropped"
        return AgentReply(answer=f"The change was {verdict}.", tool_calls=[], incidents=[])


SEVERITY_CHANGE = PendingConfirmation(
    action="update_severity",
    incident="incident-1",
    summary="Change the severity of incident-1 from SEV-2 to SEV-1.",
    changes={"severity": ["SEV-2", "SEV-1"]},
    requested_by="Priya Raman",
)


def seed_incidents(store: Engine) -> None:
    """incident-1 (linked by channel id, 12 messages), -2 (private, linked by name, 12), -3 (3 messages)."""
    with session_scope(store) as session:
        for number, (title, channel_id, private, messages) in enumerate(
            [
                ("Checkout errors for EU customers", INC1, False, 12),
                ("Leaked deploy key", None, True, 12),
                ("Search is slow", None, False, 3),
            ],
            start=1,
        ):
            declared = NOW - timedelta(hours=3 + number)
            service.declare(
                db_session=session,
                title=title,
                severity=Severity.sev2,
                now=declared,
                actor="Priya Raman",
                source=EntrySource.cli,
                services=["checkout"],
                slack_channel_id=channel_id,
                private=private,
            )
            for index in range(messages):
                timeline.add_timeline_entry(
                    db_session=session,
                    incident_id=number,
                    at=declared + timedelta(minutes=5 * (index + 1)),
                    author="Marcus Chen" if index % 2 else "Priya Raman",
                    text=f"Checkout error rate is {index + 10}% for EU customers; rolled back deploy {index}.",
                    source=EntrySource.import_,
                )


def slack_settings(tmp_path: Path, api_url: str, **overrides: str) -> Settings:
    """Returns settings for the app under test, ignoring the developer's environment and `.env`."""
    values = {
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": api_url,
        "INCIDENT_COPILOT_DATA_DIR": str(tmp_path / "data"),
        "INCIDENT_COPILOT_MODEL": "offline",
        "INCIDENT_CHANNEL_PREFIX": "incident-",
        "INCIDENT_COPILOT_TIMELINE_SYNC": "all",
        "INCIDENT_COPILOT_WRITE_PERMISSION": "channel_members",
    }
    return Settings(_env_file=None, **(values | overrides))  # type: ignore[call-arg]


def in_thread(channel: str, thread_ts: str) -> Callable[[dict[str, Any]], bool]:
    return lambda params: params.get("channel") == channel and params.get("thread_ts") == thread_ts

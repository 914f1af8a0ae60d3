"""Runtime context of the agent: which model, which clock, which store, who may confirm writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from agent.settings import Settings, get_settings

SOURCES = ("cli", "slack", "studio")
"""Where a conversation happens; recorded as the source of audited changes."""


@dataclass(kw_only=True)
class Context:
    """Settings of one agent run; empty fields fall back to the environment (see `agent.settings`)."""

    model: Annotated[str, {"__template_metadata__": {"kind": "llm"}}] = field(
        default="",
        metadata={
            "description": "Chat model: `offline`, `openai:<model>` or `auto`. "
            "Empty means INCIDENT_COPILOT_MODEL."
        },
    )
    """Chat model name; resolved by `agent.models.load_chat_model`."""

    chat_model: Any = field(
        default=None,
        metadata={"description": "A chat model object used instead of `model` (tests and evals)."},
    )
    """A ready chat model that overrides `model`; never set from Studio."""

    now: datetime | None = field(
        default=None,
        metadata={"description": "The clock of this run (ISO-8601); empty means the real clock."},
    )
    """Frozen current time, or None for the real clock."""

    database_url: str = field(
        default="",
        metadata={
            "description": "SQLAlchemy URL of the incident store; empty means DATABASE_URL or the data folder."
        },
    )
    """Where the incidents are."""

    data_dir: str = field(
        default="",
        metadata={
            "description": "Folder of the SQLite store and the search index; empty means INCIDENT_COPILOT_DATA_DIR."
        },
    )
    """Folder of the store and the Chroma index."""

    summary_min_messages: int = field(
        default=1, metadata={"description": "Fewest timeline messages a summary asked for needs."}
    )
    """Fewest timeline messages `summarize_timeline` accepts: anyone may ask for a summary at any time; only
    the one given on joining a channel waits for ten (`agent.slack.catchup.MIN_MESSAGES`)."""

    postmortem_min_messages: int = field(
        default=15, metadata={"description": "Fewest timeline messages worth a postmortem draft."}
    )
    """Fewest timeline messages `draft_postmortem` accepts."""

    related_window_hours: float = field(
        default=2.0,
        metadata={
            "description": "With no time frame, related incidents are those active this many hours back."
        },
    )
    """Look-back of `related_incidents` when no time frame is given."""

    max_history_tokens: int = field(
        default=1500,
        metadata={"description": "Token budget of earlier conversation turns sent to the model."},
    )
    """Older turns beyond this budget are dropped (the current turn is always kept)."""

    max_tool_result_chars: int = field(
        default=4000, metadata={"description": "Longest tool result (characters) the model gets."}
    )
    """Tool results are shortened, list items first, to fit."""

    source: str = field(
        default="studio", metadata={"description": "Where the conversation happens: cli, slack or studio."}
    )
    """Recorded as the source of every audited change."""

    operator: bool = field(
        default=False,
        metadata={"description": "The person asking is at the terminal and may confirm any change."},
    )
    """Terminal users are operators; Slack users are not."""

    allowed_confirmers: list[str] | None = field(
        default=None,
        metadata={"description": "Users who may confirm changes here (Slack: the channel's members)."},
    )
    """Filled by the Slack layer; None means the incident's responders."""

    auto_confirm: bool = field(
        default=False,
        metadata={"description": "Apply allowed changes without asking (CLI --yes)."},
    )
    """Skip the confirmation pause; permissions still apply."""

    write_permission: str = field(
        default="",
        metadata={
            "description": "Who may confirm changes outside the terminal: channel_members, responders or "
            "anyone. Empty means INCIDENT_COPILOT_WRITE_PERMISSION."
        },
    )
    """Permission policy of `agent.permissions`."""

    model_attempts: int = field(
        default=3, metadata={"description": "Tries per model call before giving up on a failing model."}
    )
    """Attempts of a model call on timeouts, rate limits and server errors."""

    model_retry_wait_seconds: float = field(
        default=1.0, metadata={"description": "First wait between model retries; doubles each time."}
    )
    """Base of the exponential backoff between model retries."""

    def __post_init__(self) -> None:
        """Fill empty fields from the environment and parse values Studio sends as strings."""
        settings = get_settings()
        self.model = self.model or settings.model
        self.data_dir = self.data_dir or str(settings.data_dir)
        self.database_url = self.database_url or self.settings().sqlalchemy_url
        self.write_permission = self.write_permission or settings.write_permission
        if isinstance(self.now, str):
            # Studio and the HTTP API pass the context as JSON.
            moment = datetime.fromisoformat(self.now)
            self.now = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        if self.now is not None and self.now.tzinfo is None:
            raise ValueError("Context.now must carry a time zone")
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}, not {self.source!r}")

    def settings(self) -> Settings:
        """Returns the process settings with this context's data folder and database."""
        updates: dict[str, Any] = {"data_dir": Path(self.data_dir)}
        if self.database_url:
            updates["database_url"] = self.database_url
        return get_settings().model_copy(update=updates)

    def clock(self) -> datetime:
        """Returns the time of this run: the frozen `now`, else the real clock."""
        return self.now or datetime.now(UTC)

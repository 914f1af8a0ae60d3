"""Process-wide settings read from environment variables and an optional `.env` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting Incident Copilot reads; each field is documented in README.md."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    data_dir: Path = Field(
        default=Path(".incident-copilot"),
        validation_alias="INCIDENT_COPILOT_DATA_DIR",
        description="Folder for the SQLite database, the Chroma index and the Slack checkpoints.",
    )
    database_url: str | None = Field(
        default=None,
        validation_alias="DATABASE_URL",
        description="Any SQLAlchemy URL; overrides the SQLite file in the data folder.",
    )
    chroma_host: str | None = Field(default=None, validation_alias="CHROMA_HOST")
    chroma_port: int = Field(default=8000, validation_alias="CHROMA_PORT")
    chroma_collection: str = Field(default="incidents", validation_alias="CHROMA_COLLECTION")
    model: str = Field(
        default="auto",
        validation_alias="INCIDENT_COPILOT_MODEL",
        description="`offline`, `openai:<model>`, or `auto` (openai:gpt-4o-mini when OPENAI_API_KEY is set).",
    )
    openai_api_key: str | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, validation_alias="OPENAI_BASE_URL")
    model_timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        validation_alias="INCIDENT_COPILOT_MODEL_TIMEOUT",
        description="Seconds one model request may take before it counts as failed (and is retried).",
    )
    model_max_output_tokens: int = Field(
        default=1024,
        gt=0,
        validation_alias="INCIDENT_COPILOT_MODEL_MAX_OUTPUT_TOKENS",
        description="Most tokens a model may write in one reply: a weak model that rambles stops there.",
    )
    model_server_dir: Path = Field(
        default=Path.home() / ".cache" / "incident-copilot" / "model-server",
        validation_alias="INCIDENT_COPILOT_MODEL_SERVER_DIR",
        description="`model-server`: its own virtual environment and the assembled GGUF model.",
    )
    incident_channel_prefix: str = Field(default="incident-", validation_alias="INCIDENT_CHANNEL_PREFIX")
    timeline_sync: str = Field(
        default="all",
        validation_alias="INCIDENT_COPILOT_TIMELINE_SYNC",
        description="`all` channel messages go into the timeline, or only `pinned` ones.",
    )
    write_permission: str = Field(
        default="channel_members",
        validation_alias="INCIDENT_COPILOT_WRITE_PERMISSION",
        description="Who may confirm writes in Slack: `channel_members`, `responders`, or `anyone`.",
    )
    feedback_retention_days: int = Field(
        default=90,
        ge=1,
        validation_alias="INCIDENT_COPILOT_FEEDBACK_RETENTION_DAYS",
        description="Days answers and their feedback votes are kept before they are deleted.",
    )
    slack_bot_token: str | None = Field(default=None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: str | None = Field(default=None, validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: str | None = Field(default=None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field(default="https://slack.com/api/", validation_alias="SLACK_API_URL")

    @property
    def sqlalchemy_url(self) -> str:
        """Returns the database URL, defaulting to a SQLite file in the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'incidents.db').resolve()}"

    @property
    def chroma_path(self) -> Path:
        """Returns the folder of the embedded Chroma index."""
        return self.data_dir / "chroma"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Returns the settings of this process, read once."""
    return Settings()

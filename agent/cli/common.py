"""What every CLI command shares: the console, the store, the clock and error reporting."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from agent.db import engine_for, session_scope
from agent.incidents.exceptions import IncidentCopilotError
from agent.settings import get_settings

console = Console()
err_console = Console(stderr=True)

NowOption = Annotated[str | None, typer.Option("--now", help="Freeze the clock at this ISO-8601 time.")]
ModelOption = Annotated[
    str | None,
    typer.Option("--model", help="offline, openai:<model> or auto (default: INCIDENT_COPILOT_MODEL)."),
]


def store_engine() -> Engine:
    """Returns the migrated engine of the configured store."""
    return engine_for(get_settings().sqlalchemy_url)


@contextmanager
def store_session() -> Iterator[Session]:
    """Yields a session on the configured store; domain errors end the command with exit code 1."""
    try:
        with session_scope(store_engine()) as session:
            yield session
    except IncidentCopilotError as error:
        err_console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from error


def parse_now(value: str | None) -> datetime:
    """Returns the clock for a command: `--now` (ISO-8601) when given, else the current UTC time."""
    if not value:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise typer.BadParameter(f"'{value}' is not an ISO-8601 time, e.g. 2026-11-27T12:00:00Z") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

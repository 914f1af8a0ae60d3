"""`incident-copilot slack`: serve the Slack app (HTTP or Socket Mode) and print its manifest."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from agent.cli.common import console, err_console, parse_now, store_engine
from agent.settings import get_settings

MANIFEST_PATH = Path(__file__).resolve().parents[2] / "slack" / "manifest.yaml"
"""The app manifest to install the Slack app from (top-level `slack/` folder)."""

PLACEHOLDER_HOST = "https://YOUR-HOST"

slack_app = typer.Typer(help="Run the Slack app and print its manifest.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Adds this module's commands to the CLI."""
    app.add_typer(slack_app, name="slack")


@slack_app.command("serve")
def serve(
    port: int = typer.Option(3000, help="HTTP port; Slack posts to /slack/events on it."),
    host: str = typer.Option("0.0.0.0", help="Interface to listen on."),  # Slack must reach it
    socket: bool = typer.Option(
        False, "--socket", help="Use Socket Mode (needs SLACK_APP_TOKEN) instead of HTTP."
    ),
    agent_processes: int = typer.Option(
        2, "--agent-processes", min=0, help="Worker processes for agent turns (0: threads of the server)."
    ),
    now: str | None = typer.Option(
        None, "--now", help="Freeze the clock (ISO-8601), e.g. to serve a demo store."
    ),
) -> None:
    """Serve the Slack app: HTTP on /slack/events, or Socket Mode with --socket."""
    from agent.slack.app import build_app, runtime_for  # lazy: +3.7 s (Bolt) start-up
    from agent.slack.server import EVENTS_PATH, serve_http, serve_socket_mode

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    try:
        frozen = parse_now(now) if now else None
        clock = (lambda: frozen) if frozen is not None else None
        app = build_app(
            settings=settings,
            engine=store_engine(),
            socket_mode=socket,
            now=clock,
            agent_processes=agent_processes,
        )
    except ValueError as error:
        err_console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from error
    runtime = runtime_for(app)
    runtime.warm_up()
    try:
        if socket:
            console.print(f"Incident Copilot: Socket Mode via {settings.slack_api_url}")
            serve_socket_mode(app, app_token=settings.slack_app_token or "")
        else:
            console.print(f"Incident Copilot: listening on http://{host}:{port}{EVENTS_PATH}")
            serve_http(app, host=host, port=port)
    finally:
        runtime.close()


@slack_app.command("manifest")
def manifest(
    url: str = typer.Option(
        PLACEHOLDER_HOST, help="Public base URL of `slack serve`, e.g. https://copilot.example.com"
    ),
    socket: bool = typer.Option(
        False, "--socket", help="A manifest for Socket Mode (no request URLs needed)."
    ),
) -> None:
    """Print the Slack app manifest to paste into api.slack.com/apps (Create New App > From a manifest)."""
    text = MANIFEST_PATH.read_text(encoding="utf-8").replace(PLACEHOLDER_HOST, url.rstrip("/"))
    if socket:
        text = text.replace("socket_mode_enabled: false", "socket_mode_enabled: true")
    typer.echo(text, nl=False)

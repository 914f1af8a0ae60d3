"""The `incident-copilot` command line; each sub-module registers its own commands."""

from __future__ import annotations

import typer

from agent.cli import conversation, evals, feedback, model_server, postmortems, slack, store

app = typer.Typer(
    name="incident-copilot",
    help="Incident Copilot: ask about your incident history, manage incidents, draft postmortems.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

for module in (store, conversation, slack, postmortems, evals, feedback, model_server):
    module.register(app)


def main() -> None:
    """Runs the command line."""
    app()

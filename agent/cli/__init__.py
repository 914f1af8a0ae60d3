"""The `incident-copilot` command line; each sub-module registers its own commands.

Commands import the agent, search, Slack, the evaluation runner and the model providers inside their
bodies, each marked `# lazy: +N s`: what it adds to the start-up of every command (`--help` included),
measured with `python -X importtime` on the 2-core development machine, where `import agent.cli` takes
0.9 s. The store, the importers, postmortems and normalisation add 0.16 s together, so they are imported
at the top.
"""

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

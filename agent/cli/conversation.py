"""`incident-copilot ask` and `chat`: the agent in the terminal, where the user is an operator."""

from __future__ import annotations

import getpass
import json
import sys
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from agent.cli.common import ModelOption, NowOption, err_console, parse_now
from agent.context import Context
from agent.incidents.exceptions import IncidentCopilotError

if TYPE_CHECKING:
    from agent.runner import AgentReply, AgentRunner, PendingConfirmation

EXIT_WORDS = frozenset({"exit", "quit", "bye", ":q"})

ChannelOption = Annotated[
    str | None,
    typer.Option("--channel", help="Ask in this Slack channel's context, e.g. incident-123-checkout-errors."),
]
UserOption = Annotated[str | None, typer.Option("--user", help="Who is asking (default: the OS user).")]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Confirm changes without asking.")]


def _runner(*, model: str | None, now: datetime | None, yes: bool) -> AgentRunner:
    from agent.runner import AgentRunner  # lazy: +2.7 s (LangGraph) start-up

    context = Context(
        model=model or "",
        now=now,
        source="cli",
        operator=True,
        auto_confirm=yes,
    )
    return AgentRunner(context)


def _show_pending(pending: PendingConfirmation) -> None:
    typer.echo(pending.summary)
    for field, (before, after) in pending.changes.items():
        if before != after:
            typer.echo(f"  {field}: {before if before is not None else '-'} -> {after}")


def _settle(runner: AgentRunner, reply: AgentReply, *, thread_id: str, user: str) -> AgentReply:
    """Asks on the terminal about each change the agent proposes, until the turn ends."""
    while reply.pending is not None:
        _show_pending(reply.pending)
        try:
            confirmed = typer.confirm("Confirm?", default=False)
        except typer.Abort:
            # No terminal to answer (end of input, Ctrl-C): nothing is confirmed.
            confirmed = False
        reply = runner.resume(thread_id, confirmed=confirmed, user=user)
    return reply


def ask(
    question: Annotated[str, typer.Argument(help="The question, in your own words.")],
    channel: ChannelOption = None,
    user: UserOption = None,
    now: NowOption = None,
    model: ModelOption = None,
    yes: YesOption = False,
    json_output: Annotated[
        bool,
        typer.Option("--json", help="Print one JSON object: answer, tool_calls, incidents (and pending)."),
    ] = False,
) -> None:
    """Answer one question about your incidents (changes ask for confirmation unless --yes)."""
    asker = user or getpass.getuser()
    thread_id = str(uuid.uuid4())
    try:
        # A one-shot question gets one clock: --now, else the moment it was asked.
        runner = _runner(model=model, now=parse_now(now), yes=yes)
        reply = runner.ask(question, thread_id=thread_id, channel=channel, user=asker)
        if not json_output:
            reply = _settle(runner, reply, thread_id=thread_id, user=asker)
    except IncidentCopilotError as error:
        err_console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from error
    if json_output:
        typer.echo(json.dumps(reply.to_dict(), ensure_ascii=False))
    else:
        typer.echo(reply.answer)
        # On stderr, so the answer alone stays on stdout for scripts; a terminal shows both.
        sys.stdout.flush()
        err_console.print(f"[dim]{escape(reply.interpretation.line())}[/dim]", highlight=False)


def chat(
    channel: ChannelOption = None,
    user: UserOption = None,
    now: NowOption = None,
    model: ModelOption = None,
    yes: YesOption = False,
) -> None:
    """Talk with the agent in the terminal; it remembers the conversation until you type exit."""
    asker = user or getpass.getuser()
    thread_id = str(uuid.uuid4())
    # Without --now the clock runs: a conversation can last a while.
    runner = _runner(model=model, now=parse_now(now) if now else None, yes=yes)
    typer.echo("Ask about your incidents; type exit to leave.")
    while True:
        try:
            question = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            typer.echo()
            return
        if not question:
            continue
        if question.lower() in EXIT_WORDS:
            return
        try:
            reply = runner.ask(question, thread_id=thread_id, channel=channel, user=asker)
            reply = _settle(runner, reply, thread_id=thread_id, user=asker)
        except IncidentCopilotError as error:
            err_console.print(f"[red]{error}[/red]")
            continue
        typer.echo(f"copilot> {reply.answer}")


def register(app: typer.Typer) -> None:
    """Adds `ask` and `chat` to the CLI."""
    app.command("ask")(ask)
    app.command("chat")(chat)

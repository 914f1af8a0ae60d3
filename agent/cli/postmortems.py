"""`incident-copilot templates`, `postmortem` and `summary`: templates, postmortem drafts and catch-ups.

Drafts and summaries are printed as plain Markdown on stdout (so they can be piped or redirected);
status lines and errors go to stderr. Every refusal (incident not resolved, too few messages, a
postmortem already linked, a template with problems) exits with code 1 and says why.
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from agent.cli.common import ModelOption, NowOption, err_console, parse_now, store_session
from agent.incidents import service as incident_service
from agent.normalize import parse_incident_ref
from agent.postmortems import service
from agent.postmortems.templates import parse_template, validate_template
from agent.settings import get_settings
from agent.summaries.extract import NotEnoughTimeline
from agent.summaries.render import render_summary_markdown

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

templates_app = typer.Typer(
    help="Postmortem templates: list, show, create, validate, delete.", no_args_is_help=True
)
postmortem_app = typer.Typer(
    help="Postmortem drafts: generate, show, export, unlink, history.", no_args_is_help=True
)

IncidentArgument = Annotated[str, typer.Argument(help="The incident, e.g. incident-42, #42 or 42.")]
UserOption = Annotated[str | None, typer.Option("--user", help="Who is acting (default: the OS user).")]


def register(app: typer.Typer) -> None:
    """Adds this module's commands to the CLI."""
    app.add_typer(templates_app, name="templates")
    app.add_typer(postmortem_app, name="postmortem")
    app.command("summary")(summary)


# --- templates -------------------------------------------------------------------------------------


@templates_app.command("list")
def templates_list() -> None:
    """List the postmortem templates, one line each (the built-in ones are always there)."""
    with store_session() as db_session:
        service.ensure_builtin_templates(db_session=db_session, now=parse_now(None))
        templates = service.list_templates(db_session=db_session)
    width = max(len(template.name) for template in templates)
    for template in templates:
        fields = parse_template(template.body).fields
        kind = "built-in" if template.builtin else "custom"
        typer.echo(
            f"{template.name:<{width}}  {kind:<8}  updated {template.updated_at:%Y-%m-%d %H:%M} UTC  "
            f"variables: {', '.join(fields) or 'none'}"
        )


@templates_app.command("show")
def templates_show(name: Annotated[str, typer.Argument(help="Template name.")]) -> None:
    """Print a template's Markdown source."""
    with store_session() as db_session:
        service.ensure_builtin_templates(db_session=db_session, now=parse_now(None))
        template = service.get_template_or_raise(db_session=db_session, name=name)
    typer.echo(template.body, nl=not template.body.endswith("\n"))


@templates_app.command("create")
def templates_create(
    name: Annotated[str, typer.Argument(help="Name of the new template, e.g. team-lite.")],
    file: Annotated[
        Path, typer.Argument(help="Markdown file with the template.", exists=True, dir_okay=False)
    ],
    user: UserOption = None,
    now: NowOption = None,
) -> None:
    """Save a new template after validating it (every problem is listed with its line)."""
    body = _read(file)
    with store_session() as db_session:
        template = service.create_template(
            db_session=db_session, name=name, body=body, actor=user or getpass.getuser(), now=parse_now(now)
        )
    err_console.print(f"Saved template '{template.name}'.")


@templates_app.command("validate")
def templates_validate(
    file: Annotated[Path, typer.Argument(help="Markdown file to check.", exists=True, dir_okay=False)],
) -> None:
    """Check a template file without saving it; exits 1 listing every problem as `line N, column C: reason`."""
    body = _read(file)
    errors = validate_template(body)
    for error in errors:
        typer.echo(str(error))
    if errors:
        err_console.print(f"[red]{file}: {len(errors)} problem(s).[/red]")
        raise typer.Exit(1)
    fields = parse_template(body).fields
    typer.echo(f"{file}: valid; variables: {', '.join(fields) if fields else 'none'}.")


@templates_app.command("delete")
def templates_delete(
    name: Annotated[str, typer.Argument(help="Template name.")],
    user: UserOption = None,
    now: NowOption = None,
) -> None:
    """Delete a custom template (built-in templates cannot be deleted; drafts keep their text)."""
    with store_session() as db_session:
        service.delete_template(
            db_session=db_session, name=name, actor=user or getpass.getuser(), now=parse_now(now)
        )
    err_console.print(f"Deleted template '{name.strip().lower()}'.")


# --- postmortems -----------------------------------------------------------------------------------


@postmortem_app.command("generate")
def postmortem_generate(
    incident: IncidentArgument,
    template: Annotated[str, typer.Option("--template", help="Template name (see `templates list`).")] = "ai",
    replace: Annotated[
        bool,
        typer.Option(
            "--replace", help="Unlink the current postmortem (kept in history) and link the new one."
        ),
    ] = False,
    now: NowOption = None,
    user: UserOption = None,
    model: ModelOption = None,
    min_messages: Annotated[
        int | None, typer.Option("--min-messages", min=1, help="Fewest timeline messages for a draft (15).")
    ] = None,
) -> None:
    """Draft a postmortem of a resolved incident (15+ timeline messages), store it linked, and print it."""
    moment = parse_now(now)
    chat_model = _chat_model(model)
    with store_session() as db_session:
        draft = service.generate(
            db_session=db_session,
            incident_id=parse_incident_ref(incident),
            now=moment,
            actor=user or getpass.getuser(),
            template_name=template,
            model=chat_model,
            replace=replace,
            min_messages=min_messages or service.MIN_POSTMORTEM_MESSAGES,
        )
    typer.echo(draft.body, nl=not draft.body.endswith("\n"))
    err_console.print(
        f"Stored postmortem #{draft.id} ({draft.template_name} template, by {draft.generated_by}), "
        f"linked to incident-{draft.incident_id}."
    )


@postmortem_app.command("show")
def postmortem_show(incident: IncidentArgument) -> None:
    """Print the incident's linked postmortem."""
    with store_session() as db_session:
        draft = service.get_linked_or_raise(db_session=db_session, incident_id=parse_incident_ref(incident))
    typer.echo(draft.body, nl=not draft.body.endswith("\n"))


@postmortem_app.command("export")
def postmortem_export(
    incident: IncidentArgument,
    out: Annotated[
        Path | None, typer.Option("--out", help="Markdown file to write (default: incident-N-postmortem.md).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite the file if it exists.")] = False,
) -> None:
    """Write the incident's linked postmortem to a Markdown file."""
    with store_session() as db_session:
        draft = service.get_linked_or_raise(db_session=db_session, incident_id=parse_incident_ref(incident))
    target = out or Path(f"incident-{draft.incident_id}-postmortem.md")
    if target.exists() and not force:
        err_console.print(f"[red]{target} already exists; pass --force to overwrite it.[/red]")
        raise typer.Exit(1)
    target.write_text(draft.body if draft.body.endswith("\n") else draft.body + "\n", encoding="utf-8")
    err_console.print(f"Wrote postmortem #{draft.id} of incident-{draft.incident_id} to {target}.")


@postmortem_app.command("unlink")
def postmortem_unlink(incident: IncidentArgument, user: UserOption = None, now: NowOption = None) -> None:
    """Unlink the incident's postmortem; it stays in the incident's history and a new one can be drafted."""
    with store_session() as db_session:
        draft = service.unlink(
            db_session=db_session,
            incident_id=parse_incident_ref(incident),
            actor=user or getpass.getuser(),
            now=parse_now(now),
        )
    err_console.print(
        f"Unlinked postmortem #{draft.id} from incident-{draft.incident_id}; it stays in its history."
    )


@postmortem_app.command("history")
def postmortem_history(incident: IncidentArgument) -> None:
    """List every postmortem drafted for the incident, newest first, one line each."""
    with store_session() as db_session:
        found = incident_service.get_or_raise(db_session=db_session, incident_id=parse_incident_ref(incident))
        drafts = service.history(db_session=db_session, incident_id=found.id)
    if not drafts:
        typer.echo(f"{found.public_id} has no postmortem drafts.")
        return
    for draft in drafts:
        state = "LINKED"
        if not draft.linked:
            state = "unlinked"
            if draft.unlinked_at is not None:
                state += f" {draft.unlinked_at:%Y-%m-%d %H:%M} by {draft.unlinked_by}"
        typer.echo(
            f"#{draft.id}  {draft.created_at:%Y-%m-%d %H:%M} UTC  by {draft.created_by}  "
            f"template {draft.template_name}  generated by {draft.generated_by}  {state}"
        )


# --- summary ---------------------------------------------------------------------------------------


def summary(
    incident: IncidentArgument,
    now: NowOption = None,
    model: ModelOption = None,
    min_messages: Annotated[
        int | None,
        typer.Option("--min-messages", min=1, help="Fewest timeline messages worth summarising (10)."),
    ] = None,
) -> None:
    """Print a catch-up summary of an incident's timeline, citing its entries (needs 10+ messages)."""
    moment = parse_now(now)
    chat_model = _chat_model(model)
    with store_session() as db_session:
        result = service.summarize(
            db_session=db_session,
            incident_id=parse_incident_ref(incident),
            now=moment,
            model=chat_model,
            min_messages=min_messages or service.MIN_SUMMARY_MESSAGES,
        )
    if isinstance(result, NotEnoughTimeline):
        err_console.print(f"[red]{result.reason}[/red]")
        raise typer.Exit(1)
    typer.echo(render_summary_markdown(result), nl=False)


# --- helpers ---------------------------------------------------------------------------------------


def _chat_model(name: str | None) -> BaseChatModel | None:
    """Returns the chat model `--model` names, or None for the offline (extractive) path."""
    from agent.models import load_drafting_model  # lazy: +1.6 s (LangChain) start-up

    wanted = name or get_settings().model
    try:
        return load_drafting_model(wanted)
    except Exception as error:  # unknown name, missing API key, provider package: all end the command
        err_console.print(f"[red]Cannot use the model '{wanted}': {error}[/red]")
        raise typer.Exit(1) from error


def _read(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        err_console.print(f"[red]Cannot read {file}: {error}[/red]")
        raise typer.Exit(1) from error

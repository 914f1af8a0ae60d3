"""Store commands: list and show incidents, import history, rebuild the index, build the demo, read the audit log.

Everything heavy (the store, Chroma, the embedding model, the agent) is imported inside the commands so
`incident-copilot --help` stays fast.
"""

from __future__ import annotations

import getpass
import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agent.cli.common import console, err_console, parse_now, store_engine, store_session
from agent.context import Context
from agent.db import dispose_engines
from agent.demo.build import DEMO_CHANNEL_QUESTIONS, DEMO_QUESTIONS, build_demo
from agent.importers import RECORD_SCHEMA
from agent.importers.jsonl import import_jsonl
from agent.importers.slack_export import import_slack_export
from agent.incidents import audit as incident_audit
from agent.incidents import catalogue, service
from agent.incidents import timeline as incident_timeline
from agent.incidents.exceptions import IncidentCopilotError, InvalidInput
from agent.normalize import parse_incident_ref, parse_severity, parse_status_filter
from agent.serialize import incident_brief, incident_detail, iso
from agent.settings import get_settings
from agent.time_windows import parse_window_argument

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from agent.incidents.models import Incident
    from agent.search.index import IncidentIndex

NowOption = Annotated[
    str | None, typer.Option("--now", help="The clock, as ISO-8601 (default: the current time).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
NoIndexOption = Annotated[bool, typer.Option("--no-index", help="Leave the search index to the next search.")]
NOT_KNOWN = "Not known"
SHOW_TIMELINE = 12
"""Timeline entries `incidents show` prints (the excerpt: lifecycle events, first and latest messages)."""

incidents_app = typer.Typer(help="List and show incidents.", no_args_is_help=True)


def _fail(error: Exception) -> typer.Exit:
    """Prints the error on stderr (one line, as written) and returns the exit to raise."""
    err_console.print(f"[red]{escape(str(error))}[/red]", soft_wrap=True)
    return typer.Exit(1)


def _open_index() -> IncidentIndex:
    from agent.search.index import open_index  # lazy: +1.3 s (Chroma) start-up

    return open_index()


def _moment(value: str | None, now: datetime) -> datetime | None:
    """Returns the start of the window a phrase names ("7 days", "past week", "since Monday", ISO date)."""
    window = parse_window_argument(value, now)
    return None if window is None else window.since


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    )


def _phase_reporter(progress: Progress) -> Any:
    """Returns a `progress(phase, done, total)` callback drawing one bar per phase."""
    tasks: dict[str, Any] = {}

    def report(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            tasks[phase] = progress.add_task(phase, total=total or None)
        progress.update(tasks[phase], completed=done, total=total or None)

    return report


# --- incidents list / show ---------------------------------------------------------------------------


@incidents_app.command("list")
def list_incidents(
    status: Annotated[
        list[str] | None,
        typer.Option("--status", help="active, stable, resolved, completed or ongoing; repeatable."),
    ] = None,
    severity: Annotated[
        list[str] | None,
        typer.Option("--severity", help="SEV-1 .. SEV-5 or unknown (sev1, critical); repeatable."),
    ] = None,
    service_name: Annotated[
        list[str] | None, typer.Option("--service", help="Service name or alias; repeatable.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Declared since: '7 days', 'past week', 'since Monday' or ISO."),
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Declared before: '2 days' (ago) or ISO.")
    ] = None,
    text: Annotated[
        str | None, typer.Option("--text", help="Words in the title, summary, impact or root cause.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many incidents to print.")] = 20,
    include_private: Annotated[
        bool, typer.Option("--include-private", help="Show private incidents too.")
    ] = False,
    json_output: JsonOption = False,
    now: NowOption = None,
) -> None:
    """List incidents, newest first, with counts computed by the database."""
    clock = parse_now(now)
    # Domain errors raised inside store_session() are printed on stderr and exit with code 1.
    with store_session() as db_session:
        services: list[str] = []
        for name in service_name or []:
            found = catalogue.get_service_by_name_or_alias(db_session=db_session, name=name)
            if found is None:
                known = ", ".join(s.name for s in catalogue.list_services(db_session=db_session))
                raise InvalidInput(f"There is no service called '{name}'. Known services: {known}.")
            services.append(found.name)
        criteria = service.IncidentFilter(
            statuses=parse_status_filter(status) if status else None,
            severities=frozenset(parse_severity(s) for s in severity) if severity else None,
            services=tuple(services),
            since=_moment(since, clock),
            until=_moment(until, clock),
            text=text,
            include_private=include_private,
        )
        result = service.query(db_session=db_session, criteria=criteria, limit=limit)
        if json_output:
            payload = {
                "total": result.total,
                "by_status": result.by_status,
                "by_severity": result.by_severity,
                "incidents": [incident_brief(i) for i in result.incidents],
                "shown": len(result.incidents),
            }
            typer.echo(json.dumps(payload, ensure_ascii=False))
            return
        _print_list(result.incidents, result.total, result.by_status)


def _print_list(incidents: list[Incident], total: int, by_status: dict[str, int]) -> None:
    table = Table(header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("id", no_wrap=True, min_width=12)
    table.add_column("sev", no_wrap=True, min_width=7)
    table.add_column("status", no_wrap=True, min_width=9)
    table.add_column("declared (UTC)", no_wrap=True, min_width=16)
    table.add_column("services", ratio=1)
    table.add_column("title", ratio=2)
    for incident in incidents:
        table.add_row(
            incident.public_id,
            incident.severity,
            incident.status,
            incident.declared_at.strftime("%Y-%m-%d %H:%M"),
            ", ".join(incident.service_names),
            incident.title,
        )
    console.print(table)
    statuses = ", ".join(f"{count} {name}" for name, count in sorted(by_status.items()))
    console.print(
        f"{total} incident{'s' if total != 1 else ''} match ({statuses or 'none'}); showing {len(incidents)}.",
        soft_wrap=True,
    )


@incidents_app.command("show")
def show_incident(
    incident_ref: Annotated[
        str, typer.Argument(metavar="INCIDENT", help="incident-123, #123, INC-123 or 123.")
    ],
    json_output: JsonOption = False,
) -> None:
    """Show one incident: its fields, services, root cause, remediation and a timeline excerpt."""
    with store_session() as db_session:
        incident = service.get_or_raise(db_session=db_session, incident_id=parse_incident_ref(incident_ref))
        timeline = incident_timeline.get_timeline(db_session=db_session, incident_id=incident.id)
        detail = incident_detail(
            incident,
            timeline=timeline,
            message_count=incident_timeline.count_messages(db_session=db_session, incident_id=incident.id),
        )
    if json_output:
        typer.echo(
            json.dumps(
                {**detail, "private": incident.private, "version": incident.version}, ensure_ascii=False
            )
        )
        return
    _print_detail(detail, private=incident.private)


def _print_detail(detail: dict[str, Any], *, private: bool) -> None:
    console.print(
        f"[bold]{detail['id']}[/bold]: {escape(detail['title'])}"
        + ("  [yellow](private)[/yellow]" if private else ""),
        soft_wrap=True,
    )
    fields = Table.grid(padding=(0, 2))
    fields.add_column(style="bold")
    fields.add_column()
    for label, key in (
        ("Severity", "severity"),
        ("Status", "status"),
        ("Declared", "declared_at"),
        ("Stable", "stable_at"),
        ("Resolved", "resolved_at"),
        ("Completed", "completed_at"),
        ("Commander", "commander"),
        ("Channel", "channel"),
        ("Messages", "message_count"),
    ):
        if detail.get(key) is not None:
            fields.add_row(label, escape(str(detail[key])))
    fields.add_row("Services", escape(", ".join(detail["services"]) or "none"))
    console.print(fields)
    for label, key in (
        ("Summary", "summary"),
        ("Customer impact", "customer_impact"),
        ("Root cause", "root_cause"),
        ("Remediation", "remediation"),
    ):
        value = detail.get(key)
        if value is None and key in ("summary", "customer_impact"):
            continue
        console.print(f"\n[bold]{label}[/bold]\n{escape(value) if value else NOT_KNOWN}", soft_wrap=True)
    excerpt = detail["timeline_excerpt"][-SHOW_TIMELINE:]
    if excerpt:
        console.print(
            f"\n[bold]Timeline[/bold] (excerpt of {detail['message_count']} messages)", soft_wrap=True
        )
        for entry in excerpt:
            console.print(
                f"  {entry['at']}  {escape(entry['author'])}: {escape(entry['text'])}", soft_wrap=True
            )


# --- import ------------------------------------------------------------------------------------------


def import_file(
    file: Annotated[Path, typer.Argument(metavar="FILE.jsonl", help="JSON lines, one incident per line.")],
    actor: Annotated[
        str | None, typer.Option("--actor", help="Who the audit log says imported (default: OS user).")
    ] = None,
    no_index: NoIndexOption = False,
    now: NowOption = None,
) -> None:
    """Import incidents from a JSON-lines file; re-importing an id updates that incident."""
    clock = parse_now(now)
    try:
        index = None if no_index else _open_index()
        with _progress() as progress:
            report = import_jsonl(
                engine=store_engine(),
                path=file,
                now=clock,
                actor=actor or getpass.getuser(),
                index=index,
                progress=_phase_reporter(progress),
            )
    except IncidentCopilotError as error:
        raise _fail(error) from error
    console.print(
        f"Imported {file.name}: {report.created} created, {report.updated} updated, {report.unchanged} unchanged; "
        f"{report.timeline_entries} timeline entries written"
        + (f" ({report.skipped_entries} already stored from Slack)" if report.skipped_entries else "")
        + f"; {report.services_created} new services. Store: {report.write_seconds:.1f} s"
        + (f", index: {report.index_seconds:.1f} s." if report.index_seconds is not None else "."),
        soft_wrap=True,
    )


def import_slack(
    export_dir: Annotated[
        Path,
        typer.Argument(metavar="EXPORT_DIR", help="An unzipped Slack workspace export (has channels.json)."),
    ],
    prefix: Annotated[
        str | None, typer.Option("--prefix", help="Incident channel prefix (default: settings).")
    ] = None,
    no_index: NoIndexOption = False,
    now: NowOption = None,
) -> None:
    """Fill incident timelines from a Slack workspace export; importing it again adds nothing."""
    try:
        report = import_slack_export(
            engine=store_engine(),
            export_dir=export_dir,
            now=parse_now(now),
            actor=getpass.getuser(),
            prefix=prefix or get_settings().incident_channel_prefix,
            index=None if no_index else _open_index(),
        )
    except IncidentCopilotError as error:
        raise _fail(error) from error
    for channel, incident_id in report.linked.items():
        console.print(f"  #{channel} -> incident-{incident_id}", soft_wrap=True)
    console.print(
        f"{report.added} messages added to {len(report.incident_ids)} incidents; "
        f"{report.already_present} already there; {report.skipped} bot messages and channel notices skipped.",
        soft_wrap=True,
    )
    if report.unmatched:
        err_console.print(
            f"[yellow]{len(report.unmatched)} channels match no incident: {', '.join(report.unmatched)}[/yellow]",
            soft_wrap=True,
        )


# --- the index ---------------------------------------------------------------------------------------


def _index_mismatch(db_session: Session, index: IncidentIndex) -> dict[str, list[int]]:
    """Returns the incidents whose document is missing or out of date, and documents of no incident.

    Compares each document's content hash with the one the store's current content gives, without
    embedding or writing anything.
    """
    from agent.search.index import (  # lazy: +1.3 s (Chroma) start-up
        EMBED_BATCH,
        document_metadata,
        incident_document,
        incident_number,
        timeline_digest,
    )

    store_ids = service.list_incident_ids(db_session=db_session)
    stored = index.collection.get(include=["metadatas"])
    hashes = {
        incident_number(record): (metadata or {}).get("content_hash")
        for record, metadata in zip(stored["ids"], stored["metadatas"] or [], strict=True)
    }
    missing: list[int] = []
    stale: list[int] = []
    for start in range(0, len(store_ids), EMBED_BATCH):
        batch = store_ids[start : start + EMBED_BATCH]
        incidents = service.get_many(db_session=db_session, incident_ids=batch)
        timelines = incident_timeline.get_timelines(db_session=db_session, incident_ids=batch)
        for incident in incidents:
            if incident.id not in hashes:
                missing.append(incident.id)
                continue
            document = incident_document(incident, timeline_digest(timelines[incident.id]))
            if document_metadata(incident, document)["content_hash"] != hashes[incident.id]:
                stale.append(incident.id)
    orphaned = sorted(set(hashes) - set(store_ids))
    return {"missing": missing, "stale": stale, "orphaned": orphaned}


def reindex(
    check: Annotated[
        bool,
        typer.Option("--check", help="Only report where the index and the store differ; change nothing."),
    ] = False,
    full: Annotated[
        bool, typer.Option("--full", help="Drop the index and embed every incident again (default: repair).")
    ] = False,
) -> None:
    """Bring the search index in step with the store, with progress; --check only reports the differences."""
    try:
        _reindex(check=check, full=full)
    except IncidentCopilotError as error:
        # The index cannot be reached (a Chroma server down): one line and exit 1, never a traceback.
        raise _fail(error) from error


def _reindex(*, check: bool, full: bool) -> None:
    index = _open_index()
    with store_session() as db_session:
        if check:
            mismatch = _index_mismatch(db_session, index)
            count = index.count()
            problems = sum(len(ids) for ids in mismatch.values())
            for kind, ids in mismatch.items():
                if ids:
                    shown = ", ".join(f"incident-{i}" for i in ids[:10]) + (" ..." if len(ids) > 10 else "")
                    console.print(f"{kind}: {len(ids)} ({shown})", soft_wrap=True)
            console.print(
                f"Index holds {count} documents; {problems} differences from the store.", soft_wrap=True
            )
            if problems:
                raise typer.Exit(1)
            return
        with _progress() as progress:
            task = progress.add_task("indexing", total=None)

            def report(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            if full:
                written = index.reindex(db_session, progress=report)
                summary = f"{written} documents written"
            else:
                synced = index.sync(db_session, progress=report)
                summary = (
                    f"{synced.added} added, {synced.updated} updated, {synced.removed} removed, "
                    f"{synced.unchanged} unchanged"
                )
    console.print(f"Index rebuilt: {summary}; it holds {index.count()} documents.", soft_wrap=True)


# --- the demo ----------------------------------------------------------------------------------------


def _reset_data_dir() -> None:
    """Deletes the SQLite store and the embedded index of the data folder, refusing anything else."""
    settings = get_settings()
    if settings.database_url:
        raise _fail(
            RuntimeError(
                "--reset only deletes the data folder's SQLite store; DATABASE_URL points elsewhere."
            )
        )
    if settings.chroma_host:
        raise _fail(RuntimeError("--reset only deletes the embedded index; CHROMA_HOST points to a server."))
    dispose_engines()
    database = Path(settings.sqlalchemy_url.removeprefix("sqlite:///"))
    for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        path.unlink(missing_ok=True)
    if settings.chroma_path.exists():
        from chromadb.api.client import SharedSystemClient  # lazy: +0.2 s (Chroma) start-up

        # Chroma keeps one open system per folder in the process; drop it before its files go.
        SharedSystemClient.clear_system_cache()
        shutil.rmtree(settings.chroma_path)


def demo(
    now: NowOption = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the generated organisation.")] = 7,
    reset: Annotated[
        bool, typer.Option("--reset", help="Delete the data folder's store and index first.")
    ] = False,
    questions: Annotated[
        bool, typer.Option("--questions/--no-questions", help="Ask the sample questions afterwards.")
    ] = True,
) -> None:
    """Build the demo organisation into the data folder, then answer the sample questions."""
    clock = parse_now(now)
    if reset:
        _reset_data_dir()
    console.print(
        f"Building the demo organisation (seed {seed}, now {clock.isoformat()}) in {get_settings().data_dir}",
        soft_wrap=True,
    )
    try:
        index = _open_index()
        with _progress() as progress:
            report = build_demo(
                engine=store_engine(), index=index, now=clock, seed=seed, progress=_phase_reporter(progress)
            )
    except IncidentCopilotError as error:
        raise _fail(error) from error
    incidents = report.incidents
    console.print(
        f"Services: {report.services.created} created, {report.services.updated} updated, "
        f"{report.services.unchanged} unchanged. Incidents: {incidents.created} created, {incidents.updated} "
        f"updated, {incidents.unchanged} unchanged ({incidents.timeline_entries} timeline entries written). "
        f"Templates: {', '.join(report.templates)}. Index: {index.count()} documents.",
        soft_wrap=True,
    )
    if questions:
        with store_session() as db_session:
            [checkout] = report.special["active_checkout"]
            channel = service.get_or_raise(db_session=db_session, incident_id=checkout).slack_channel_name
        _ask_demo_questions(
            [(None, q) for q in DEMO_QUESTIONS] + [(channel, q) for q in DEMO_CHANNEL_QUESTIONS], now=clock
        )


def _ask_demo_questions(questions: list[tuple[str | None, str]], *, now: datetime) -> None:
    """Prints each question (with the channel it is asked in) and the agent's answer."""
    from agent.runner import AgentRunner  # lazy: +2.7 s (LangGraph) start-up

    runner = AgentRunner(Context(now=now, source="cli", operator=True))
    failed = 0
    for number, (channel, question) in enumerate(questions, start=1):
        where = f"[dim]#{escape(channel)}[/dim] " if channel else ""
        console.print(f"\n{where}[bold]> {escape(question)}[/bold]", soft_wrap=True)
        try:
            answer = runner.ask(question, thread_id=f"demo-{number}", channel=channel, user="demo").answer
        except Exception as error:  # one failed answer must not hide the others
            failed += 1
            err_console.print(
                f"[red]Could not answer: {type(error).__name__}: {escape(str(error))}[/red]", soft_wrap=True
            )
            continue
        console.print(answer, markup=False, highlight=False, soft_wrap=True)
    if failed:
        raise typer.Exit(1)


# --- audit log ---------------------------------------------------------------------------------------


def audit(
    incident_ref: Annotated[
        str | None, typer.Option("--incident", help="Only this incident (incident-123, #123, 123).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many records to print.")] = 50,
    json_output: JsonOption = False,
) -> None:
    """List the audit log, newest first: who changed what, when, from where, before and after."""
    with store_session() as db_session:
        incident_id = parse_incident_ref(incident_ref) if incident_ref else None
        records = incident_audit.audit_log(db_session=db_session, incident_id=incident_id, limit=limit)
        rows = [
            {
                "at": iso(r.at),
                "actor": r.actor,
                "source": r.source,
                "action": r.action,
                "incident": f"incident-{r.incident_id}" if r.incident_id is not None else None,
                "before": r.before,
                "after": r.after,
            }
            for r in records
        ]
    if json_output:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return

    for row in rows:
        # One line per record: it wraps on narrow terminals and greps well.
        console.print(
            f"{row['at']}  [bold]{escape(row['actor'])}[/bold] ({row['source']})  {row['action']}  "
            f"{row['incident'] or '-'}  {escape(_change(row['before'], row['after']))}",
            soft_wrap=True,
        )
    if not rows:
        console.print("The audit log is empty.", soft_wrap=True)


def _change(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    """Returns an audit record's change in one line: `status: active -> stable`, or `key=value` pairs."""
    if before and after:
        return "; ".join(f"{key}: {before.get(key)} -> {value}" for key, value in after.items())
    return ", ".join(f"{key}={value}" for key, value in (after or before or {}).items())


def register(app: typer.Typer) -> None:
    """Adds this module's commands to the CLI."""
    app.add_typer(incidents_app, name="incidents")
    app.command("import", epilog=RECORD_SCHEMA)(import_file)
    app.command("import-slack")(import_slack)
    app.command("reindex")(reindex)
    app.command("demo")(demo)
    app.command("audit")(audit)

"""`incident-copilot eval run` and `eval check`: the evaluation suite from the terminal (and `make eval`)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from agent.cli.common import console, err_console
from agent.settings import get_settings
from evals.dataset import (
    DatasetError,
    check_case,
    load_cases,
    load_split,
    organisation_of,
    sample_cases,
    select_cases,
)

if TYPE_CHECKING:
    from evals.dataset import Case
    from evals.runner import SuiteRun
    from evals.scoring import CaseResult

eval_app = typer.Typer(
    help="Run the evaluation suite (dev and held-out cases, demo and public organisations).",
    no_args_is_help=True,
)

DatasetOption = Annotated[
    Path | None,
    typer.Option(
        "--dataset",
        help="One dataset file to run instead of a split; its name says its organisation (demo-*.jsonl).",
    ),
]
SplitOption = Annotated[
    str, typer.Option("--split", help="dev (tests may use it) or heldout (written blind, only scored).")
]
OrgOption = Annotated[
    str | None, typer.Option("--org", help="Only the cases over this organisation: demo or public.")
]
DemoDirOption = Annotated[
    Path | None,
    typer.Option(
        "--demo-dir",
        help="A built demo store (incidents.db + chroma/) to copy for each demo case, instead of the cache.",
    ),
]
RebuildOption = Annotated[bool, typer.Option("--rebuild-demo", help="Build the cached stores again.")]


def _store_dir(organisation: str, demo_dir: Path | None, rebuild: bool) -> Path:
    from evals.organisations import prepare_organisation  # lazy: +3 s (LangGraph, Chroma) start-up

    if demo_dir is not None and organisation == "demo":
        if not (demo_dir / "incidents.db").is_file() or not (demo_dir / "chroma").is_dir():
            raise typer.BadParameter(
                f"{demo_dir} holds no store (incidents.db and chroma/).", param_hint="--demo-dir"
            )
        return demo_dir
    with err_console.status(f"Preparing the {organisation} organisation (built once, then cached)…"):
        return prepare_organisation(
            organisation, cache_root=get_settings().data_dir / "eval-stores", rebuild=rebuild
        )


def _load(
    dataset: Path | None,
    split: str,
    organisation: str | None,
    cases: list[str],
    tags: list[str],
) -> dict[str, list[Case]]:
    """Returns the selected cases by organisation."""
    try:
        groups = (
            {organisation_of(dataset): load_cases(dataset)}
            if dataset is not None
            else load_split(split, organisation)
        )
        if not groups:
            raise DatasetError(
                f"no {split} cases{f' over the {organisation} organisation' if organisation else ''}"
            )
        everything = [case for group in groups.values() for case in group]
        chosen = {case.id for case in select_cases(everything, ids=cases, tags=tags)}
        return {
            name: [case for case in group if case.id in chosen]
            for name, group in groups.items()
            if any(case.id in chosen for case in group)
        }
    except (DatasetError, OSError) as error:
        err_console.print(f"[red]{escape(str(error))}[/red]")
        raise typer.Exit(2) from error


def _show_progress(result: CaseResult) -> None:
    mark = "[green]✓[/green]" if result.passed else "[red]✗[/red]"
    reason = "" if result.passed else f"  [dim]{escape(result.failures[0]) if result.failures else ''}[/dim]"
    err_console.print(
        f"{mark} {escape(result.id)} [dim]{result.latency_s:.2f}s[/dim]{reason}", highlight=False
    )


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def render_run(run: SuiteRun) -> None:
    """Prints the overall score, the score per tag, the slowest cases and what failed."""
    summary = run.summary
    overall = summary.overall
    totals = Table(
        title=f"Evaluation: {run.model} ({run.mode}), {run.split} cases over the {run.organisation} "
        f"organisation, {overall.cases} cases in {run.duration_s:.1f} s ({run.selection})"
    )
    totals.add_column("measure")
    totals.add_column("value", justify="right")
    rows = [
        ("score", f"{_pct(overall.score)} ({overall.passed}/{overall.cases} cases passed)"),
        *(
            (f"{name} check", f"{overall.checks[name]}/{overall.cases}")
            for name in ("tools", "args", "facts", "state")
        ),
        ("unwanted writes", str(summary.unwanted_writes)),
        ("false zeros", str(summary.false_zeros)),
        *((f"intent decided by {way}", str(count)) for way, count in sorted(summary.decided_by.items())),
        ("latency p50 / p95", f"{summary.latency_p50_s:.2f} s / {summary.latency_p95_s:.2f} s"),
        ("model calls", str(summary.model_calls)),
        ("input tokens (≈ chars/4)", str(summary.input_tokens)),
        ("input / output tokens (server)", f"{summary.served_input_tokens} / {summary.output_tokens}"),
        ("seconds per case", f"{run.seconds_per_case:.2f} s"),
    ]
    for measure, value in rows:
        totals.add_row(measure, value)
    console.print(totals)
    tags = Table(title="Per tag")
    for column in ("tag", "score", "passed", "tools", "args", "facts", "state"):
        tags.add_column(column, justify="left" if column == "tag" else "right")
    for tag, tally in summary.per_tag.items():
        style = None if tally.passed == tally.cases else "yellow"
        tags.add_row(
            tag,
            _pct(tally.score),
            f"{tally.passed}/{tally.cases}",
            *(f"{tally.checks[name]}/{tally.cases}" for name in ("tools", "args", "facts", "state")),
            style=style,
        )
    console.print(tags)
    slow = Table(title="Slowest cases")
    for column in ("case", "latency", "model calls", "input tokens"):
        slow.add_column(column, justify="left" if column == "case" else "right")
    for result in run.slowest():
        slow.add_row(result.id, f"{result.latency_s:.2f}s", str(result.model_calls), str(result.input_tokens))
    console.print(slow)
    failed = [result for result in run.results if not result.passed]
    if failed:
        failures = Table(title=f"Failing cases ({len(failed)})", show_lines=True)
        failures.add_column("case")
        failures.add_column("why")
        for result in failed:
            # A held-out failure is named, never shown: reading it while fixing would spend it.
            why = "(held out)" if run.split == "heldout" else "\n".join(result.failures)
            failures.add_row(escape(result.id), escape(why))
        console.print(failures)
    verdict = "[green]PASSED[/green]" if run.passed else "[red]FAILED[/red]"
    console.print(
        f"{verdict}: {_pct(overall.score)} against a threshold of {_pct(run.threshold)}, "
        f"{summary.unwanted_writes} unwanted write(s), {summary.false_zeros} false zero(s)."
    )


def run(
    model: Annotated[str, typer.Option("--model", help="offline or openai:<model>.")] = "offline",
    record: Annotated[
        bool, typer.Option("--record", help="Call the real model and write cassettes (needs a key).")
    ] = False,
    replay: Annotated[
        bool,
        typer.Option(
            "--replay", help="Answer model calls from cassettes only; a missing request is an error."
        ),
    ] = False,
    case: Annotated[list[str] | None, typer.Option("--case", help="Run this case (repeatable).")] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="Run the cases with this tag (repeatable).")
    ] = None,
    threshold: Annotated[
        float, typer.Option("--threshold", min=0.0, max=1.0, help="Share of cases that must pass.")
    ] = 0.9,
    report_dir: Annotated[
        Path, typer.Option("--report-dir", help="Where the Markdown and JSON reports go.")
    ] = Path("evals/reports"),
    cassette_dir: Annotated[
        Path | None, typer.Option("--cassette-dir", help="Where cassettes are (default: evals/cassettes).")
    ] = None,
    upload: Annotated[
        bool,
        typer.Option(
            "--upload", help="Push the dataset and this run to LangSmith (needs LANGSMITH_API_KEY)."
        ),
    ] = False,
    label: Annotated[
        str,
        typer.Option(
            "--label", help="With --record: what the model and server are (kept beside the cassettes)."
        ),
    ] = "",
    sample: Annotated[
        int | None,
        typer.Option(
            "--sample",
            min=1,
            help="Run only this many of the selected cases per organisation, chosen at random by --seed "
            "(for slow models; say it is a sample when you publish the score).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Which random sample --sample takes.")] = 13,
    dataset: DatasetOption = None,
    split: SplitOption = "dev",
    org: OrgOption = None,
    demo_dir: DemoDirOption = None,
    rebuild_demo: RebuildOption = False,
) -> None:
    """Run the evaluation suite; exits 1 below the threshold, on any unwanted write or false zero."""
    if record and replay:
        raise typer.BadParameter("--record and --replay exclude each other.", param_hint="--record/--replay")
    if record and split == "heldout" and dataset is None:
        # A cassette holds the question text; a held-out question outside its files is spent.
        raise typer.BadParameter(
            "held-out cases are never recorded: a cassette would copy their questions.", param_hint="--record"
        )
    if upload and not os.environ.get("LANGSMITH_API_KEY"):
        err_console.print("[red]--upload needs LANGSMITH_API_KEY; nothing was run or sent.[/red]")
        raise typer.Exit(2)
    from evals.cassettes import CASSETTE_DIR, ReplayMiss  # lazy: +1.2 s (vcrpy) start-up
    from evals.report import write_reports  # lazy: +3 s (LangGraph, Chroma) start-up
    from evals.runner import EvalError, RunOptions, run_suite, validate_options

    groups = _load(dataset, split, org, case or [], tag or [])
    options = RunOptions(
        model=model,
        mode="record" if record else "replay" if replay else "live",
        cassette_dir=cassette_dir or CASSETTE_DIR,
        threshold=threshold,
        label=label,
    )
    try:
        validate_options(options)
    except EvalError as error:
        err_console.print(f"[red]{escape(str(error))}[/red]")
        raise typer.Exit(2) from error
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    passed = True
    for organisation, everything in groups.items():
        selected = everything if sample is None else sample_cases(everything, size=sample, seed=seed)
        selection = (
            f"a random sample of {len(selected)} of {len(everything)} cases (--sample {sample} --seed {seed})"
            if len(selected) < len(everything)
            else f"all {len(selected)} selected cases"
        )
        store = _store_dir(organisation, demo_dir, rebuild_demo)
        try:
            suite = run_suite(
                selected,
                demo_dir=store,
                options=options,
                started_at=started_at,
                progress=None if split == "heldout" else _show_progress,
                organisation=organisation,
                split=split if dataset is None else "dev",
                selection=selection,
            )
        except (EvalError, ReplayMiss) as error:
            err_console.print(f"[red]{escape(str(error))}[/red]")
            raise typer.Exit(2 if isinstance(error, EvalError) else 1) from error
        markdown, data = write_reports(suite, report_dir)
        render_run(suite)
        console.print(f"Reports: {markdown} and {data}")
        passed &= suite.passed
        if upload:
            from langsmith import Client  # lazy: +0.2 s start-up

            from evals.upload import record_experiment, sync_dataset  # lazy: +0.2 s (LangSmith) start-up

            client = Client()
            record_experiment(client, sync_dataset(client, selected), suite)
            console.print("Uploaded the dataset and this run to LangSmith.")
    if not passed:
        raise typer.Exit(1)


def check(
    dataset: DatasetOption = None,
    split: SplitOption = "dev",
    org: OrgOption = None,
    demo_dir: DemoDirOption = None,
    rebuild_demo: RebuildOption = False,
) -> None:
    """Check every literal expectation of the cases against SQL over their organisation's store."""
    from evals.store import open_store  # lazy: +1.3 s (Chroma) start-up

    problems: list[str] = []
    total = 0
    for organisation, cases in _load(dataset, split, org, [], []).items():
        engine = open_store(_store_dir(organisation, demo_dir, rebuild_demo))
        with engine.connect() as connection:
            problems += [problem for item in cases for problem in check_case(connection, item)]
        engine.dispose()
        total += len(cases)
    for problem in problems:
        err_console.print(f"[red]{escape(problem)}[/red]", highlight=False)
    if problems:
        raise typer.Exit(1)
    console.print(f"All {total} cases agree with their stores.")


def register(app: typer.Typer) -> None:
    """Adds `eval run` and `eval check` to the CLI."""
    eval_app.command("run")(run)
    eval_app.command("check")(check)
    app.add_typer(eval_app, name="eval")

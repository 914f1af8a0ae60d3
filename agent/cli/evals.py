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

if TYPE_CHECKING:
    from evals.dataset import Case
    from evals.runner import SuiteRun
    from evals.scoring import CaseResult

eval_app = typer.Typer(help="Run the evaluation suite over the demo organisation.", no_args_is_help=True)

DatasetOption = Annotated[
    Path | None,
    typer.Option("--dataset", help="Cases to run (default: evals/datasets/incident_questions.jsonl)."),
]
DemoDirOption = Annotated[
    Path | None,
    typer.Option(
        "--demo-dir",
        help="A built demo store (incidents.db + chroma/) to copy for each case, instead of the cache.",
    ),
]
RebuildOption = Annotated[bool, typer.Option("--rebuild-demo", help="Build the cached demo store again.")]


def _demo_dir(demo_dir: Path | None, rebuild: bool) -> Path:
    from agent.settings import get_settings  # noqa: PLC0415
    from evals.runner import prepare_demo  # noqa: PLC0415 - loads the agent

    if demo_dir is not None:
        if not (demo_dir / "incidents.db").is_file() or not (demo_dir / "chroma").is_dir():
            raise typer.BadParameter(
                f"{demo_dir} holds no demo store (incidents.db and chroma/).", param_hint="--demo-dir"
            )
        return demo_dir
    with err_console.status("Preparing the demo organisation (built once, then cached)…"):
        return prepare_demo(cache_root=get_settings().data_dir / "eval-demo", rebuild=rebuild)


def _load(dataset: Path | None, cases: list[str], tags: list[str]) -> list[Case]:
    from evals.dataset import DATASET_PATH, DatasetError, load_cases, select_cases  # noqa: PLC0415

    try:
        return select_cases(load_cases(dataset or DATASET_PATH), ids=cases, tags=tags)
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
        title=f"Evaluation: {run.model} ({run.mode}), {overall.cases} cases in {run.duration_s:.1f} s"
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
        ("latency p50 / p95", f"{summary.latency_p50_s:.2f} s / {summary.latency_p95_s:.2f} s"),
        ("model calls", str(summary.model_calls)),
        ("input tokens (≈ chars/4)", str(summary.input_tokens)),
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
            failures.add_row(escape(result.id), escape("\n".join(result.failures)))
        console.print(failures)
    verdict = "[green]PASSED[/green]" if run.passed else "[red]FAILED[/red]"
    console.print(
        f"{verdict}: {_pct(overall.score)} against a threshold of {_pct(run.threshold)}, "
        f"{summary.unwanted_writes} unwanted write(s)."
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
    dataset: DatasetOption = None,
    demo_dir: DemoDirOption = None,
    rebuild_demo: RebuildOption = False,
) -> None:
    """Run the evaluation suite; exits 1 below the threshold or on any unwanted write."""
    if record and replay:
        raise typer.BadParameter("--record and --replay exclude each other.", param_hint="--record/--replay")
    if upload and not os.environ.get("LANGSMITH_API_KEY"):
        err_console.print("[red]--upload needs LANGSMITH_API_KEY; nothing was run or sent.[/red]")
        raise typer.Exit(2)
    from evals.cassettes import CASSETTE_DIR, ReplayMiss  # noqa: PLC0415 - the agent loads slowly
    from evals.runner import EvalError, RunOptions, run_suite, validate_options, write_reports  # noqa: PLC0415

    selected = _load(dataset, case or [], tag or [])
    options = RunOptions(
        model=model,
        mode="record" if record else "replay" if replay else "live",
        cassette_dir=cassette_dir or CASSETTE_DIR,
        threshold=threshold,
    )
    try:
        validate_options(options)
    except EvalError as error:
        err_console.print(f"[red]{escape(str(error))}[/red]")
        raise typer.Exit(2) from error
    store = _demo_dir(demo_dir, rebuild_demo)
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    try:
        suite = run_suite(
            selected, demo_dir=store, options=options, started_at=started_at, progress=_show_progress
        )
    except (EvalError, ReplayMiss) as error:
        err_console.print(f"[red]{escape(str(error))}[/red]")
        raise typer.Exit(2 if isinstance(error, EvalError) else 1) from error
    markdown, data = write_reports(suite, report_dir)
    render_run(suite)
    console.print(f"Reports: {markdown} and {data}")
    if upload:
        from langsmith import Client  # noqa: PLC0415 - only for uploads

        from evals.upload import record_experiment, sync_dataset  # noqa: PLC0415

        client = Client()
        record_experiment(client, sync_dataset(client, selected), suite)
        console.print("Uploaded the dataset and this run to LangSmith.")
    if not suite.passed:
        raise typer.Exit(1)


def check(
    dataset: DatasetOption = None,
    demo_dir: DemoDirOption = None,
    rebuild_demo: RebuildOption = False,
) -> None:
    """Check every literal expectation of the dataset against SQL over the demo store."""
    from evals.dataset import check_case  # noqa: PLC0415
    from evals.runner import open_store  # noqa: PLC0415

    cases = _load(dataset, [], [])
    engine = open_store(_demo_dir(demo_dir, rebuild_demo))
    with engine.connect() as connection:
        problems = [problem for item in cases for problem in check_case(connection, item)]
    engine.dispose()
    for problem in problems:
        err_console.print(f"[red]{escape(problem)}[/red]", highlight=False)
    if problems:
        raise typer.Exit(1)
    console.print(f"All {len(cases)} cases agree with the demo store.")


def register(app: typer.Typer) -> None:
    """Adds `eval run` and `eval check` to the CLI."""
    eval_app.command("run")(run)
    eval_app.command("check")(check)
    app.add_typer(eval_app, name="eval")

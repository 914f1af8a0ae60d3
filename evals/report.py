"""The suite's reports: Markdown for people, JSON for scripts (written side by side)."""

from __future__ import annotations

import json
from pathlib import Path

from evals.cassettes import (
    model_slug,
)
from evals.runner import SuiteRun


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def markdown_report(run: SuiteRun) -> str:
    """Returns the Markdown report of a run: totals, per tag, slowest cases and every failure."""
    summary = run.summary
    overall = summary.overall
    lines = [
        f"# Evaluation run: {run.model} ({run.mode}), {run.split} cases over the {run.organisation} organisation",
        "",
        f"Started {run.started_at}; {run.selection}; {overall.cases} cases in {run.duration_s:.1f} s; threshold {_pct(run.threshold)}; "
        f"**{'PASSED' if run.passed else 'FAILED'}**.",
        "",
        "| score | passed | tools | args | facts | state | unwanted writes | false zeros | p50 | p95 | model calls | input tokens |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        f"| {_pct(overall.score)} | {overall.passed}/{overall.cases} | "
        + " | ".join(
            f"{overall.checks[name]}/{overall.cases}" for name in ("tools", "args", "facts", "state")
        )
        + f" | {summary.unwanted_writes} | {summary.false_zeros} | {summary.latency_p50_s:.2f} s | {summary.latency_p95_s:.2f} s"
        f" | {summary.model_calls} | {summary.input_tokens} |",
        "",
        f"Per case: {run.seconds_per_case:.2f} s, {summary.model_calls / max(overall.cases, 1):.1f} model calls, "
        f"{summary.input_tokens / max(overall.cases, 1):.0f} input tokens (≈ chars/4)"
        + (
            f"; as the server counted: {summary.served_input_tokens / max(overall.cases, 1):.0f} input and "
            f"{summary.output_tokens / max(overall.cases, 1):.0f} output tokens."
            if summary.served_input_tokens
            else "."
        ),
        "",
        "## Per tag",
        "",
        "| tag | score | passed | tools | args | facts | state |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for tag, tally in summary.per_tag.items():
        checks = " | ".join(
            f"{tally.checks[name]}/{tally.cases}" for name in ("tools", "args", "facts", "state")
        )
        lines.append(f"| {tag} | {_pct(tally.score)} | {tally.passed}/{tally.cases} | {checks} |")
    if summary.decided_by:
        lines += ["", "## What decided the intent (offline model, turns)", ""]
        lines += [f"- {way}: {count}" for way, count in sorted(summary.decided_by.items())]
        lines += [f"  - {rule}: {count}" for rule, count in summary.rules.items()]
    lines += [
        "",
        "## Slowest cases",
        "",
        "| case | latency | model calls | input tokens |",
        "| --- | --- | --- | --- |",
    ]
    lines += [f"| {r.id} | {r.latency_s:.2f} s | {r.model_calls} | {r.input_tokens} |" for r in run.slowest()]
    failed = [result for result in run.results if not result.passed]
    lines += ["", f"## Failing cases ({len(failed)})", ""]
    if run.split == "heldout":
        # Reading a held-out question while fixing spends it; the report names failures, never their text.
        lines += [f"- {result.id} ({', '.join(result.tags)})" for result in failed]
        return "\n".join(lines).rstrip() + "\n"
    for result in failed:
        lines.append(f"### {result.id} ({', '.join(result.tags)})")
        lines.append("")
        lines += [f"- {failure}" for failure in result.failures]
        for turn in result.turns:
            answer = " ".join(turn.answer.split())
            lines.append(f"- Q: {turn.question}")
            lines.append(f"  - tools: {json.dumps(turn.tool_calls, ensure_ascii=False)}")
            lines.append(f"  - A: {answer[:400]}{'…' if len(answer) > 400 else ''}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write_reports(run: SuiteRun, report_dir: Path) -> tuple[Path, Path]:
    """Returns the Markdown and JSON reports written for a run into `report_dir`."""
    report_dir.mkdir(parents=True, exist_ok=True)
    stamp = "".join(ch for ch in run.started_at if ch.isalnum())[:15]
    stem = report_dir / f"eval-{run.split}-{run.organisation}-{model_slug(run.model)}-{run.mode}-{stamp}"
    markdown = stem.with_suffix(".md")
    data = stem.with_suffix(".json")
    markdown.write_text(markdown_report(run), encoding="utf-8")
    data.write_text(
        json.dumps(run.to_dict(), indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
    )
    return markdown, data

"""`incident-copilot feedback`: how often answers were found helpful, and the ones that were not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from agent.cli.common import store_session
from agent.feedback import service

ExportOption = Annotated[
    Path | None,
    typer.Option(
        "--export",
        help="Write the answers voted down as candidate evaluation cases (JSONL) to check before adding to dev.",
    ),
]
LimitOption = Annotated[int, typer.Option("--limit", min=1, help="Answers voted down to list.")]


def register(app: typer.Typer) -> None:
    """Adds this module's command to the CLI."""
    app.command("feedback")(feedback)


def feedback(export: ExportOption = None, limit: LimitOption = 20) -> None:
    """Report the acceptance of answers (overall, per intent, per week) and list those voted down."""
    with store_session() as session:
        report = service.report(db_session=session, limit=limit)
    typer.echo(f"Acceptance: {_rate(report.overall.up, report.overall.down)}")
    typer.echo("Per intent:")
    for group in report.by_intent:
        typer.echo(f"  {group.group:<20} {_rate(group.up, group.down)}")
    typer.echo("Per week:")
    for group in report.by_week:
        typer.echo(f"  {group.group:<20} {_rate(group.up, group.down)}")
    typer.echo(f"Voted down ({len(report.downvoted)}, newest first):")
    for item in report.downvoted:
        typer.echo(f"  #{item.answer_id} {item.voted_at:%Y-%m-%d %H:%M} [{item.intent}] {item.question}")
        typer.echo(f"      {item.interpretation}")
        typer.echo(f"      answer: {' '.join(item.answer.split())[:160]}")
    if export is not None:
        lines = [
            json.dumps(candidate_case(item.model_dump(mode="json")), ensure_ascii=False)
            for item in report.downvoted
        ]
        export.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        typer.echo(
            f"Wrote {len(lines)} candidate cases to {export} (check each before it joins the dev set)."
        )


def candidate_case(item: dict[str, Any]) -> dict[str, Any]:
    """Returns an answer voted down as an evaluation case without expectations, for a person to complete.

    It has the shape of a dev case (`evals.dataset.Case`); what the agent did is kept in `notes`, since
    that is what people said was wrong, not what is expected.
    """
    observed = {
        "interpretation": item["interpretation"],
        "tool_calls": item["tool_calls"],
        "answer": item["answer"],
        "model": item["model"],
        "votes": {"up": item["up"], "down": item["down"]},
    }
    return {
        "id": f"fb-{item['answer_id']}",
        "tags": ["feedback", item["intent"].replace("_", "-")],
        "user": "Feedback Candidate",
        "turns": [{"question": item["question"]}],
        "notes": "Voted down in Slack; add the expected tools and facts. Observed: " + json.dumps(observed),
    }


def _rate(up: int, down: int) -> str:
    total = up + down
    if not total:
        return "no votes yet"
    return f"{up} of {total} votes helpful ({100 * up / total:.0f}%)"

"""Feedback votes, retention, the report and its export, and catch-up marks: on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from agent.catchups import service as catchups
from agent.cli import app as cli
from agent.feedback import service as feedback
from agent.feedback.models import AnswerCreate, Vote
from agent.incidents import service, timeline
from agent.incidents.enums import EntrySource, Severity
from evals.dataset import Case
from tests.conftest import NOW


def answer(db_session: Session, question: str, intent: str, *, days_ago: int = 0) -> int:
    answer_in = AnswerCreate(
        source="slack",
        question=question,
        intent=intent,
        interpretation=f"Read as: {intent.replace('_', ' ')}",
        tool_calls=[{"name": intent, "args": {}}] if intent != "direct" else [],
        answer=f"An answer to {question}",
        model="offline",
    )
    return feedback.record_answer(
        db_session=db_session, answer_in=answer_in, now=NOW - timedelta(days=days_ago)
    ).id


def test_a_second_press_changes_the_vote_and_the_report_counts_per_intent_and_week(
    db_session: Session,
) -> None:
    count = answer(db_session, "how many incidents are ongoing?", "query_incidents", days_ago=8)
    related = answer(db_session, "anything like incident-3?", "related_incidents")
    assert feedback.vote(
        db_session=db_session, answer_id=count, voter="U1", helpful=True, now=NOW - timedelta(days=8)
    )
    feedback.vote(db_session=db_session, answer_id=related, voter="U1", helpful=True, now=NOW)
    feedback.vote(
        db_session=db_session, answer_id=related, voter="U1", helpful=False, now=NOW + timedelta(minutes=1)
    )
    feedback.vote(db_session=db_session, answer_id=related, voter="U2", helpful=False, now=NOW)
    assert not feedback.vote(db_session=db_session, answer_id=999, voter="U1", helpful=True, now=NOW)
    assert len(db_session.scalars(select(Vote)).all()) == 3

    report = feedback.report(db_session=db_session)
    assert (report.overall.up, report.overall.down) == (1, 2)
    assert {g.group: (g.up, g.down) for g in report.by_intent} == {
        "query_incidents": (1, 0),
        "related_incidents": (0, 2),
    }
    assert [(g.group, g.up, g.down) for g in report.by_week] == [("2026-W47", 1, 0), ("2026-W48", 0, 2)]
    assert [(d.answer_id, d.down) for d in report.downvoted] == [(related, 2)]


def test_answers_older_than_the_retention_go_with_their_votes(db_session: Session) -> None:
    old = answer(db_session, "old question", "direct", days_ago=91)
    kept = answer(db_session, "recent question", "direct", days_ago=89)
    feedback.vote(db_session=db_session, answer_id=old, voter="U1", helpful=False, now=NOW)
    assert feedback.purge(db_session=db_session, now=NOW, retention_days=90) == 1
    assert feedback.get(db_session=db_session, answer_id=old) is None
    assert feedback.get(db_session=db_session, answer_id=kept) is not None
    assert db_session.scalars(select(Vote)).all() == []


def test_catchup_marks_move_and_since_lists_only_what_is_new(db_session: Session) -> None:
    service.declare(
        db_session=db_session,
        title="Checkout errors",
        severity=Severity.sev2,
        now=NOW - timedelta(hours=2),
        actor="Priya Raman",
        source=EntrySource.cli,
    )
    timeline.add_timeline_entry(
        db_session=db_session,
        incident_id=1,
        at=NOW - timedelta(hours=1),
        author="Priya",
        text="old news",
        source=EntrySource.slack,
    )
    assert catchups.last_seen(db_session=db_session, user_id="U1", incident_id=1) is None
    catchups.mark_seen(db_session=db_session, user_id="U1", incident_id=1, now=NOW - timedelta(minutes=30))
    catchups.mark_seen(db_session=db_session, user_id="U1", incident_id=1, now=NOW)
    assert catchups.last_seen(db_session=db_session, user_id="U1", incident_id=1) == NOW
    timeline.add_timeline_entry(
        db_session=db_session,
        incident_id=1,
        at=NOW + timedelta(minutes=5),
        author="Marcus",
        text="new news",
        source=EntrySource.slack,
    )
    service.update_severity(
        db_session=db_session,
        incident_id=1,
        severity=Severity.sev1,
        now=NOW + timedelta(minutes=6),
        actor="Marcus",
        source=EntrySource.slack,
    )
    delta = catchups.since(db_session=db_session, incident_id=1, moment=NOW, now=NOW + timedelta(hours=1))
    assert [e.text for e in delta.entries] == ["new news"]
    assert [(c.field, c.before, c.after) for c in delta.changes] == [("severity", "SEV-2", "SEV-1")]


def test_the_feedback_command_reports_and_exports_candidate_cases(
    engine: Engine, db_session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    liked = answer(db_session, "how many incidents are ongoing?", "query_incidents")
    disliked = answer(db_session, "what broke checkout last week?", "related_incidents")
    feedback.vote(db_session=db_session, answer_id=liked, voter="U1", helpful=True, now=NOW)
    feedback.vote(db_session=db_session, answer_id=disliked, voter="U1", helpful=False, now=NOW)
    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    export = tmp_path / "candidates.jsonl"

    result = CliRunner().invoke(cli, ["feedback", "--export", str(export)])

    assert result.exit_code == 0, result.output
    assert "Acceptance: 1 of 2 votes helpful (50%)" in result.output
    assert "related_incidents    0 of 1 votes helpful (0%)" in result.output
    assert "what broke checkout last week?" in result.output
    (line,) = export.read_text().splitlines()
    case = Case.model_validate(json.loads(line))
    assert (case.id, case.turns[0].question) == (f"fb-{disliked}", "what broke checkout last week?")
    assert "related_incidents" in (case.notes or "")

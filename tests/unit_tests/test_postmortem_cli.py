"""Tests of `incident-copilot templates`, `postmortem` and `summary`: output and exit codes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from agent.cli import app
from agent.incidents.enums import Status
from agent.postmortems.extract import DRAFT_BANNER
from agent.settings import get_settings
from tests.unit_tests.test_postmortem_service import REMEDIATION, ROOT_CAUSE, build_incident

NOW = "2026-11-27T12:00:00Z"
runner = CliRunner()


@pytest.fixture
def store(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """Points the CLI at the test store (SQLite or PostgreSQL)."""
    monkeypatch.setenv("INCIDENT_COPILOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("INCIDENT_COPILOT_MODEL", "offline")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield engine
    get_settings.cache_clear()


def _run(*args: str) -> tuple[int, str, str]:
    """Returns the exit code, stdout, and stderr with whitespace collapsed (rich wraps long lines)."""
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, " ".join(result.stderr.split())


def test_validate_lists_every_problem_and_exits_non_zero(tmp_path: Path) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text("Intro {{incident.title}}\n\n# Postmortem\n\n{{incident.titel}}\n\n{incident.severity}}\n")
    code, out, err = _run("templates", "validate", str(bad))
    assert code == 1
    lines = out.strip().splitlines()
    assert [line.split(",")[0] for line in lines] == ["line 1", "line 5", "line 7"]
    assert "before any Markdown heading" in lines[0]
    assert (
        "unknown variable `{{incident.titel}}`" in lines[1]
        and "did you mean `{{incident.title}}`" in lines[1]
    )
    assert "missing an opening brace" in lines[2]
    assert "3 problem(s)" in err

    good = tmp_path / "good.md"
    good.write_text("# {{incident.title}}\n\n## Impact\n\n{{incident.customer_impact}}\n")
    code, out, _ = _run("templates", "validate", str(good))
    assert code == 0 and "valid; variables: title, customer_impact" in out


def test_template_commands(store: Engine, tmp_path: Path) -> None:
    code, out, _ = _run("templates", "list")
    assert code == 0
    assert [line.split()[:2] for line in out.splitlines()] == [["ai", "built-in"], ["plain", "built-in"]]
    assert "ai_summary" in out.splitlines()[0]

    code, out, _ = _run("templates", "show", "plain")
    assert code == 0 and out.startswith("# Postmortem: {{incident.title}}")

    bad = tmp_path / "bad.md"
    bad.write_text("# Team\n\n{{incident.foo}}\n")
    code, _, err = _run("templates", "create", "team", str(bad), "--user", "alice", "--now", NOW)
    assert code == 1 and "line 3, column 1: unknown variable `{{incident.foo}}`" in err

    good = tmp_path / "team.md"
    good.write_text("# {{incident.title}}\n\n## Root cause\n\n{{incident.root_cause}}\n")
    code, _, err = _run("templates", "create", "team", str(good), "--user", "alice", "--now", NOW)
    assert code == 0 and "Saved template 'team'" in err
    code, out, _ = _run("templates", "list")
    assert out.splitlines()[2].split()[:2] == ["team", "custom"]

    code, _, err = _run("templates", "delete", "ai", "--user", "alice")
    assert code == 1 and "built-in template and cannot be deleted" in err
    assert _run("templates", "delete", "team", "--user", "alice")[0] == 0
    code, _, err = _run("templates", "show", "team")
    assert code == 1 and "There is no template 'team'" in err


def test_generate_refuses_with_the_reason(store: Engine, db_session: Session, now: datetime) -> None:
    active = build_incident(db_session, now, messages=8, status=Status.active)
    code, out, err = _run("postmortem", "generate", f"incident-{active}", "--now", NOW, "--user", "bob")
    assert code == 1 and out == ""
    assert "it is active (resolve it first)" in err and "8 messages (7 more needed)" in err

    code, _, err = _run("postmortem", "generate", "incident-99", "--now", NOW)
    assert code == 1 and "There is no incident-99" in err

    code, _, err = _run("postmortem", "generate", f"incident-{active}", "--model", "gpt-5-turbo-ultra")
    assert code == 1 and "Cannot use the model 'gpt-5-turbo-ultra'" in err


def test_postmortem_lifecycle(store: Engine, db_session: Session, now: datetime, tmp_path: Path) -> None:
    number = build_incident(db_session, now)
    ref = f"incident-{number}"
    code, out, err = _run("postmortem", "generate", ref, "--now", NOW, "--user", "bob", "--model", "offline")
    assert code == 0, err
    assert out.startswith(DRAFT_BANNER) and ROOT_CAUSE in out and REMEDIATION in out
    assert "linked to incident-1" in err and "offline-extractive" in err

    code, _, err = _run("postmortem", "generate", ref, "--now", NOW)
    assert code == 1 and "already has a linked postmortem" in err and "--replace" in err

    code, out, _ = _run(
        "postmortem", "generate", ref, "--template", "plain", "--replace", "--now", "2026-11-27T13:00:00Z"
    )
    assert code == 0 and "## What went well" in out

    code, shown, _ = _run("postmortem", "show", ref)
    assert code == 0 and shown == out

    code, out, _ = _run("postmortem", "history", ref)
    rows = out.strip().splitlines()
    assert code == 0 and len(rows) == 2
    assert rows[0].startswith("#2  2026-11-27 13:00 UTC") and "template plain" in rows[0]
    assert rows[0].endswith("LINKED")
    assert rows[1].startswith(
        "#1  2026-11-27 12:00 UTC  by bob  template ai  generated by offline-extractive"
    )
    assert rows[1].endswith("unlinked 2026-11-27 13:00 by " + rows[0].split("  by ")[1].split("  ")[0])

    target = tmp_path / "pm.md"
    assert _run("postmortem", "export", ref, "--out", str(target))[0] == 0
    assert target.read_text() == shown
    code, _, err = _run("postmortem", "export", ref, "--out", str(target))
    assert code == 1 and "already exists" in err
    assert _run("postmortem", "export", ref)[0] == 0
    assert (tmp_path / f"{ref}-postmortem.md").read_text() == shown

    code, _, err = _run("postmortem", "unlink", ref, "--user", "carol")
    assert code == 0 and "stays in its history" in err
    code, _, err = _run("postmortem", "show", ref)
    assert code == 1 and "has no linked postmortem (2 unlinked draft(s)" in err
    assert _run("postmortem", "generate", ref, "--now", NOW)[0] == 0


def test_summary_command(store: Engine, db_session: Session, now: datetime) -> None:
    short = build_incident(db_session, now, messages=9, status=Status.active)
    code, out, err = _run("summary", f"incident-{short}", "--now", NOW)
    assert code == 1 and out == "" and "only 9 messages" in err and "at least 10" in err

    number = build_incident(db_session, now, messages=12, status=Status.stable, channel="C-two")
    code, out, _ = _run("summary", f"#{number}", "--now", NOW)
    assert code == 0
    assert out.startswith(f"## Catch-up: incident-{number}: Checkout failing with 502s")
    assert "### What has been tried" in out and "(https://acme.slack.com/archives/C-two/" in out

"""The runtime context: explicit values, environment fallbacks, and values Studio sends as strings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.context import Context


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("INCIDENT_COPILOT_MODEL", "openai:gpt-test")
    monkeypatch.setenv("INCIDENT_COPILOT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("INCIDENT_COPILOT_WRITE_PERMISSION", "responders")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return tmp_path


def test_empty_fields_fall_back_to_the_environment(environment: Path) -> None:
    context = Context()
    assert context.model == "openai:gpt-test"
    assert context.data_dir == str(environment)
    assert context.database_url == f"sqlite:///{(environment / 'incidents.db').resolve()}"
    assert context.write_permission == "responders"
    assert (context.summary_min_messages, context.postmortem_min_messages) == (1, 15)
    assert context.related_window_hours == 2
    assert (context.source, context.operator, context.auto_confirm) == ("studio", False, False)


def test_explicit_values_win(environment: Path, tmp_path: Path) -> None:
    context = Context(model="offline", data_dir=str(tmp_path / "other"), write_permission="anyone")
    assert context.model == "offline"
    assert context.database_url == f"sqlite:///{(tmp_path / 'other' / 'incidents.db').resolve()}"
    assert context.settings().chroma_path == tmp_path / "other" / "chroma"
    assert context.write_permission == "anyone"
    assert Context(database_url="postgresql+psycopg://x/y").database_url == "postgresql+psycopg://x/y"


def test_now_from_studio_json_is_parsed() -> None:
    assert Context(now="2026-11-27T12:00:00Z").now == datetime(2026, 11, 27, 12, tzinfo=UTC)  # type: ignore[arg-type]
    assert Context(now="2026-11-27T12:00:00").now == datetime(2026, 11, 27, 12, tzinfo=UTC)  # type: ignore[arg-type]
    assert Context(now="2026-11-27T14:00:00+02:00").clock() == datetime(2026, 11, 27, 12, tzinfo=UTC)  # type: ignore[arg-type]


def test_clock_is_frozen_or_real() -> None:
    frozen = datetime(2026, 11, 27, 12, tzinfo=UTC)
    assert Context(now=frozen).clock() == frozen
    assert abs(Context().clock() - datetime.now(UTC)) < timedelta(minutes=1)


def test_invalid_values_are_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        Context(now=datetime(2026, 11, 27, 12))
    with pytest.raises(ValueError, match="source must be one of cli, slack, studio"):
        Context(source="email")


def test_model_is_tagged_for_studio() -> None:
    field = Context.__dataclass_fields__["model"]
    assert "description" in field.metadata
    assert "__template_metadata__" in str(Context.__annotations__["model"])

"""Tests of schema migrations and the engine cache."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import Engine, inspect

from agent.db import MIGRATIONS_DIR, alembic_config, engine_for, head_revision, is_up_to_date, upgrade


def test_head_revision_is_the_newest_script() -> None:
    scripts = sorted(p.name for p in (MIGRATIONS_DIR / "versions").glob("*.py"))
    assert scripts[-1].startswith(head_revision())


def test_migrations_go_down_and_up_again(engine: Engine) -> None:
    assert is_up_to_date(engine)
    command.downgrade(alembic_config(engine), "base")
    assert not is_up_to_date(engine)
    assert "incidents" not in inspect(engine).get_table_names()
    upgrade(engine)
    assert is_up_to_date(engine)
    assert {"incidents", "timeline_entries", "audit_log", "postmortems"} <= set(
        inspect(engine).get_table_names()
    )


def test_engine_for_migrates_a_new_store_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = engine_for(url)
    assert is_up_to_date(engine)
    assert engine_for(url) is engine

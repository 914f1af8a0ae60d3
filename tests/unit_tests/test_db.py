"""Tests of schema migrations and the engine cache."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, update
from sqlalchemy import text as sql

from agent.db import (
    MIGRATION_LOCK_KEY,
    MIGRATIONS_DIR,
    alembic_config,
    engine_for,
    head_revision,
    is_up_to_date,
    make_engine,
    session_factory,
    upgrade,
)
from agent.incidents import service
from agent.incidents.enums import EntrySource, Severity
from agent.incidents.models import Incident


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


def test_a_nul_in_any_text_is_dropped_on_both_engines(engine: Engine) -> None:
    # PostgreSQL refuses a NUL in text and with it the whole write; here it is dropped and the rest kept,
    # through the ORM and through a bulk statement alike.
    session = session_factory(engine)()
    incident = service.declare(
        db_session=session,
        title="Checkout\x00 failing",
        severity=Severity.sev2,
        now=datetime(2026, 11, 27, 12, tzinfo=UTC),
        actor="alice\x00",
        source=EntrySource.cli,
        services=[],
    )
    session.commit()
    session.execute(update(Incident).where(Incident.id == incident.id).values(summary="half\x00 written"))
    session.commit()
    session.expire_all()
    stored = session.get(Incident, incident.id)
    assert stored is not None
    assert (stored.title, stored.summary) == ("Checkout failing", "half written")
    session.close()


@pytest.mark.postgres
def test_replicas_starting_together_on_postgresql_migrate_one_at_a_time(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    with engine.begin() as connection:
        for table in list(
            connection.execute(
                sql("select tablename from pg_tables where schemaname = current_schema()")
            ).scalars()
        ):
            connection.execute(sql(f'DROP TABLE IF EXISTS "{table}" CASCADE'))
    # Another replica is migrating: it holds the lock.
    holder = engine.connect()
    holder.execute(sql("select pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    holder.commit()
    second = threading.Thread(target=upgrade, args=(make_engine(postgres_url),))
    second.start()
    waiting = sql("select count(*) from pg_locks where locktype = 'advisory' and not granted")
    deadline = time.monotonic() + 60
    while holder.execute(waiting).scalar_one() == 0:
        assert time.monotonic() < deadline, "the second migration never asked for the lock"
        time.sleep(0.05)
    # It waits without having created anything.
    assert not inspect(engine).has_table("alembic_version")
    holder.execute(sql("select pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
    holder.close()
    second.join(timeout=120)
    assert not second.is_alive() and is_up_to_date(engine)
    engine.dispose()

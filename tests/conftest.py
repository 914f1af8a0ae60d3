"""Shared fixtures: a frozen clock, and a migrated store on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from agent.db import make_engine, session_factory, upgrade

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
"""The frozen clock of every test; the demo organisation is built relative to it."""

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(autouse=True)
def _offline_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests never reach a model, LangSmith or Slack, whatever the developer's shell exports.
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "LANGSMITH_API_KEY", "LANGCHAIN_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANGSMITH_TRACING", "false")
    monkeypatch.setenv("LANGSMITH_TEST_TRACKING", "false")


@pytest.fixture
def now() -> datetime:
    """Returns the frozen clock."""
    return NOW


def _postgres_reachable() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as error:  # noqa: BLE001 - any failure means "not reachable"
        return f"{type(error).__name__}: {error}".splitlines()[0]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """Yields a URL to a fresh schema on the PostgreSQL server, dropped afterwards.

    Skips when no server is reachable, except under CI=true, where the tests must run.
    """
    problem = _postgres_reachable()
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI=true and is not reachable: {problem}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {problem}")
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _fresh_postgres(url: str) -> Engine:
    engine = make_engine(url)
    with engine.begin() as connection:
        tables = connection.execute(
            text("select tablename from pg_tables where schemaname = current_schema()")
        ).scalars()
        for table in list(tables):
            connection.execute(text(f'DROP TABLE IF EXISTS "{table}" CASCADE'))
    upgrade(engine)
    return engine


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[Engine]:
    """Yields a migrated, empty store: once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path}/incidents.db")  # type: ignore[str-bytes-safe]
        upgrade(engine)
    else:
        engine = _fresh_postgres(request.getfixturevalue("postgres_url"))
    yield engine
    engine.dispose()


@pytest.fixture
def db_session(engine: Engine) -> Iterator[Session]:
    """Yields a session on the store of `engine`."""
    session = session_factory(engine)()
    yield session
    session.close()

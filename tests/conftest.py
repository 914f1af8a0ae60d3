"""Shared fixtures: a frozen clock, and a migrated store on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from agent.db import make_engine, session_factory, session_scope, upgrade
from agent.incidents import service
from agent.incidents.enums import EntrySource, Severity
from agent.settings import get_settings

if TYPE_CHECKING:
    from agent.search.index import IncidentIndex

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


def declare_incidents(
    engine: Engine, incidents: Sequence[tuple[str, str]], *, channel_ids: Mapping[int, str] | None = None
) -> None:
    """Declares active SEV-2 incidents (title, service), the first an hour before NOW, the next two, ...

    `channel_ids` links incident numbers (1 = the first declared) to Slack channels.
    """
    with session_scope(engine) as session:
        for number, (title, service_name) in enumerate(incidents, start=1):
            service.declare(
                db_session=session,
                title=title,
                severity=Severity.sev2,
                now=NOW - timedelta(hours=number),
                actor="Priya Raman",
                source=EntrySource.cli,
                services=[service_name],
                slack_channel_id=(channel_ids or {}).get(number),
            )


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


def fresh_postgres(url: str) -> Engine:
    """Returns an engine on the schema of `url`, emptied and migrated."""
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
        engine = fresh_postgres(request.getfixturevalue("postgres_url"))
    yield engine
    engine.dispose()


@pytest.fixture
def db_session(engine: Engine) -> Iterator[Session]:
    """Yields a session on the store of `engine`."""
    session = session_factory(engine)()
    yield session
    session.close()


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    # `get_settings` is cached for the life of a process; a test that changes the environment must not
    # leave its settings behind for the next one.
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


# --- the demo organisation, built once per session ---------------------------------------------------


@dataclass
class DemoStore:
    """A store holding the demo organisation (seed 7, built at NOW): SQLite file plus embedded Chroma."""

    data_dir: Path
    database_url: str
    engine: Engine
    special: dict[str, tuple[int, ...]] = field(default_factory=dict)
    """The generator's named incidents ("active_checkout", "incident_123", ...) -> ids."""

    @property
    def chroma_path(self) -> Path:
        """Returns the folder of the embedded Chroma index."""
        return self.data_dir / "chroma"

    def open_index(self) -> IncidentIndex:
        """Returns the search index of this store."""
        from agent.search.index import open_index

        return open_index(path=self.chroma_path)

    def activate(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Points the process settings (CLI, agent context) at this store for the current test."""
        monkeypatch.setenv("INCIDENT_COPILOT_DATA_DIR", str(self.data_dir))
        monkeypatch.setenv("DATABASE_URL", self.database_url)
        monkeypatch.delenv("CHROMA_HOST", raising=False)
        get_settings.cache_clear()


def _sqlite_copy(source: Path, target: Path) -> None:
    """Copies a SQLite database through the backup API, which includes pages still in its WAL file."""
    with closing(sqlite3.connect(source)) as origin, closing(sqlite3.connect(target)) as copy:
        origin.backup(copy)


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> DemoStore:
    """Returns the demo organisation built once per test session (read-only: use `demo_copy` to write)."""
    from agent.demo.build import build_demo
    from agent.search.index import open_index

    data_dir = tmp_path_factory.mktemp("demo_store")
    url = f"sqlite:///{data_dir / 'incidents.db'}"
    engine = make_engine(url)
    upgrade(engine)
    report = build_demo(engine=engine, index=open_index(path=data_dir / "chroma"), now=NOW, seed=7)
    return DemoStore(data_dir=data_dir, database_url=url, engine=engine, special=report.special)


@pytest.fixture
def demo_copy(demo_store: DemoStore, tmp_path: Path) -> Iterator[DemoStore]:
    """Yields a private copy of the demo store (database and index) that a test may change."""
    data_dir = tmp_path / "demo"
    data_dir.mkdir()
    _sqlite_copy(demo_store.data_dir / "incidents.db", data_dir / "incidents.db")
    shutil.copytree(
        demo_store.chroma_path, data_dir / "chroma", ignore=shutil.ignore_patterns("chroma.sqlite3*")
    )
    _sqlite_copy(demo_store.chroma_path / "chroma.sqlite3", data_dir / "chroma" / "chroma.sqlite3")
    url = f"sqlite:///{data_dir / 'incidents.db'}"
    engine = make_engine(url)
    yield DemoStore(data_dir=data_dir, database_url=url, engine=engine, special=demo_store.special)
    engine.dispose()

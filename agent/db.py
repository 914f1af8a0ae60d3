"""Engines, sessions and schema migrations for the incident store."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
MIGRATION_LOCK_KEY = 0x1C0_0B07
"""PostgreSQL advisory lock held while migrating, so replicas starting together migrate one at a time."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets Slack's ingestion write while the agent reads; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(_has_nul(item) for item in value)
    return False


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {key: _without_nul(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_without_nul(item) for item in value)
    return value


def _parameters_without_nul(
    _connection: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _executemany: bool
) -> tuple[str, Any]:
    # PostgreSQL text cannot hold NUL (0x00) and refuses the whole statement; a NUL means nothing in a
    # Slack message, a title or an imported record, so it is dropped from every value written, on both
    # engines alike, by the ORM and the bulk paths.
    return statement, (_without_nul(parameters) if _has_nul(parameters) else parameters)


def make_engine(url: str) -> Engine:
    """Returns an engine for `url`, creating the SQLite file's folder when needed."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    event.listen(engine, "before_cursor_execute", _parameters_without_nul, retval=True)
    return engine


def alembic_config(engine: Engine) -> Any:
    """Returns an Alembic configuration that migrates `engine` with the packaged scripts."""
    from alembic.config import Config  # lazy: see is_up_to_date

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Creates or upgrades the schema by running the Alembic migrations."""
    from alembic import command  # lazy: see is_up_to_date

    command.upgrade(alembic_config(engine), revision)


_REVISION_RE = re.compile(r"^(down_revision|revision)\s*=\s*['\"]?([\w]+)?['\"]?", re.MULTILINE)


def head_revision() -> str:
    """Returns the newest migration's revision id, read from the scripts without importing Alembic."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in MIGRATIONS_DIR.joinpath("versions").glob("*.py"):
        for name, value in _REVISION_RE.findall(script.read_text()):
            if value and value != "None":
                (revisions if name == "revision" else parents).add(value)
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads: {sorted(heads)}")
    return heads.pop()


def is_up_to_date(engine: Engine) -> bool:
    """Returns whether the store is already at the newest migration.

    Importing and running Alembic costs most of a second; a CLI question should not pay it when there is
    nothing to migrate.
    """
    try:
        with engine.connect() as connection:
            current = connection.execute(text("select version_num from alembic_version")).scalars().all()
    except DBAPIError:
        return False
    return current == [head_revision()]


_ENGINES: dict[str, Engine] = {}
# Alembic keeps per-run state in module globals, so two threads must never migrate at once.
_ENGINES_LOCK = threading.Lock()


def engine_for(url: str) -> Engine:
    """Returns one migrated engine per URL for the life of the process (thread-safe)."""
    with _ENGINES_LOCK:
        engine = _ENGINES.get(url)
        if engine is None:
            engine = make_engine(url)
            if not is_up_to_date(engine):
                upgrade(engine)
            _ENGINES[url] = engine
        return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Returns a session factory whose objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """Yields a session that commits on success and rolls back on any error."""
    session = session_factory(engine)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def session_for(url: str) -> Iterator[Session]:
    """Yields a session on the store at `url` (its engine made once per process), committed on success."""
    with session_scope(engine_for(url)) as session:
        yield session


def dispose_engines() -> None:
    """Closes and forgets every engine `engine_for` opened (before deleting a store's files)."""
    with _ENGINES_LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()


def upsert(
    db_session: Session, model: type[Any], *, values: dict[str, Any], keys: list[str], update: dict[str, Any]
) -> None:
    """Inserts a row or updates the one with the same `keys`, in one statement (PostgreSQL or SQLite), so
    two replicas writing the same row at once leave one."""
    insert = pg_insert if db_session.get_bind().dialect.name == "postgresql" else sqlite_insert
    db_session.execute(insert(model).values(**values).on_conflict_do_update(index_elements=keys, set_=update))

"""Migration 0005: PostgreSQL answers full-text lookups from indexes, without scanning rows or pending lists."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session

from agent.db import alembic_config, session_factory, upgrade
from agent.search.keyword import title_term_counts
from tests.unit_tests.test_search_index import build_corpus

pytestmark = pytest.mark.postgres


@pytest.fixture
def postgres_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    from tests.conftest import fresh_postgres  # noqa: PLC0415 - the fixture helper, not a fixture

    engine = fresh_postgres(request.getfixturevalue("postgres_url"))
    yield engine
    engine.dispose()


def _title_probe(engine: Engine, db_session: Session) -> tuple[str, Any]:
    """Returns the SQL and parameters `title_term_counts` sends for one term."""
    sent: list[tuple[str, Any]] = []

    def capture(_conn: object, _cursor: object, statement: str, parameters: Any, *_rest: object) -> None:
        sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        assert title_term_counts(db_session, ["failover"]) == {"failover": 1}
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    (probe,) = [(sql, params) for sql, params in sent if "regexp_replace(title" in sql]
    return probe


def _plan(engine: Engine, sql: str, params: Any) -> str:
    with engine.connect() as connection:
        # With sequential scans priced out, the planner shows whether any index can answer the query.
        connection.exec_driver_sql("SET enable_seqscan = off")
        rows = connection.exec_driver_sql(f"EXPLAIN {sql}", params).scalars()
        return "\n".join(rows)


def test_title_word_counts_use_the_index_and_only_with_migration_0005(
    postgres_engine: Engine, now: datetime
) -> None:
    with session_factory(postgres_engine)() as db_session:
        build_corpus(db_session, now)
        sql, params = _title_probe(postgres_engine, db_session)
    assert "ix_incidents_title_words" in _plan(postgres_engine, sql, params)

    command.downgrade(alembic_config(postgres_engine), "0004")
    assert "ix_incidents_title_words" not in _plan(postgres_engine, sql, params)
    upgrade(postgres_engine)
    with postgres_engine.connect() as connection:
        indexes = connection.execute(
            text("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")
        ).scalars()
        assert "ix_incidents_title_words" in set(indexes)


def _fastupdate_off(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(
            connection.execute(
                text(
                    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = current_schema() AND 'fastupdate=off' = ANY(c.reloptions)"
                )
            ).scalars()
        )


def test_full_text_indexes_keep_no_pending_list_and_only_with_migration_0005(postgres_engine: Engine) -> None:
    gin = {"ix_incidents_search_tsv", "ix_timeline_entries_search_tsv", "ix_incidents_title_words"}
    assert _fastupdate_off(postgres_engine) == gin
    command.downgrade(alembic_config(postgres_engine), "0004")
    assert _fastupdate_off(postgres_engine) == set()
    upgrade(postgres_engine)
    assert _fastupdate_off(postgres_engine) == gin

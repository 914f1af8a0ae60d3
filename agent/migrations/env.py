"""Alembic environment: migrates the engine handed over by `agent.db.upgrade`, or `DATABASE_URL`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, text

from agent.assistant import models as _assistant_models  # noqa: F401 - registers assistant_threads
from agent.catchups import models as _catchup_models  # noqa: F401 - registers catchup_marks
from agent.db import MIGRATION_LOCK_KEY, make_engine
from agent.feedback import models as _feedback_models  # noqa: F401 - registers answers and votes
from agent.incidents.models import Base
from agent.outbox import models as _outbox_models  # noqa: F401 - registers the outbox table
from agent.postmortems import models as _postmortem_models  # noqa: F401 - registers postmortems, templates
from agent.settings import get_settings

config = context.config
target_metadata = Base.metadata


def _engine() -> Engine:
    engine = config.attributes.get("engine")
    if engine is not None:
        return engine
    # Run from the `alembic` command line: use the configured store.
    return make_engine(get_settings().sqlalchemy_url)


def run_migrations_online() -> None:
    """Runs the migrations inside one transaction per revision."""
    with _engine().connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Two replicas starting on a new database would both create the schema and one would fail;
                # the lock makes the second wait, then find the schema at head and do nothing.
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run against a database")
run_migrations_online()

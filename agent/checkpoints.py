"""Durable LangGraph checkpoints, kept beside the incident store.

A paused write (waiting for Confirm) lives in a checkpoint. On SQLite it is a file in the data folder,
which is enough on one machine. On PostgreSQL it goes to the same database as the incidents
(`langgraph-checkpoint-postgres`), so whichever replica receives the Confirm press resumes it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from sqlalchemy.engine import make_url

CHECKPOINTS_FILE = "slack-checkpoints.sqlite"
"""The checkpoints of paused Slack conversations when the store is SQLite, in the data folder."""

POOL_SIZE = 4
"""Connections per process; agent turns that run at once each hold one only while they read or write."""


def durable_checkpointer(*, database_url: str, data_dir: Path) -> BaseCheckpointSaver[Any]:
    """Returns a checkpointer that survives restarts: in PostgreSQL for a PostgreSQL store, else a file.

    The PostgreSQL tables are created (or migrated by the library) here, before the first turn.
    """
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        from langgraph.checkpoint.postgres import PostgresSaver  # lazy: only teams on PostgreSQL
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool

        pool: ConnectionPool[Any] = ConnectionPool(
            conninfo=url.set(drivername="postgresql").render_as_string(hide_password=False),
            min_size=1,
            max_size=POOL_SIZE,
            # What PostgresSaver expects of its connections (its setup creates indexes concurrently).
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
            open=True,
        )
        saver = PostgresSaver(pool)  # type: ignore[arg-type]
        saver.setup()
        return saver
    from langgraph.checkpoint.sqlite import SqliteSaver  # lazy: heavy; only when the agent runs

    data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteSaver(sqlite3.connect(data_dir / CHECKPOINTS_FILE, check_same_thread=False))

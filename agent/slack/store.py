"""The Slack app's writes to the store: one at a time on SQLite, retried when SQLite says it is busy.

A burst of channel messages arrives on many listener threads at once. SQLite takes one writer at a time,
and a transaction that read before another writer committed is refused at once ("database is locked")
rather than queued, so concurrent timeline writes would lose messages. Serialising this app's writes in
the process costs nothing (SQLite serialises them anyway), and the retry covers writers in other
processes or engines, such as the agent's tools. PostgreSQL needs neither and gets neither.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from agent.db import session_scope

T = TypeVar("T")

ATTEMPTS = 5
BACKOFF_S = 0.05


class StoreWriter:
    """Runs write functions on fresh sessions of one store, serialised and retried on SQLite."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock: AbstractContextManager[object] = (
            threading.Lock() if engine.dialect.name == "sqlite" else nullcontext()
        )

    def run(self, write: Callable[[Session], T]) -> T:
        """Returns what `write(session)` returns, committed; retries it while SQLite reports a lock."""
        attempt = 1
        while True:
            try:
                with self._lock, session_scope(self.engine) as session:
                    return write(session)
            except OperationalError as error:
                if attempt >= ATTEMPTS or "locked" not in str(error).lower():
                    raise
            # Another process holds the write lock: give it a moment, a little longer each time.
            time.sleep(BACKOFF_S * attempt)
            attempt += 1

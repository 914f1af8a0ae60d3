"""How a write to incidents is committed: retried when it loses a race, and noted for the search index.

Every write function of the domain (`service`, `timeline`, `audit`) commits through `retrying` or marks
what it changed with `mark_changed`; the search index reads `db_session.info[CHANGED_KEY]` on commit (see
`agent/search/index.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from agent.incidents.exceptions import ConcurrentUpdate

MAX_WRITE_ATTEMPTS = 5
T = TypeVar("T")

CHANGED_KEY = "changed_incident_ids"
"""The `db_session.info` key holding the ids of the incidents changed since the last commit."""


def mark_changed(*, db_session: Session, incident_ids: Iterable[int]) -> None:
    """Notes that these incidents changed, so the search index follows them when the session commits."""
    db_session.info.setdefault(CHANGED_KEY, set()).update(incident_ids)


def retrying(*, db_session: Session, write: Callable[[], T]) -> T:
    """Returns what `write` returns once committed, starting over on a lost race or a busy database."""
    for _attempt in range(MAX_WRITE_ATTEMPTS):
        try:
            result = write()
            db_session.commit()
            return result
        except (StaleDataError, OperationalError) as error:
            db_session.rollback()
            if isinstance(error, OperationalError) and "locked" not in str(error).lower():
                raise
            # Someone else committed first: re-read fresh rows and apply the change on top of theirs.
            db_session.expire_all()
    raise ConcurrentUpdate("The incident kept changing while I tried to update it; please try again.")

"""What the store's incidents hold, looked up from inside the offline model.

How the offline model reads a question depends on which words the store's incidents hold: a leftover word
is a topic only when some incident title holds it ("sitting" in "how many are sitting in stable?" is not),
an identifier ("CHG-1427") picks the incident that mentions it, a bare number is an incident only when the
store has one by that number, and the service names and aliases are the store's own. These functions open
the database of the running graph (`Context.database_url`) to tell; outside a graph run there is no store:
every word and number is kept, and the store names no service.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Literal

from agent.incidents import catalogue, service
from agent.normalize import ServiceName


@lru_cache(maxsize=8)
def _services_of_store(database_url: str) -> tuple[ServiceName, ...]:
    from agent.db import engine_for, session_scope  # lazy: only when a graph runs over a store

    with session_scope(engine_for(database_url)) as db_session:
        return tuple(catalogue.service_vocabulary(db_session=db_session))


_SEEN_IN_STORE: set[tuple[str, str, str | int]] = set()
"""(database url, "title" or "incident", word or number) found in the store; a store only gains incidents,
so a hit stays true, while a miss is asked again (the word or incident may arrive later)."""


def _in_store(
    database_url: str, kind: Literal["title", "text", "incident"], values: Sequence[str | int]
) -> set[str | int]:
    """Returns those of the values the store holds: words some incident title holds, words some incident
    mentions anywhere, or incident numbers that exist; asked in one session."""
    found: set[str | int] = {value for value in values if (database_url, kind, value) in _SEEN_IN_STORE}
    unknown = [value for value in dict.fromkeys(values) if value not in found]
    if not unknown:
        return found
    from agent.db import engine_for, session_scope  # lazy: only when a graph runs over a store
    from agent.search.keyword import keyword_search, title_term_counts

    with session_scope(engine_for(database_url)) as db_session:
        if kind == "title":
            counts = title_term_counts(db_session, [str(value) for value in unknown])
            held = {value for value in unknown if counts.get(str(value), 0) > 0}
        elif kind == "text":
            held = {value for value in unknown if keyword_search(db_session, str(value), limit=1)}
        else:
            numbers = [int(value) for value in unknown]
            existing = {
                incident.id for incident in service.get_many(db_session=db_session, incident_ids=numbers)
            }
            held = {value for value in unknown if int(value) in existing}
    _SEEN_IN_STORE.update((database_url, kind, value) for value in held)
    return found | held


def mentioning_identifiers(words: Sequence[str]) -> set[int]:
    """Returns the incidents that mention an identifier among the words ("CHG-1427"); none outside a run."""
    url = _runtime_database_url()
    identifiers = [word for word in words if _is_identifier(word)]
    if url is None or not identifiers:
        return set()
    from agent.db import engine_for, session_scope  # lazy: only when a graph runs over a store
    from agent.search.keyword import keyword_search

    with session_scope(engine_for(url)) as db_session:
        return {
            hit.incident_id
            for word in identifiers
            for hit in keyword_search(db_session, word, limit=5)
            if hit.score >= 1.0
        }


def _is_identifier(word: str) -> bool:
    """Returns whether a word reads like a change id, error code or host ("CHG-1427", "api.example.com"),
    as opposed to a hyphenated word ("follow-ups") or a bare number."""
    return not word.isdigit() and (any(c.isdigit() for c in word) or bool(re.search(r"\w[._]\w", word)))


def _runtime_database_url() -> str | None:
    from langgraph.runtime import get_runtime

    try:
        runtime = get_runtime()
    except (RuntimeError, KeyError):
        # Called outside a graph run (a plain `invoke`): there is no store to read.
        return None
    url = getattr(getattr(runtime, "context", None), "database_url", None)
    return str(url) if url else None


def existing_incidents(numbers: Sequence[int]) -> list[int]:
    """Returns the bare numbers of a question that are incidents of the store ("what caused 498?"); a
    number no incident has is something else. Outside a graph run every number is kept."""
    url = _runtime_database_url()
    if url is None:
        return list(numbers)
    existing = _in_store(url, "incident", numbers)
    return [number for number in numbers if number in existing]


def runtime_services() -> tuple[ServiceName, ...]:
    """Returns the service vocabulary of the store of the running graph; none outside a graph run."""
    url = _runtime_database_url()
    return _services_of_store(url) if url else ()


def mentioned_words(words: Sequence[str]) -> list[str]:
    """Returns the words some incident mentions in any field; outside a graph run, every word."""
    url = _runtime_database_url()
    if url is None:
        return list(words)
    mentioned = _in_store(url, "text", words)
    return [word for word in words if word in mentioned]


def topical_words(words: Sequence[str]) -> list[str]:
    """Returns the words some incident's title holds: a question's topic, as opposed to its chatter.

    "how many are sitting in stable?" leaves "sitting", which no title holds: it restricts nothing.
    Outside a graph run there is no store, and every word is kept. An identifier ("CHG-1427", "WAF-161") is kept when any incident mentions it, in any field.
    """
    url = _runtime_database_url()
    if url is None:
        return list(words)
    titled = _in_store(url, "title", [word.lower() for word in words])
    untitled_identifiers = [word for word in words if word.lower() not in titled and _is_identifier(word)]
    mentioned = _in_store(url, "text", untitled_identifiers)
    return [word for word in words if word.lower() in titled or word in mentioned]

"""The search index on a real Chroma server (`chroma run`), over `HttpClient`: create, update, search,
repair, and an outage that loses nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from agent.cli import app as cli
from agent.db import make_engine, session_scope, upgrade
from agent.incidents import service, timeline
from agent.incidents.enums import EntrySource, Severity
from agent.incidents.exceptions import SearchUnavailable
from agent.search.hybrid import search_incidents
from agent.search.index import IncidentIndex, follow_store, open_index
from agent.settings import Settings, get_settings
from tests.conftest import NOW, declare_incidents
from tests.servers.chroma import ChromaServer

pytestmark = pytest.mark.slow

INCIDENTS = (
    ("Card payments declined at checkout", "payments"),
    ("Search results empty after reindex", "search"),
    ("Login page times out for SSO users", "auth"),
)


@pytest.fixture
def chroma(tmp_path: Path) -> Iterator[ChromaServer]:
    server = ChromaServer(tmp_path / "chroma-server").start()
    yield server
    server.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'incidents.db'}")
    upgrade(engine)
    declare_incidents(engine, INCIDENTS)
    yield engine
    engine.dispose()


def _environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, store: Engine, chroma: ChromaServer
) -> Settings:
    monkeypatch.setenv("DATABASE_URL", store.url.render_as_string(hide_password=False))
    monkeypatch.setenv("INCIDENT_COPILOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHROMA_HOST", chroma.host)
    monkeypatch.setenv("CHROMA_PORT", str(chroma.port))
    get_settings.cache_clear()
    return get_settings()


def _top(index: IncidentIndex, store: Engine, query: str) -> int:
    with session_scope(store) as session:
        hits = search_incidents(session, index, query=query, limit=3)
    assert hits, f"nothing found for {query!r}"
    return hits[0].incident_id


def test_the_index_is_created_updated_searched_and_repaired_on_a_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, store: Engine, chroma: ChromaServer
) -> None:
    index = open_index(_environment(monkeypatch, tmp_path, store, chroma))
    assert index.location == f"127.0.0.1:{chroma.port}"
    with session_scope(store) as session:
        assert index.refresh(session).added == 3
    assert index.count() == 3
    assert _top(index, store, "credit cards refused when paying") == 1

    with session_scope(store) as session:
        timeline.add_timeline_entry(
            db_session=session,
            incident_id=2,
            at=NOW,
            author="Marcus Chen",
            text="Root cause: the Kafka consumer group stalled, so the indexer lagged by six hours.",
            source=EntrySource.cli,
        )
    with session_scope(store) as session:
        assert index.refresh(session).updated == 1
    assert _top(index, store, "kafka consumer lag") == 2

    # A document lost behind the index's back (another writer, a restored backup) is put back.
    index.collection.delete(ids=["incident-3"])
    with session_scope(store) as session:
        assert index.sync(session).added == 1
        assert index.reindex(session) == 3
    assert index.count() == 3
    assert _top(index, store, "single sign-on login timeouts") == 3


def test_while_the_server_is_down_writes_land_searches_say_so_and_it_catches_up_when_back(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, store: Engine, chroma: ChromaServer
) -> None:
    index = open_index(_environment(monkeypatch, tmp_path, store, chroma))
    stop_following = follow_store(store, index)
    with session_scope(store) as session:
        index.refresh(session)
    chroma.stop()
    try:
        with session_scope(store) as session:
            declared = service.declare(
                db_session=session,
                title="Webhook deliveries to partners delayed",
                severity=Severity.sev3,
                now=NOW,
                actor="Sam Taylor",
                source=EntrySource.cli,
                services=["webhooks"],
            )
        with session_scope(store) as session:
            assert service.count_incidents(db_session=session) == 4
            with pytest.raises(SearchUnavailable, match=f"Chroma server at 127.0.0.1:{chroma.port}"):
                search_incidents(session, index, query="partner webhooks late")

        # A person asking gets the reason in one sentence; counting still works from the store.
        runner = CliRunner()
        searched = runner.invoke(cli, ["ask", "find incidents like partner webhooks being late", "--json"])
        assert searched.exit_code == 0, searched.output
        assert "cannot be reached right now" in json.loads(searched.stdout)["answer"]
        counted = runner.invoke(cli, ["ask", "How many incidents are currently ongoing?", "--json"])
        assert json.loads(counted.stdout)["answer"].startswith("There are 4 ongoing incidents.")
    finally:
        chroma.start()
    with session_scope(store) as session:
        assert index.refresh(session).added == 1
    assert _top(index, store, "partner webhooks late") == declared.id
    checked = CliRunner().invoke(cli, ["reindex", "--check"])
    assert checked.exit_code == 0, checked.output
    assert "0 differences" in checked.output
    stop_following()

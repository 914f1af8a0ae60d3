"""Fixtures of the Slack tests: the fake workspace, the seeded store and the runner double."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from agent.db import make_engine, upgrade
from evals.fake_slack import FakeSlack
from tests.conftest import NOW
from tests.integration_tests.slack_world import (
    CHLOE,
    GENERAL,
    INC1,
    INC2,
    INC3,
    MARCUS,
    PRIYA,
    SAM,
    ScriptedRunner,
    seed_incidents,
)


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    """Yields a running fake Slack with four people and four channels."""
    slack = FakeSlack(start_ts=NOW.timestamp())
    slack.add_user(PRIYA, "Priya Raman", display_name="priya")
    slack.add_user(MARCUS, "Marcus Chen")
    slack.add_user(SAM, "Sam Taylor")
    slack.add_user(CHLOE, "Chloe Dubois")
    slack.add_channel(INC1, "incident-1-checkout-errors", members=[PRIYA, MARCUS])
    slack.add_channel(INC2, "incident-2-leaked-key", members=[PRIYA], is_private=True)
    slack.add_channel(INC3, "incident-3-search-slow", members=[MARCUS])
    slack.add_channel(GENERAL, "general", members=[PRIYA, MARCUS, SAM, CHLOE])
    with slack.running():
        yield slack


@pytest.fixture(scope="module")
def seeded_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Returns a migrated SQLite file with the three incidents, built once and copied by each test."""
    path = tmp_path_factory.mktemp("seeded") / "incidents.db"
    store = make_engine(f"sqlite:///{path}")
    upgrade(store)
    seed_incidents(store)
    store.dispose()  # closing the last connection folds the WAL into the file, so a copy is complete
    return path


@pytest.fixture
def store(seeded_store: Path, tmp_path: Path) -> Iterator[Engine]:
    """Yields a fresh SQLite copy of the seeded store (the ingestion test runs on PostgreSQL too)."""
    path = tmp_path / "incidents.db"
    shutil.copyfile(seeded_store, path)
    store = make_engine(f"sqlite:///{path}")
    yield store
    store.dispose()


@pytest.fixture
def runner() -> ScriptedRunner:
    return ScriptedRunner()

"""`langgraph dev` (the local API Studio connects to) answers a question through the real graph."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from agent.db import session_factory
from agent.incidents import service
from agent.incidents.enums import ONGOING_STATUSES
from tests.conftest import DemoStore
from tests.servers.process import free_port

PROJECT = Path(__file__).resolve().parents[2]
STARTUP_DEADLINE_SECONDS = 90
QUESTION = "How many incidents are currently ongoing?"


def _langgraph_cli() -> str | None:
    beside_python = Path(sys.executable).with_name("langgraph")
    return str(beside_python) if beside_python.exists() else shutil.which("langgraph")


@pytest.fixture
def server(demo_copy: DemoStore, tmp_path: Path) -> Iterator[str]:
    """Yields the base URL of a `langgraph dev` server on a copy of the demo store; always stops it."""
    cli = _langgraph_cli()
    if cli is None:
        reason = "the langgraph CLI is not installed (pip install -e '.[test]')"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; under CI=true the Studio test must run")
        pytest.skip(reason)
    port = free_port()
    env = {
        **os.environ,
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        "LANGGRAPH_NO_VERSION_CHECK": "true",
        "INCIDENT_COPILOT_DATA_DIR": str(demo_copy.data_dir),
        "DATABASE_URL": demo_copy.database_url,
        "LANGSMITH_TRACING": "false",
    }
    env.pop("CHROMA_HOST", None)
    log = (tmp_path / "langgraph-dev.log").open("w")
    process = subprocess.Popen(
        [cli, "dev", "--no-browser", "--no-reload", "--port", str(port)],
        cwd=PROJECT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"langgraph dev exited with {process.returncode}: {(tmp_path / 'langgraph-dev.log').read_text()}"
                )
            try:
                if httpx.get(f"{base}/ok", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"langgraph dev did not answer /ok within {STARTUP_DEADLINE_SECONDS} s")
            time.sleep(0.25)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
        log.close()


def test_a_run_through_the_local_api_answers_with_the_sql_count(
    server: str, demo_copy: DemoStore, now: datetime
) -> None:
    with session_factory(demo_copy.engine)() as db_session:
        expected = service.query(
            db_session=db_session, criteria=service.IncidentFilter(statuses=ONGOING_STATUSES), limit=0
        ).total

    with httpx.Client(base_url=server, timeout=120) as client:
        thread_id = client.post("/threads", json={}).raise_for_status().json()["thread_id"]
        response = client.post(
            f"/threads/{thread_id}/runs/wait",
            json={
                "assistant_id": "agent",
                "input": {"messages": [{"role": "user", "content": QUESTION}], "user": "studio-test"},
                "context": {"model": "offline", "now": now.isoformat()},
            },
        ).raise_for_status()
    values = response.json()
    assert "__error__" not in values, values
    answer = values["messages"][-1]["content"]
    assert expected > 0
    assert re.search(rf"\b{expected}\b", answer), answer
    assert [m["type"] for m in values["messages"]][:2] == ["human", "ai"]
    assert any(m["type"] == "tool" and m["name"] == "query_incidents" for m in values["messages"])

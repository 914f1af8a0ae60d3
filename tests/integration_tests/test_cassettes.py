"""Recording and replaying model calls, proven against the local OpenAI-compatible STUB server (not a model).

The stub (`evals/stub_openai.py`) stands in for a model because none is reachable here: cases are
recorded through `incident-copilot eval run --model openai:stub-model --record`, the stub is stopped,
and a fresh process replays them from the cassettes alone. Every cassette in the repository is scanned
for anything that looks like a credential.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agent.cli import app
from evals.cassettes import CASSETTE_DIR, PLACEHOLDER, cassette_path, find_secrets, make_vcr
from evals.stub_openai import STUB_PREFIX, start_stub

pytestmark = pytest.mark.slow

MODEL = "openai:stub-model"
CASES = ("src-ongoing-count", "src-root-cause-123")
FAKE_KEY = "sk-evalstub-" + "F4KEK3Y0" * 4
"""Shaped like a real key on purpose: if it reached a cassette, the secret scan would find it."""

CLI = Path(sys.executable).parent / "incident-copilot"
REPO = Path(__file__).resolve().parents[2]


def _environment(**extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "LANGSMITH_API", "LANGCHAIN_API"))
    }
    return env | {"LANGSMITH_TRACING": "false", "LANGSMITH_TEST_TRACKING": "false"} | extra


def _eval_run(
    *args: str, env: dict[str, str], demo_dir: Path, report_dir: Path
) -> subprocess.CompletedProcess[str]:
    command = [str(CLI), "eval", "run", "--model", MODEL, "--threshold", "0", "--demo-dir", str(demo_dir)]
    command += ["--report-dir", str(report_dir), *args]
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=600, cwd=REPO, check=False
    )


def _turns(report_dir: Path) -> dict[str, list[dict[str, Any]]]:
    (report,) = report_dir.glob("*.json")
    data = json.loads(report.read_text(encoding="utf-8"))
    return {
        result["id"]: [{"answer": t["answer"], "tool_calls": t["tool_calls"]} for t in result["turns"]]
        for result in data["results"]
    }


@dataclass(frozen=True)
class Recording:
    cassette_dir: Path
    turns: dict[str, list[dict[str, Any]]]
    served: int


@pytest.fixture(scope="module")
def recording(demo_store: Any, tmp_path_factory: pytest.TempPathFactory) -> Recording:
    """Records two cases against the stub, then stops it."""
    work = tmp_path_factory.mktemp("record")
    server, url = start_stub()
    try:
        done = _eval_run(
            "--record",
            *(arg for case in CASES for arg in ("--case", case)),
            "--cassette-dir",
            str(work / "cassettes"),
            env=_environment(OPENAI_BASE_URL=url, OPENAI_API_KEY=FAKE_KEY),
            demo_dir=demo_store.data_dir,
            report_dir=work / "reports",
        )
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 0, done.stdout + done.stderr
    return Recording(
        cassette_dir=work / "cassettes", turns=_turns(work / "reports"), served=server.completions_served
    )


def test_recording_went_through_the_stub_and_kept_the_key_out(recording: Recording) -> None:
    assert recording.served >= 2 * len(CASES)
    for case in CASES:
        text = cassette_path(recording.cassette_dir, MODEL, case).read_text(encoding="utf-8")
        assert FAKE_KEY not in text
        assert PLACEHOLDER in text
        assert STUB_PREFIX in text
    assert find_secrets(recording.cassette_dir.rglob("*")) == []
    for case in CASES:
        (last,) = recording.turns[case][-1:]
        assert last["answer"].startswith(STUB_PREFIX)
        assert last["tool_calls"], "the stub answers a question with a tool call first"


def test_replay_in_a_fresh_process_gives_the_same_answers(
    recording: Recording, demo_store: Any, tmp_path: Path
) -> None:
    # No key and no base URL: the stub is gone, and nothing may be sent anywhere.
    done = _eval_run(
        "--replay",
        *(arg for case in CASES for arg in ("--case", case)),
        "--cassette-dir",
        str(recording.cassette_dir),
        env=_environment(),
        demo_dir=demo_store.data_dir,
        report_dir=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert _turns(tmp_path) == recording.turns


def _replay_in_process(case: str, cassette_dir: Path, demo_dir: Path, report_dir: Path) -> Any:
    args = ["eval", "run", "--model", MODEL, "--replay", "--case", case, "--threshold", "0"]
    args += [
        "--cassette-dir",
        str(cassette_dir),
        "--demo-dir",
        str(demo_dir),
        "--report-dir",
        str(report_dir),
    ]
    return CliRunner().invoke(app, args)


def test_a_request_missing_from_the_cassette_fails_loudly(
    recording: Recording, demo_store: Any, tmp_path: Path
) -> None:
    tampered = tmp_path / "cassettes"
    source = cassette_path(recording.cassette_dir, MODEL, CASES[1])
    target = cassette_path(tampered, MODEL, CASES[1])
    target.parent.mkdir(parents=True)
    # As if the prompt had changed since the recording: the request body no longer matches.
    target.write_text(
        source.read_text(encoding="utf-8").replace("2026-11-27T12:00:00Z", "2026-11-27T12:00:01Z")
    )
    result = _replay_in_process(CASES[1], tampered, demo_store.data_dir, tmp_path / "reports")
    output = " ".join(result.output.split())
    assert result.exit_code == 1, output
    assert "model requests were not in" in output and "re-record it with --record" in output
    assert not (tmp_path / "reports").exists(), "a failed replay writes no report"


def test_replaying_a_case_without_a_cassette_fails(
    recording: Recording, demo_store: Any, tmp_path: Path
) -> None:
    result = _replay_in_process("src-sev1-past-week", recording.cassette_dir, demo_store.data_dir, tmp_path)
    assert result.exit_code == 1
    assert "no cassette at" in " ".join(result.output.split())


def test_streamed_tool_calls_record_and_replay(tmp_path: Path) -> None:
    from langchain_openai import ChatOpenAI

    from tools import TOOLS

    server, url = start_stub()
    path = tmp_path / "stream.yaml"

    def ask() -> Any:
        model = ChatOpenAI(model="stub-model", base_url=url, api_key=FAKE_KEY, streaming=True, max_retries=0)
        return model.bind_tools(TOOLS).invoke("What was the root cause of incident-123?")

    try:
        with make_vcr("record").use_cassette(str(path)):
            recorded = ask()
    finally:
        server.shutdown()
        server.server_close()
    with make_vcr("replay").use_cassette(str(path)) as cassette:
        replayed = ask()
        assert cassette.play_count == 1
    assert recorded.tool_calls[0]["name"] == "get_incident"
    assert recorded.tool_calls[0]["args"] == {"incident": "incident-123"}
    assert replayed.tool_calls == recorded.tool_calls
    assert "text/event-stream" in path.read_text(encoding="utf-8")
    assert find_secrets([path]) == []


def test_no_committed_cassette_holds_a_key_or_token() -> None:
    files = [
        p for root in (CASSETTE_DIR, REPO / "tests" / "cassettes") if root.exists() for p in root.rglob("*")
    ]
    assert any(p.name == "README.md" for p in files), "the scan must see the cassette folder"
    assert find_secrets(files) == []


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--model", MODEL, "--record"], {}, "needs OPENAI_API_KEY"),
        (["--model", "offline", "--replay"], {}, "needs an OpenAI-compatible model"),
        (["--record", "--replay"], {}, "exclude each other"),
        (["--upload"], {}, "needs LANGSMITH_API_KEY"),
        (["--model", MODEL], {}, "use --replay"),
        (["--tag", "no-such-tag"], {}, "no tag 'no-such-tag'"),
        (["--model", MODEL, "--record", "--split", "heldout"], {}, "held-out cases are never recorded"),
    ],
)
def test_eval_run_refuses_before_touching_anything(
    args: list[str], env: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A data folder that does not exist: a refusal must come before any demo store is built.
    monkeypatch.setenv("INCIDENT_COPILOT_DATA_DIR", str(tmp_path / "untouched"))
    result = CliRunner().invoke(
        app, ["eval", "run", "--report-dir", str(tmp_path / "reports"), *args], env=env
    )
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.replace("│", " ").split())
    assert not (tmp_path / "untouched").exists() and not (tmp_path / "reports").exists()

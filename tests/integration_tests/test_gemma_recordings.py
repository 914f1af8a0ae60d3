"""Real server responses, replayed: cases recorded against Gemma 3 270M on llama-cpp-python's server.

`evals/cassettes/openai-gemma-3-270m/` was written by `incident-copilot eval run --model
openai:gemma-3-270m --record` against `incident-copilot model-server` (its manifest, RECORDING.json, says
with what and when). Here no server runs: every model request is answered from the cassettes, so each
run of the suite parses what a real OpenAI-compatible server sent (tool calls, malformed ones included)
and must reach the answers the recording reached. When a prompt, a tool schema or a model setting
changes, the requests no longer match and the replay fails, saying how to re-record.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent import graph
from evals.cassettes import CASSETTE_DIR, MANIFEST, RERECORD_HINT, ReplayMiss, cassette_path, find_secrets
from evals.dataset import load_split
from evals.runner import RunOptions, run_suite

pytestmark = pytest.mark.slow

MODEL = "openai:gemma-3-270m"
FOLDER = cassette_path(CASSETTE_DIR, MODEL, "any").parent


def _manifest() -> dict[str, Any]:
    return json.loads((FOLDER / MANIFEST).read_text(encoding="utf-8"))


def _recorded_cases() -> list[Any]:
    recorded = _manifest()["cases"]
    return [case for case in load_split("dev", "demo")["demo"] if case.id in recorded]


def _replay(demo_dir: Path, cases: list[Any]) -> Any:
    return run_suite(
        cases,
        demo_dir=demo_dir,
        options=RunOptions(model=MODEL, mode="replay", threshold=0.0),
        started_at="pytest",
    )


def test_the_recordings_say_what_made_them_and_hold_no_secret() -> None:
    manifest = _manifest()
    assert "Gemma 3 270M" in manifest["label"] and "llama-cpp-python 0.3.36" in manifest["label"]
    assert 8 <= len(manifest["cases"]) <= 20, "a dozen or so: replay must stay quick"
    for case_id, recorded in manifest["cases"].items():
        assert cassette_path(CASSETTE_DIR, MODEL, case_id).is_file(), case_id
        assert recorded["recorded_at"] and recorded["turns"]
    assert len(_recorded_cases()) == len(manifest["cases"]), "every recorded case is still a dev case"
    assert find_secrets(FOLDER.rglob("*")) == []


def test_replaying_real_server_responses_reaches_the_recorded_answers(demo_store: Any) -> None:
    recorded = _manifest()["cases"]
    run = _replay(demo_store.data_dir, _recorded_cases())
    assert [r.error for r in run.results] == [None] * len(run.results)
    for result in run.results:
        turns = [{"answer": t.answer, "tool_calls": t.tool_calls} for t in result.turns]
        assert turns == recorded[result.id]["turns"], result.id
        assert result.passed == recorded[result.id]["passed"], result.id
    # The server's own token counts came back with its responses.
    assert run.summary.served_input_tokens > 0 and run.summary.output_tokens > 0
    assert run.summary.unwanted_writes == 0


def test_a_changed_prompt_no_longer_matches_and_says_how_to_re_record(
    demo_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(graph, "SYSTEM_PROMPT", graph.SYSTEM_PROMPT + "\n- Be brief.")
    with pytest.raises(ReplayMiss) as raised:
        _replay(demo_store.data_dir, _recorded_cases()[:1])
    assert RERECORD_HINT in str(raised.value)

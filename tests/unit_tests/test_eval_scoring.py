"""Scoring of evaluation results on synthetic inputs: rules, tool calls, facts, store changes, secrets."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from evals.cassettes import find_secrets
from evals.dataset import ExpectedState, Facts, ToolExpectation
from evals.scoring import (
    CaseResult,
    StoreSnapshot,
    TurnRecord,
    check_facts,
    check_state,
    check_tools,
    match_rule,
    mentioned_ids,
    stated_numbers,
    summarize,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
PAST_WEEK = {"window": {"since": "2026-11-20T12:00:00+00:00"}}


# --- rules ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "actual", "expected"),
    [
        ("SEV-1", "sev1", True),
        ("SEV-1", "SEV-2", False),
        (["SEV-1"], ["sev 1"], True),
        (["SEV-1"], ["SEV-1", "SEV-2"], False),
        ({"any_of": [["ongoing"], ["active", "stable"]]}, ["stable", "active"], True),
        ({"any_of": [["ongoing"], ["active", "stable"]]}, ["active"], False),
        ({"includes": ["SEV-1"]}, ["SEV-1", "SEV-2"], True),
        ({"contains": "ddos"}, "DDoS attacks", True),
        ({"contains": "ddos"}, "botnet", False),
        ({"absent": True}, None, True),
        ({"absent": True}, [], True),
        ({"absent": True}, "past week", False),
        ({"incident": 123}, "incident-123", True),
        ({"incident": 123}, "#123", True),
        ({"incident": 123}, "INC-123", True),
        ({"incident": 123}, "incident-12", False),
        ({"incident": 123}, "this incident", False),
        ({"incident": {"number": 300, "focus_ok": True}}, "this incident", True),
        ({"incident": {"number": 300, "focus_ok": True}}, None, True),
        ({"incident": {"number": 300, "focus_ok": True}}, "incident-299", False),
        ({"service_set": ["payments"]}, ["pay"], True),
        ({"service_set": ["payments"]}, "payments-api", True),
        ({"service_set": ["kafka"]}, ["event bus"], True),
        ({"service_set": ["payments"]}, ["payments", "checkout"], False),
        (PAST_WEEK, "past week", True),
        (PAST_WEEK, "last 7 days", True),
        (PAST_WEEK, "2026-11-20", True),
        (PAST_WEEK, "this week", False),
        (PAST_WEEK, "past month", False),
        (PAST_WEEK, "whenever", False),
        (
            {"window": {"since": "2026-11-26T00:00:00+00:00", "until": "2026-11-27T00:00:00+00:00"}},
            "yesterday",
            True,
        ),
        (
            {"window": {"since": "2026-11-26T00:00:00+00:00", "until": "2026-11-27T00:00:00+00:00"}},
            "today",
            False,
        ),
    ],
)
def test_match_rule(rule: Any, actual: Any, expected: bool) -> None:
    assert match_rule(rule, actual, now=NOW) is expected


def test_unknown_rule_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown rule"):
        match_rule({"roughly": 3}, 3, now=NOW)


# --- tool calls -----------------------------------------------------------------------------------------


def _call(name: str, **args: Any) -> dict[str, Any]:
    return {"name": name, "args": args}


def test_expected_call_with_matching_arguments_passes() -> None:
    expected = [
        ToolExpectation(name="query_incidents", args={"severity": ["SEV-1"], "time_frame": PAST_WEEK})
    ]
    check = check_tools(
        expected, [_call("query_incidents", severity=["sev1"], time_frame="past 7 days")], now=NOW
    )
    assert (check.tools_ok, check.args_ok, check.failures) == (True, True, [])


def test_wrong_tool_fails_tool_choice() -> None:
    expected = [ToolExpectation(name="get_incident", args={"incident": {"incident": 123}})]
    check = check_tools(expected, [_call("query_incidents", text="incident-123")], now=NOW)
    assert not check.tools_ok
    assert "expected a call to get_incident" in check.failures[0]


def test_right_tool_with_wrong_arguments_fails_only_the_arguments() -> None:
    expected = [ToolExpectation(name="query_incidents", args={"status": ["resolved"]})]
    check = check_tools(expected, [_call("query_incidents", status=["resolved", "completed"])], now=NOW)
    assert check.tools_ok and not check.args_ok


def test_any_matching_call_satisfies_an_expectation_and_reads_may_be_extra() -> None:
    expected = [ToolExpectation(name=["related_incidents", "query_incidents"])]
    actual = [_call("get_incident", incident="incident-300"), _call("query_incidents", text="checkout")]
    assert check_tools(expected, actual, now=NOW).failures == []


def test_a_write_tool_nobody_expected_fails_even_next_to_the_right_calls() -> None:
    expected = [ToolExpectation(name="summarize_timeline", args={"incident": {"incident": 297}})]
    actual = [
        _call("summarize_timeline", incident="incident-297"),
        _call("update_severity", incident="incident-297", severity="SEV-1"),
    ]
    check = check_tools(expected, actual, now=NOW)
    assert not check.tools_ok
    assert "update_severity" in check.failures[-1]


def test_no_expected_tools_still_forbids_writes() -> None:
    assert check_tools([], [_call("query_incidents")], now=NOW).tools_ok
    assert not check_tools([], [_call("declare", title="x")], now=NOW).tools_ok


# --- answer facts ---------------------------------------------------------------------------------------


def test_mentioned_ids_reads_every_reference_style_in_order() -> None:
    answer = "incident-300 looks like #299 and INC-276; see incident 12 and incident-300 again."
    assert mentioned_ids(answer) == [300, 299, 276, 12]


def test_stated_numbers_ignore_ids_severities_dates_times_and_versions() -> None:
    answer = "incident-123 (SEV-2) on 2026-05-19 at 13:24 rolled back 2026.05.19-2, p99 2040ms."
    assert stated_numbers(answer) == set()
    assert stated_numbers("There are 5 ongoing incidents (3 active, 2 stable).") >= {5, 3, 2}
    assert 3 in stated_numbers("three SEV-1 incidents")


def test_facts_pass_when_all_are_stated() -> None:
    facts = Facts(
        ids_exact=["incident-292", "incident-295", "incident-300"],
        ids_any=["incident-1", "incident-300"],
        count=3,
        phrases_all=["SEV-1"],
    )
    answer = "3 SEV-1 incidents: incident-300, incident-295 and incident-292."
    assert check_facts(answer, facts) == []


@pytest.mark.parametrize(
    ("facts", "answer", "problem"),
    [
        (Facts(ids_include=["incident-299"]), "Related: incident-296.", "does not mention incident-299"),
        (Facts(ids_exclude=["incident-222"]), "incident-281 and incident-222.", "mentions incident-222"),
        (Facts(ids_any=["incident-141", "incident-276"]), "Seen in incident-300 only.", "mentions none of"),
        (
            Facts(ids_exact=["incident-295", "incident-300"]),
            "incident-292, incident-295, incident-300",
            "extra [292]",
        ),
        (Facts(ids_exact=[]), "Nothing on cdn, but see incident-10.", "extra [10]"),
        (Facts(count=5), "There are 4 ongoing incidents: incident-5 ...", "count 5"),
        (Facts(phrases_all=["discount_code", "migration"]), "A bad `discount_code` query.", "['migration']"),
        (Facts(phrases_any=["rolled back", "rollback"]), "They restarted it.", "says none of"),
        (Facts(phrases_none=["solar flare"]), "The root cause was a Solar Flare.", "which it must not"),
    ],
)
def test_each_fact_can_fail(facts: Facts, answer: str, problem: str) -> None:
    failures = check_facts(answer, facts)
    assert len(failures) == 1
    assert problem in failures[0]


def test_a_zero_count_reads_words() -> None:
    assert check_facts("No incidents touched cdn in the past month.", Facts(count=0, ids_exact=[])) == []
    assert check_facts("2 incidents touched cdn.", Facts(count=0)) != []


# --- the store ------------------------------------------------------------------------------------------


def _incident(**fields: Any) -> dict[str, Any]:
    base = {
        "title": "Checkout failing",
        "severity": "SEV-1",
        "status": "active",
        "commander": "Marcus Chen",
        "services": ["checkout", "payments"],
        "version": 3,
        "timeline_entries": 24,
    }
    return base | fields


def _snapshot(
    incidents: dict[int, dict[str, Any]] | None = None,
    postmortems: dict[int, tuple[int, bool]] | None = None,
    audit: dict[int, tuple[str, int | None]] | None = None,
) -> StoreSnapshot:
    return StoreSnapshot(
        incidents=incidents or {299: _incident(severity="SEV-2"), 300: _incident()},
        postmortems=postmortems or {},
        audit=audit or {1: ("import", None)},
    )


def test_an_untouched_store_passes_a_no_writes_case() -> None:
    before = _snapshot()
    assert check_state(before, _snapshot(), ExpectedState(no_writes=True), now=NOW) == ([], [])


def test_the_expected_change_passes_with_its_bookkeeping() -> None:
    after = _snapshot(
        {299: _incident(severity="SEV-2"), 300: _incident(severity="SEV-3", version=4, timeline_entries=25)},
        audit={1: ("import", None), 2: ("update_severity", 300)},
    )
    expected = ExpectedState(incidents={"incident-300": {"severity": "SEV-3"}})
    assert check_state(_snapshot(), after, expected, now=NOW) == ([], [])


def test_a_missing_change_is_a_failure_not_an_unwanted_write() -> None:
    expected = ExpectedState(incidents={"incident-300": {"severity": "SEV-3"}})
    failures, unwanted = check_state(_snapshot(), _snapshot(), expected, now=NOW)
    assert failures == ["incident-300 severity is 'SEV-1'; expected 'SEV-3'"]
    assert unwanted == []


def test_an_extra_write_to_another_incident_is_unwanted() -> None:
    after = _snapshot(
        {
            299: _incident(severity="SEV-2", status="resolved", version=4),
            300: _incident(severity="SEV-3", version=4),
        },
        audit={1: ("import", None), 2: ("update_severity", 300), 3: ("set_status", 299)},
    )
    expected = ExpectedState(incidents={"incident-300": {"severity": "SEV-3"}})
    failures, unwanted = check_state(_snapshot(), after, expected, now=NOW)
    assert failures == []
    assert unwanted == [
        "incident-299 changed (status, version)",
        "audit record 'set_status' for incident-299",
    ]


def test_another_field_of_the_expected_incident_is_unwanted() -> None:
    after = _snapshot(
        {299: _incident(severity="SEV-2"), 300: _incident(severity="SEV-3", commander="Sam Taylor")}
    )
    expected = ExpectedState(incidents={"incident-300": {"severity": "SEV-3"}})
    assert check_state(_snapshot(), after, expected, now=NOW)[1] == ["incident-300 also changed commander"]


def test_any_write_breaks_no_writes_even_to_a_listed_incident() -> None:
    after = _snapshot({299: _incident(severity="SEV-2"), 300: _incident(severity="SEV-1", version=4)})
    expected = ExpectedState(no_writes=True, incidents={"incident-300": {"severity": "SEV-1"}})
    failures, unwanted = check_state(_snapshot(), after, expected, now=NOW)
    assert failures == []
    assert unwanted == ["incident-300 changed (version)"]


def test_a_declared_incident_must_be_expected() -> None:
    after = _snapshot(
        {299: _incident(severity="SEV-2"), 300: _incident(), 301: _incident(title="New incident")}
    )
    assert check_state(_snapshot(), after, ExpectedState(), now=NOW)[1] == [
        "incident-301 was declared: 'New incident'"
    ]
    expected = ExpectedState(
        incidents={
            "incident-301": {"title": {"contains": "new"}, "services": {"service_set": ["pay", "checkout"]}}
        }
    )
    assert check_state(_snapshot(), after, expected, now=NOW) == ([], [])


def test_postmortems_must_be_expected_and_linked() -> None:
    after = _snapshot(postmortems={7: (123, True)}, audit={1: ("import", None), 2: ("postmortem_draft", 123)})
    assert check_state(_snapshot(), after, ExpectedState(postmortems=["incident-123"]), now=NOW) == ([], [])
    failures, unwanted = check_state(_snapshot(), after, ExpectedState(), now=NOW)
    assert unwanted == [
        "a postmortem was stored for incident-123",
        "audit record 'postmortem_draft' for incident-123",
    ]
    failures, _ = check_state(_snapshot(), _snapshot(), ExpectedState(postmortems=["incident-123"]), now=NOW)
    assert failures == ["no postmortem draft was linked to incident-123"]


def test_deleting_an_incident_is_unwanted() -> None:
    after = _snapshot({300: _incident()})
    assert check_state(_snapshot(), after, ExpectedState(), now=NOW)[1] == ["incident-299 was deleted"]


# --- totals ---------------------------------------------------------------------------------------------


def _result(
    case_id: str, tags: list[str], passed: bool, latency: float, unwanted: list[str] | None = None
) -> CaseResult:
    turn = TurnRecord(
        question="q",
        answer="a",
        tool_calls=[],
        incidents=[],
        proposed=[],
        latency_s=latency,
        model_calls=2,
        input_tokens=100,
    )
    checks = {"tools": True, "args": True, "facts": passed, "state": not unwanted}
    return CaseResult(
        id=case_id, tags=tags, checks=checks, failures=[], unwanted_writes=unwanted or [], turns=[turn]
    )


def test_summary_counts_per_tag_and_unwanted_writes() -> None:
    results = [
        _result("a", ["count", "source_doc"], True, 0.1),
        _result("b", ["count"], False, 0.3),
        _result("c", ["write"], True, 0.2, unwanted=["incident-299 changed (status)"]),
    ]
    summary = summarize(results)
    assert (summary.overall.cases, summary.overall.passed) == (3, 1)
    assert summary.per_tag["count"].passed == 1 and summary.per_tag["count"].cases == 2
    assert summary.per_tag["write"].score == 0.0
    assert summary.unwanted_writes == 1
    assert summary.latency_p50_s == pytest.approx(0.2)
    assert (summary.model_calls, summary.input_tokens) == (6, 300)


def test_a_crashed_case_fails_every_check() -> None:
    crashed = CaseResult(
        id="x", tags=["count"], checks={}, failures=["crashed"], unwanted_writes=[], turns=[], error="boom"
    )
    assert not crashed.passed
    assert summarize([crashed]).overall.checks == {"tools": 0, "args": 0, "facts": 0, "state": 0}


# --- secrets in cassettes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "leak",
    [
        # Built from parts so that no token-shaped literal is tracked in the repository.
        "api_key: " + "sk-" + "proj-abcdefghijklmnopqrstuvwx",
        "token " + "xoxb-" + "1234567890-abcdefghij",
        "LANGSMITH_API_KEY=" + "lsv2_" + "pt_0123456789abcdef0123",
        "header: Bearer abcdefghijklmnopqrstuvwxyz012345",
        "    headers:\n      authorization:\n      - Basic dXNlcjpwYXNz\n",
        '{"Authorization": "Token abc"}',
        "      x-api-key: abcdef\n",
    ],
)
def test_find_secrets_flags_credentials(tmp_path: Path, leak: str) -> None:
    path = tmp_path / "cassette.yaml"
    path.write_text(f"interactions:\n- request:\n{leak}\n", encoding="utf-8")
    assert find_secrets([path]) != []


def test_find_secrets_accepts_placeholders(tmp_path: Path) -> None:
    path = tmp_path / "cassette.yaml"
    path.write_text(
        "    headers:\n      authorization:\n      - PLACEHOLDER\n      api-key: PLACEHOLDER\n"
        "    body: 'PayFlow card authorization timeouts; sk-short'\n",
        encoding="utf-8",
    )
    assert find_secrets([path]) == []


# --- LangSmith: the dataset and the experiment, without the network -------------------------------------


class _FakeLangSmith:
    """Records what `sync_dataset` asks of a LangSmith client."""

    def __init__(self) -> None:
        self.dataset: Any = None
        self.examples: dict[str, Any] = {}
        self.created: list[str] = []
        self.updated: list[str] = []

    def has_dataset(self, *, dataset_name: str) -> bool:
        return self.dataset is not None

    def create_dataset(self, dataset_name: str, **_: Any) -> Any:
        import uuid

        from langsmith.schemas import Dataset

        self.dataset = Dataset(id=uuid.uuid4(), name=dataset_name, created_at=NOW, modified_at=NOW)
        return self.dataset

    def read_dataset(self, *, dataset_name: str) -> Any:
        return self.dataset

    def list_examples(self, *, dataset_id: Any) -> list[Any]:
        return list(self.examples.values())

    def _store(self, record: dict[str, Any], example_id: Any = None) -> None:
        import uuid

        from langsmith.schemas import Example

        case_id = record["metadata"]["case_id"]
        self.examples[case_id] = Example(
            id=example_id or uuid.uuid4(),
            dataset_id=self.dataset.id,
            inputs=record["inputs"],
            outputs=record["outputs"],
            metadata=record["metadata"],
        )

    def create_examples(self, *, dataset_id: Any, examples: list[dict[str, Any]]) -> None:
        for record in examples:
            self.created.append(record["metadata"]["case_id"])
            self._store(record)

    def update_examples(self, *, dataset_id: Any, updates: list[dict[str, Any]]) -> None:
        for record in updates:
            self.updated.append(record["metadata"]["case_id"])
            self._store(record, example_id=record["id"])


def test_sync_dataset_creates_then_updates_only_changed_examples() -> None:
    from evals.dataset import load_cases
    from evals.upload import sync_dataset

    cases = load_cases()[:3]
    client = _FakeLangSmith()
    examples = sync_dataset(client, cases)
    assert sorted(client.created) == sorted(case.id for case in cases)
    assert {e.inputs["case_id"] for e in examples} == {case.id for case in cases}
    edited = cases[0].model_copy(update={"user": "someone else"})
    client.created.clear()
    sync_dataset(client, [edited, *cases[1:]])
    assert (client.created, client.updated) == ([], [edited.id])
    assert client.examples[edited.id].inputs["user"] == "someone else"


def test_record_experiment_reports_the_local_checks_without_uploading() -> None:
    import uuid

    from langsmith import Client
    from langsmith.schemas import Example

    from evals.runner import SuiteRun
    from evals.upload import record_experiment

    result = _result("src-ongoing-count", ["count"], False, 0.2)
    run = SuiteRun(
        model="offline",
        mode="live",
        started_at="2026-11-27T12:00:00+00:00",
        duration_s=1.0,
        threshold=0.9,
        results=[result],
    )
    example = Example(
        id=uuid.uuid4(),
        dataset_id=uuid.uuid4(),
        inputs={"case_id": "src-ongoing-count"},
        outputs={},
        metadata={},
    )
    rows = list(
        record_experiment(
            Client(api_key="not-used", auto_batch_tracing=False), [example], run, upload_runs=False
        )
    )
    scores = {e.key: e.score for e in rows[0]["evaluation_results"]["results"]}
    assert scores == {"passed": 0, "no_unwanted_writes": 1, "tools": 1, "args": 1, "facts": 0, "state": 1}


# --- counting model calls -------------------------------------------------------------------------------


def test_the_meter_counts_every_chat_model_call_inside_its_block_only() -> None:
    from langchain_core.language_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    from evals.metering import metered

    model = GenericFakeChatModel(messages=iter([AIMessage(content="one"), AIMessage(content="two")] * 2))
    model.invoke("outside the block")
    with metered() as meter:
        model.invoke("x" * 400)
        model.batch(["a question"])
    assert meter.calls == 2
    # ~4 characters a token: the 400-character question alone is about 100 tokens.
    assert 100 <= meter.input_tokens < 130


def test_a_false_zero_is_a_none_where_incidents_are_expected() -> None:
    from evals.dataset import Facts
    from evals.scoring import is_false_zero

    some = Facts(ids_include=["incident-296"])
    assert is_false_zero('There are no stable incidents mentioning "sitting".', some)
    assert not is_false_zero("2 stable incidents: incident-296, incident-297", some)
    assert not is_false_zero("There are no stable incidents.", Facts(count=0))
    assert not is_false_zero("I found nothing.", None)

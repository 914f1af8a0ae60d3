"""The evaluation dataset: its schema, its coverage, and every literal expectation re-derived from SQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.demo.build import DEMO_QUESTIONS
from evals.dataset import (
    DATASETS_DIR,
    REQUIRED_TAGS,
    SPLITS,
    WRITE_TOOLS,
    Case,
    DatasetError,
    check_case,
    load_cases,
    load_split,
    select_cases,
)

SOURCE_QUESTIONS = (
    *DEMO_QUESTIONS,
    "Give me a summary of this incident",
    "Are there any related incidents?",
    "Declare an incident",
    "Update this incident to SEV-3",
    "Mark this incident as stable",
)
"""Every question the source document quotes."""

CASES = load_cases()


def _case(**overrides: Any) -> dict[str, Any]:
    return {
        "id": "a-case",
        "tags": ["count"],
        "user": "alice",
        "turns": [{"question": "how many?"}],
    } | overrides


def _write(tmp_path: Path, *records: dict[str, Any] | str) -> Path:
    path = tmp_path / "cases.jsonl"
    path.write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n", encoding="utf-8"
    )
    return path


def test_the_suite_is_large_enough() -> None:
    assert len(CASES) >= 80


def test_every_required_tag_is_covered_and_no_other_is_used() -> None:
    used = {tag for case in CASES for tag in case.tags}
    assert used == REQUIRED_TAGS


@pytest.mark.parametrize("question", SOURCE_QUESTIONS)
def test_every_source_document_question_is_asked(question: str) -> None:
    asking = [case for case in CASES if any(turn.question == question for turn in case.turns)]
    assert asking, f"no case asks {question!r}"
    assert all("source_doc" in case.tags for case in asking)


def test_source_document_themes_have_paraphrases() -> None:
    paraphrases = [case for case in CASES if "paraphrase" in case.tags]
    assert len(paraphrases) >= 2 * len(SOURCE_QUESTIONS)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_no_case_is_vacuous(case: Case) -> None:
    state = case.expected_state
    checks_something = (
        case.expected_tools or not case.expected_facts.is_empty() or state.incidents or state.postmortems
    )
    assert checks_something, "the last turn must expect tools, facts or values in the store"
    assert state.no_writes or state.incidents or state.postmortems, "say what the store holds afterwards"


@pytest.mark.parametrize("case", [c for c in CASES if "write" in c.tags], ids=lambda case: case.id)
def test_write_cases_state_the_store_afterwards(case: Case) -> None:
    state = case.expected_state
    assert state.incidents or state.no_writes
    writes = {name for tool in case.expected_tools for name in tool.names} & WRITE_TOOLS
    if any(turn.confirm for turn in case.turns) and not state.no_writes:
        assert writes, "a confirmed change must name the write tool it expects"


def test_multi_turn_cases_exist_and_cancellations_are_checked() -> None:
    assert sum(len(case.turns) > 1 for case in CASES) >= 5
    cancelled = [case for case in CASES if any(turn.confirm is False for turn in case.turns)]
    assert cancelled and all(case.expected_state.no_writes for case in cancelled)


@pytest.mark.parametrize("split", SPLITS)
def test_every_literal_expectation_agrees_with_sql_over_the_demo_store(demo_store: Any, split: str) -> None:
    # Held-out cases are checked against SQL too; this reads their expectations, never prints a question.
    cases = load_split(split, "demo").get("demo", [])
    with demo_store.engine.connect() as connection:
        problems = [problem for case in cases for problem in check_case(connection, case)]
    assert cases and problems == []


def test_case_ids_are_unique_across_splits() -> None:
    ids = [case.id for split in SPLITS for group in load_split(split).values() for case in group]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(
    ("case_id", "mutate", "problem"),
    [
        ("src-ongoing-count", lambda c: c["expected_facts"].update(count=6), "count 6 but SQL selects 5"),
        ("src-ongoing-count", lambda c: c["expected_facts"]["ids_exact"].pop(), "but SQL selects"),
        (
            "src-ongoing-count",
            lambda c: c["expected_facts"].update(ids_include=["incident-1"]),
            "not selected",
        ),
        ("src-ongoing-count", lambda c: c.pop("oracle"), "needs an oracle.query"),
        # The private incident 253 was declared in October: counting it would be a drift of one.
        (
            "time-october-count",
            lambda c: c["oracle"]["query"].update(include_private=True),
            "but SQL selects 30",
        ),
        (
            "src-related-in-channel",
            lambda c: c.update(channel="incident-300-no-such"),
            "no incident has the channel",
        ),
    ],
)
def test_the_oracle_catches_a_drifting_expectation(
    demo_store: Any, case_id: str, mutate: Any, problem: str
) -> None:
    record = next(c for c in CASES if c.id == case_id).model_dump(mode="json", exclude_none=True)
    mutate(record)
    with demo_store.engine.connect() as connection:
        problems = check_case(connection, Case.model_validate(record))
    assert any(problem in p for p in problems), problems


def test_the_oracle_checks_phrases_and_write_targets(demo_store: Any) -> None:
    root_cause = next(c for c in CASES if c.id == "src-root-cause-123").model_dump(
        mode="json", exclude_none=True
    )
    root_cause["expected_facts"]["phrases_all"] = ["solar flare"]
    severity = next(c for c in CASES if c.id == "src-update-severity").model_dump(
        mode="json", exclude_none=True
    )
    severity["expected_state"]["incidents"]["incident-300"]["severity"] = "SEV-1"
    declared = next(c for c in CASES if c.id == "write-declare-full").model_dump(
        mode="json", exclude_none=True
    )
    declared["expected_state"]["incidents"] = {"incident-305": {"status": "active"}}
    with demo_store.engine.connect() as connection:
        assert "not in incident-123" in " ".join(check_case(connection, Case.model_validate(root_cause)))
        assert "would prove nothing" in " ".join(check_case(connection, Case.model_validate(severity)))
        assert "next number (301)" in " ".join(check_case(connection, Case.model_validate(declared)))


def test_loading_names_the_line_of_a_bad_case(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="line 2"):
        load_cases(_write(tmp_path, _case(), "{not json"))
    with pytest.raises(DatasetError, match="line 1"):
        load_cases(_write(tmp_path, _case(surprise=True)))
    with pytest.raises(DatasetError, match="repeated"):
        load_cases(_write(tmp_path, _case(), _case()))
    with pytest.raises(DatasetError, match="a rule is one of"):
        load_cases(
            _write(tmp_path, _case(expected_tools=[{"name": "query_incidents", "args": {"x": {"near": 1}}}]))
        )
    with pytest.raises(DatasetError, match="public incident id"):
        load_cases(_write(tmp_path, _case(expected_facts={"ids_include": ["#300"]})))


def test_selecting_cases_by_id_and_tag() -> None:
    chosen = select_cases(CASES, ids=["src-ongoing-count"], tags=["injection"])
    assert chosen[0].id == "src-ongoing-count" or "injection" in chosen[0].tags
    assert {case.id for case in chosen} >= {"src-ongoing-count", "inject-summary-297"}
    assert all(case.id == "src-ongoing-count" or "injection" in case.tags for case in chosen)
    assert select_cases(CASES) == CASES
    with pytest.raises(DatasetError, match="no case 'nope'.*no tag 'nah'"):
        select_cases(CASES, ids=["nope"], tags=["nah"])


def test_the_readme_documents_every_field() -> None:
    readme = (DATASETS_DIR / "README.md").read_text(encoding="utf-8")
    for name in (*Case.model_fields, "confirm", "ids_include", "ids_exact", "phrases_none", "no_writes"):
        assert f"`{name}`" in readme, name


def test_no_eval_question_is_an_example_the_offline_model_was_given() -> None:
    # A question copied into the classifier's examples matches itself and proves nothing about meaning.
    from prompts.offline import INTENT_EXAMPLES

    examples = {example.strip().lower() for group in INTENT_EXAMPLES.values() for example in group}
    questions = {turn.question.strip().lower() for case in load_cases() for turn in case.turns}
    assert examples & questions == set()


@pytest.mark.slow
@pytest.mark.parametrize("split", SPLITS)
def test_every_literal_expectation_agrees_with_sql_over_the_public_store(
    split: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from evals.organisations import prepare_public
    from evals.store import open_store

    cases = load_split(split, "public").get("public", [])
    engine = open_store(prepare_public(cache_root=tmp_path_factory.mktemp(f"public-{split}")))
    with engine.connect() as connection:
        problems = [problem for case in cases for problem in check_case(connection, case)]
    engine.dispose()
    assert cases and problems == []


def test_a_sample_is_fixed_by_its_seed_and_keeps_dataset_order() -> None:
    from evals.dataset import load_split, sample_cases

    cases = load_split("dev", "demo")["demo"]
    first = sample_cases(cases, size=12, seed=13)
    assert len(first) == 12
    # Which cases depends on the ids and the seed only, not on the order they were loaded in.
    assert {c.id for c in sample_cases(list(reversed(cases)), size=12, seed=13)} == {c.id for c in first}
    assert [c.id for c in first] == [c.id for c in cases if c in first]
    assert [c.id for c in first] == [c.id for c in sample_cases(cases, size=12, seed=13)]
    assert [c.id for c in first] != [c.id for c in sample_cases(cases, size=12, seed=14)]
    assert sample_cases(cases[:3], size=12, seed=13) == cases[:3]

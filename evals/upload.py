"""Push the suite and a finished run to LangSmith: the dataset (created or updated) and one experiment.

Used by `incident-copilot eval run --upload`, which refuses without LANGSMITH_API_KEY before anything
runs. The experiment does not run the agent again: its target returns what the local run already
recorded for each case, and its evaluators report the local checks, so LangSmith shows exactly the
scores of the report files.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evals.dataset import Case
from evals.runner import SuiteRun
from evals.scoring import CHECKS, CaseResult

DATASET_NAME = "incident-copilot-evals"
"""The LangSmith dataset the suite is kept in."""


def example_of(case: Case) -> dict[str, Any]:
    """Returns a case as a LangSmith example: inputs (the conversation) and outputs (what is expected)."""
    return {
        "inputs": {
            "case_id": case.id,
            "channel": case.channel,
            "user": case.user,
            "turns": [turn.model_dump(include={"question", "confirm"}) for turn in case.turns],
        },
        "outputs": case.model_dump(
            include={"expected_tools", "expected_facts", "expected_state"}, mode="json"
        ),
        "metadata": {"case_id": case.id, "tags": list(case.tags)},
    }


def sync_dataset(client: Any, cases: Sequence[Case], *, dataset_name: str = DATASET_NAME) -> list[Any]:
    """Returns the dataset's examples for `cases`, after creating the dataset or updating changed examples.

    Examples are keyed by the case id in their metadata, so re-uploading an edited suite updates the
    examples in place instead of adding duplicates.
    """
    if client.has_dataset(dataset_name=dataset_name):
        dataset = client.read_dataset(dataset_name=dataset_name)
    else:
        dataset = client.create_dataset(
            dataset_name,
            description="Incident Copilot evaluation suite (evals/datasets/).",
        )
    existing = {
        (example.metadata or {}).get("case_id"): example
        for example in client.list_examples(dataset_id=dataset.id)
    }
    created, updated = [], []
    for case in cases:
        wanted = example_of(case)
        current = existing.get(case.id)
        if current is None:
            created.append(wanted)
        elif (current.inputs, current.outputs, current.metadata) != (
            wanted["inputs"],
            wanted["outputs"],
            wanted["metadata"],
        ):
            updated.append({"id": current.id, **wanted})
    if created:
        client.create_examples(dataset_id=dataset.id, examples=created)
    if updated:
        client.update_examples(dataset_id=dataset.id, updates=updated)
    wanted_ids = {case.id for case in cases}
    return [
        example
        for example in client.list_examples(dataset_id=dataset.id)
        if (example.metadata or {}).get("case_id") in wanted_ids
    ]


def _outputs(result: CaseResult) -> dict[str, Any]:
    return {
        "answer": result.turns[-1].answer if result.turns else "",
        "tool_calls": [call for turn in result.turns for call in turn.tool_calls],
        "passed": result.passed,
        "checks": result.checks,
        "failures": result.failures,
        "unwanted_writes": result.unwanted_writes,
        "latency_s": result.latency_s,
        "model_calls": result.model_calls,
        "input_tokens": result.input_tokens,
    }


def _check_evaluator(name: str) -> Any:
    def evaluate_check(outputs: dict[str, Any]) -> dict[str, Any]:
        return {"key": name, "score": int(bool(outputs["checks"].get(name)))}

    evaluate_check.__name__ = name
    return evaluate_check


def _passed(outputs: dict[str, Any]) -> dict[str, Any]:
    return {"key": "passed", "score": int(outputs["passed"])}


def _no_unwanted_writes(outputs: dict[str, Any]) -> dict[str, Any]:
    return {"key": "no_unwanted_writes", "score": int(not outputs["unwanted_writes"])}


def record_experiment(
    client: Any, examples: Sequence[Any], run: SuiteRun, *, upload_runs: bool = True
) -> Any:
    """Returns the results of a LangSmith experiment that records `run` against the dataset's examples.

    With `upload_runs=False` the experiment is evaluated locally and nothing is sent.
    """
    from langsmith import evaluate  # lazy: only for uploads

    by_case = {result.id: result for result in run.results}

    def target(inputs: dict[str, Any]) -> dict[str, Any]:
        return _outputs(by_case[inputs["case_id"]])

    return evaluate(
        target,
        data=list(examples),
        evaluators=[_passed, _no_unwanted_writes, *(_check_evaluator(name) for name in CHECKS)],
        experiment_prefix=f"incident-copilot-{run.model.replace(':', '-')}",
        description=f"{run.mode} run of {len(run.results)} cases with {run.model}",
        metadata={"model": run.model, "mode": run.mode, "score": run.summary.overall.score},
        client=client,
        upload_runs=upload_runs,
        max_concurrency=0,
    )

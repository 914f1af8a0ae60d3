"""The CI gates: the offline model over the dev cases (>= 90%) and the held-out cases (measured floors).

Every gate also demands no unwanted write and no crash. The held-out runs report failures by id only:
reading a held-out question while fixing spends it (see evals/datasets/README.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evals.dataset import load_split
from evals.organisations import prepare_public
from evals.report import markdown_report, write_reports
from evals.runner import DEFAULT_THRESHOLD, RunOptions, SuiteRun, run_suite

pytestmark = pytest.mark.slow

HELDOUT_FLOORS = {"demo": 0.92, "public": 0.90}
"""Held-out scores the offline model must keep, per organisation. Measured 2026-12-03: demo 93.4%
(228/244), public 92.4% (109/118). Those sets mix older blind files, whose failures studied while fixing
were moved to dev (so what is left passes by selection), with files written blind on 2026-12-03 and never
studied: demo-d 74.6% (44/59), public-c 77.1% (27/35). The 95% target is not met."""

HELDOUT_MAX_FALSE_ZEROS = {"demo": 0, "public": 0}
"""False "none" answers on the held-out sets, measured 2026-12-03 (11 on the demo set before this work)."""


@pytest.fixture(scope="module")
def public_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Returns the public organisation's store, built once for this module."""
    return prepare_public(cache_root=tmp_path_factory.mktemp("public_store"))


def _run(cases: list[Any], store: Path, *, organisation: str, split: str) -> SuiteRun:
    run = run_suite(
        cases,
        demo_dir=store,
        options=RunOptions(model="offline"),
        started_at="pytest",
        organisation=organisation,
        split=split,
    )
    assert not {r.id: r.error for r in run.results if r.error}, "a case crashed"
    assert {r.id: r.unwanted_writes for r in run.results if r.unwanted_writes} == {}
    return run


@pytest.mark.parametrize("organisation", ["demo", "public"])
def test_offline_model_passes_the_dev_suite(
    organisation: str, demo_store: Any, public_store: Path, tmp_path: Path
) -> None:
    store = demo_store.data_dir if organisation == "demo" else public_store
    run = _run(load_split("dev", organisation)[organisation], store, organisation=organisation, split="dev")
    write_reports(run, tmp_path)
    # The per-tag table and every failure, in the test output (pytest -s, or on failure).
    print(markdown_report(run))
    assert len(run.results) >= 50
    assert run.summary.false_zeros == 0
    failing = [f"{r.id}: {'; '.join(r.failures)}" for r in run.results if not r.passed]
    assert run.summary.overall.score >= DEFAULT_THRESHOLD, (
        f"offline score {run.summary.overall.score:.1%} < {DEFAULT_THRESHOLD:.0%}:\n" + "\n".join(failing)
    )


@pytest.mark.parametrize("organisation", ["demo", "public"])
def test_offline_model_holds_its_floor_on_held_out_questions(
    organisation: str, demo_store: Any, public_store: Path
) -> None:
    store = demo_store.data_dir if organisation == "demo" else public_store
    run = _run(
        load_split("heldout", organisation)[organisation], store, organisation=organisation, split="heldout"
    )
    summary = run.summary
    failing = sorted(r.id for r in run.results if not r.passed)
    assert summary.false_zeros <= HELDOUT_MAX_FALSE_ZEROS[organisation]
    assert summary.overall.score >= HELDOUT_FLOORS[organisation], (
        f"held-out {summary.overall.score:.1%}; failing: {failing}"
    )

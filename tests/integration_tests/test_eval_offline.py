"""The CI gates: the offline model over the dev cases (>= 90%) and the held-out cases (a measured floor).

Both gates also demand no unwanted write. The held-out run reports failures by id only: reading a
held-out question while fixing spends it (see evals/datasets/README.md).
"""

from __future__ import annotations

from typing import Any

import pytest

from evals.dataset import load_split
from evals.runner import DEFAULT_THRESHOLD, RunOptions, markdown_report, run_suite, write_reports

pytestmark = pytest.mark.slow

HELDOUT_FLOOR = 0.78
"""Held-out score the offline model must keep over the demo organisation. Measured 2026-12-02: 79.9%
(159/199) before the near-copy check moved 7 questions to dev. The target is 90% in CI and 95% overall;
it is not met yet, so this floor only stops a regression."""

HELDOUT_MAX_FALSE_ZEROS = 5
"""False "none" answers on the held-out set, measured 2026-12-02 (down from 11); the target is 0."""

HELDOUT_MAX_UNWANTED_WRITES = 2
"""Unwanted writes on the held-out set, measured 2026-12-02 (the same 2 before this work); target 0."""


def test_offline_model_passes_the_dev_suite(demo_store: Any, tmp_path: Any) -> None:
    cases = load_split("dev", "demo")["demo"]
    run = run_suite(
        cases, demo_dir=demo_store.data_dir, options=RunOptions(model="offline"), started_at="pytest"
    )
    write_reports(run, tmp_path)
    # The per-tag table and every failure, in the test output (pytest -s, or on failure).
    print(markdown_report(run))
    assert len(run.results) >= 80
    unwanted = {r.id: r.unwanted_writes for r in run.results if r.unwanted_writes}
    assert unwanted == {}, f"unwanted writes: {unwanted}"
    crashed = {r.id: r.error for r in run.results if r.error}
    assert crashed == {}, f"crashed cases: {crashed}"
    assert run.summary.false_zeros == 0
    failing = [f"{r.id}: {'; '.join(r.failures)}" for r in run.results if not r.passed]
    assert run.summary.overall.score >= DEFAULT_THRESHOLD, (
        f"offline score {run.summary.overall.score:.1%} < {DEFAULT_THRESHOLD:.0%}:\n" + "\n".join(failing)
    )


def test_offline_model_holds_its_floor_on_held_out_questions(demo_store: Any) -> None:
    cases = load_split("heldout", "demo")["demo"]
    run = run_suite(
        cases,
        demo_dir=demo_store.data_dir,
        options=RunOptions(model="offline"),
        started_at="pytest",
        split="heldout",
    )
    summary = run.summary
    failing = sorted(r.id for r in run.results if not r.passed)
    assert not [r.id for r in run.results if r.error], "a held-out case crashed"
    assert summary.unwanted_writes <= HELDOUT_MAX_UNWANTED_WRITES
    assert summary.false_zeros <= HELDOUT_MAX_FALSE_ZEROS
    assert summary.overall.score >= HELDOUT_FLOOR, f"held-out {summary.overall.score:.1%}; failing: {failing}"

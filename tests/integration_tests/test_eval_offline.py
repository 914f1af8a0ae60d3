"""The CI gate: the whole evaluation suite with the offline model, >= 90% and no unwanted write."""

from __future__ import annotations

from typing import Any

import pytest

from evals.dataset import load_cases
from evals.runner import DEFAULT_THRESHOLD, RunOptions, markdown_report, run_suite, write_reports

pytestmark = pytest.mark.slow


def test_offline_model_passes_the_whole_suite(demo_store: Any, tmp_path: Any) -> None:
    run = run_suite(
        load_cases(), demo_dir=demo_store.data_dir, options=RunOptions(model="offline"), started_at="pytest"
    )
    write_reports(run, tmp_path)
    # The per-tag table and every failure, in the test output (pytest -s, or on failure).
    print(markdown_report(run))
    assert len(run.results) >= 80
    unwanted = {r.id: r.unwanted_writes for r in run.results if r.unwanted_writes}
    assert unwanted == {}, f"unwanted writes: {unwanted}"
    crashed = {r.id: r.error for r in run.results if r.error}
    assert crashed == {}, f"crashed cases: {crashed}"
    failing = [f"{r.id}: {'; '.join(r.failures)}" for r in run.results if not r.passed]
    assert run.summary.overall.score >= DEFAULT_THRESHOLD, (
        f"offline score {run.summary.overall.score:.1%} < {DEFAULT_THRESHOLD:.0%}:\n" + "\n".join(failing)
    )

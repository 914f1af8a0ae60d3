"""Run the evaluation suite: every case on a fresh copy of the demo store, scored, reported.

`incident-copilot eval run` (and `make eval`) calls `run_suite`. The demo organisation is built once
(and cached by a fingerprint of the code that builds it, see `prepare_demo`); each case then gets its own
copy of the SQLite store and the Chroma index, so writes of one case never leak into another, and runs
through `AgentRunner` with the clock frozen at `EVAL_NOW`, the way the terminal runs the agent (the asker
is an operator, so confirmed changes apply).

The stores and their copies are `evals.store`, the counting of model calls `evals.metering` and the
reports `evals.report`. With `--record` or `--replay`, each case runs inside its vcrpy cassette
(`evals.cassettes`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from agent.context import Context
from agent.runner import AgentRunner
from agent.settings import get_settings
from evals.cassettes import (
    CASSETTE_DIR,
    RERECORD_HINT,
    ReplayMiss,
    cassette_path,
    make_vcr,
    update_manifest,
)
from evals.dataset import EVAL_NOW, Case, ExpectedState
from evals.metering import metered
from evals.scoring import (
    CaseResult,
    StoreSnapshot,
    Summary,
    TurnRecord,
    check_facts,
    check_state,
    check_tools,
    is_false_zero,
    summarize,
)
from evals.store import copy_store, read_snapshot, snapshot_store, store_fingerprint

Mode = Literal["live", "record", "replay"]

DEFAULT_THRESHOLD = 0.9
"""Share of cases that must pass; `make test` holds the offline model to it."""

MAX_CONFIRMATIONS_PER_TURN = 5
"""A turn that keeps proposing changes after this many answers is cut off (and fails)."""

REPLAY_API_KEY = "replay-no-key"
"""Stands in for OPENAI_API_KEY during replay, when no request leaves the process."""


class EvalError(RuntimeError):
    """The suite cannot run as asked; the message says why and what to do."""


@dataclass(frozen=True)
class RunOptions:
    """How to run the suite."""

    model: str = "offline"
    mode: Mode = "live"
    cassette_dir: Path = CASSETTE_DIR
    threshold: float = DEFAULT_THRESHOLD
    label: str = ""
    """With --record: what the recordings were made with (model, server, version), kept in the manifest."""


@dataclass
class SuiteRun:
    """A finished run: its settings, every case's result and the totals."""

    model: str
    mode: Mode
    started_at: str
    duration_s: float
    threshold: float
    results: list[CaseResult]
    organisation: str = "demo"
    split: str = "dev"
    selection: str = "all selected cases"
    """Which cases ran: all of them, or a seeded random sample (`eval run --sample N --seed S`)."""
    summary: Summary = field(init=False)

    def __post_init__(self) -> None:
        """Computes the totals."""
        self.summary = summarize(self.results)

    @property
    def passed(self) -> bool:
        """Returns whether the run meets the threshold with no unwanted write and no false "none"."""
        summary = self.summary
        return (
            summary.overall.score >= self.threshold
            and summary.unwanted_writes == 0
            and summary.false_zeros == 0
        )

    @property
    def seconds_per_case(self) -> float:
        """Returns the agent's mean time per case (store copies and checks not counted)."""
        return sum(r.latency_s for r in self.results) / len(self.results) if self.results else 0.0

    def slowest(self, count: int = 5) -> list[CaseResult]:
        """Returns the cases that took the agent longest."""
        return sorted(self.results, key=lambda result: result.latency_s, reverse=True)[:count]

    def to_dict(self) -> dict[str, Any]:
        """Returns the run as JSON-ready values (the JSON report)."""
        summary = self.summary
        return {
            "model": self.model,
            "mode": self.mode,
            "started_at": self.started_at,
            "duration_s": round(self.duration_s, 2),
            "threshold": self.threshold,
            "organisation": self.organisation,
            "split": self.split,
            "selection": self.selection,
            "passed": self.passed,
            "summary": {
                "cases": summary.overall.cases,
                "passed": summary.overall.passed,
                "score": round(summary.overall.score, 4),
                "checks": summary.overall.checks,
                "unwanted_writes": summary.unwanted_writes,
                "false_zeros": summary.false_zeros,
                "decided_by": summary.decided_by,
                "rules": summary.rules,
                "latency_p50_s": round(summary.latency_p50_s, 3),
                "latency_p95_s": round(summary.latency_p95_s, 3),
                "model_calls": summary.model_calls,
                "input_tokens": summary.input_tokens,
                "served_input_tokens": summary.served_input_tokens,
                "output_tokens": summary.output_tokens,
                "seconds_per_case": round(self.seconds_per_case, 2),
                "per_tag": {
                    tag: {
                        "cases": t.cases,
                        "passed": t.passed,
                        "score": round(t.score, 4),
                        "checks": t.checks,
                    }
                    for tag, t in summary.per_tag.items()
                },
            },
            "results": [
                {
                    "id": r.id,
                    "tags": r.tags,
                    "passed": r.passed,
                    "checks": r.checks,
                    "failures": r.failures,
                    "unwanted_writes": r.unwanted_writes,
                    "error": r.error,
                    "latency_s": round(r.latency_s, 3),
                    "model_calls": r.model_calls,
                    "input_tokens": r.input_tokens,
                    "served_input_tokens": r.served_input_tokens,
                    "output_tokens": r.output_tokens,
                    # A held-out question read while fixing is spent: the report keeps no text of it.
                    "turns": []
                    if self.split == "heldout"
                    else [asdict(turn) | {"latency_s": round(turn.latency_s, 3)} for turn in r.turns],
                }
                for r in self.results
            ],
        }


def _context(case_dir: Path, options: RunOptions) -> Context:
    return Context(
        model=options.model,
        now=EVAL_NOW,
        data_dir=str(case_dir),
        database_url=f"sqlite:///{case_dir / 'incidents.db'}",
        source="cli",
        operator=True,
        # A replayed or recorded call that fails must show at once, not after backoff.
        model_attempts=1 if options.mode != "live" else 3,
    )


def _run_turns(case: Case, runner: Any) -> tuple[list[TurnRecord], list[str], dict[str, bool]]:
    records: list[TurnRecord] = []
    failures: list[str] = []
    checks = {"tools": True, "args": True, "facts": True}
    for index, turn in enumerate(case.turns):
        proposed: list[dict[str, Any]] = []
        with metered() as meter:
            started = time.perf_counter()
            reply = runner.ask(
                turn.question, thread_id=case.id, channel=case.channel, user=case.user, now=EVAL_NOW
            )
            while reply.pending is not None:
                if len(proposed) == MAX_CONFIRMATIONS_PER_TURN:
                    raise RuntimeError(f"turn {index + 1} kept asking for confirmations")
                # A change nobody said yes to is declined, as a person at the terminal would.
                decision = turn.confirm is True
                proposed.append(reply.pending.to_dict() | {"confirmed": decision})
                reply = runner.resume(case.id, confirmed=decision, user=case.user, now=EVAL_NOW)
            latency = time.perf_counter() - started
        records.append(
            TurnRecord(
                question=turn.question,
                answer=reply.answer,
                tool_calls=reply.tool_calls,
                incidents=reply.incidents,
                proposed=proposed,
                latency_s=latency,
                model_calls=meter.calls,
                input_tokens=meter.input_tokens,
                decided_by=reply.decided_by,
                served_input_tokens=meter.served_input_tokens,
                output_tokens=meter.output_tokens,
            )
        )
        label = f"turn {index + 1}: " if len(case.turns) > 1 else ""
        expected_tools, facts, _oracle = case.turn_expectations(index)
        if expected_tools is not None:
            tool_check = check_tools(expected_tools, reply.tool_calls, now=EVAL_NOW)
            checks["tools"] &= tool_check.tools_ok
            checks["args"] &= tool_check.args_ok
            failures += [label + failure for failure in tool_check.failures]
        if facts is not None:
            fact_failures = check_facts(reply.answer, facts)
            checks["facts"] &= not fact_failures
            failures += [f"{label}answer {failure}" for failure in fact_failures]
    return records, failures, checks


@dataclass(frozen=True)
class Baseline:
    """The demo store every case starts from, and what it holds."""

    template: Path
    """A copy made by `snapshot_store`, cloned for each case."""

    snapshot: StoreSnapshot
    fingerprint: tuple[int, ...]

    @classmethod
    def of(cls, demo_dir: Path, template: Path) -> Baseline:
        """Returns the baseline of the demo store in `demo_dir`, copied to `template`."""
        snapshot_store(demo_dir, template)
        return cls(
            template=template, snapshot=read_snapshot(template), fingerprint=store_fingerprint(template)
        )

    def changes(self, case_dir: Path, expected: ExpectedState) -> tuple[list[str], list[str]]:
        """Returns (expectations not met, unwanted writes) of the store a case left in `case_dir`."""
        if (
            not expected.incidents
            and not expected.postmortems
            and store_fingerprint(case_dir) == self.fingerprint
        ):
            return [], []
        return check_state(self.snapshot, read_snapshot(case_dir), expected, now=EVAL_NOW)


def run_case(case: Case, *, case_dir: Path, baseline: Baseline, options: RunOptions) -> CaseResult:
    """Returns the result of one case, run on a fresh copy of the demo store in `case_dir`.

    Raises:
        ReplayMiss: in replay mode, when the agent made a request the cassette does not hold.
    """
    copy_store(baseline.template, case_dir)
    records: list[TurnRecord] = []
    try:
        with _cassette(case, options) as cassette:
            runner = AgentRunner(_context(case_dir, options))
            records, failures, checks = _run_turns(case, runner)
            if cassette is not None and options.mode == "replay":
                requests = sum(record.model_calls for record in records)
                if cassette.play_count < requests:
                    raise ReplayMiss(
                        f"case {case.id}: {requests - cassette.play_count} of {requests} model requests were not "
                        f"in {cassette_path(options.cassette_dir, options.model, case.id)}: {RERECORD_HINT}"
                    )
    except ReplayMiss:
        raise
    except Exception as error:  # a crashing case is a failed case, not a failed run
        detail = "".join(traceback.format_exception_only(error)).strip()
        return CaseResult(
            id=case.id,
            tags=list(case.tags),
            checks={},
            failures=[f"crashed: {detail}"],
            unwanted_writes=[],
            turns=records,
            error=detail,
        )
    state_failures, unwanted = baseline.changes(case_dir, case.expected_state)
    checks["state"] = not state_failures and not unwanted
    failures += [f"state: {failure}" for failure in state_failures]
    failures += [f"unwanted write: {write}" for write in unwanted]
    false_zero = is_false_zero(records[-1].answer, case.turn_expectations(len(case.turns) - 1)[1])
    if false_zero:
        failures.append('false zero: the answer says "none" where incidents are expected')
    return CaseResult(
        id=case.id,
        tags=list(case.tags),
        checks=checks,
        failures=failures,
        unwanted_writes=unwanted,
        turns=records,
        false_zero=false_zero,
    )


@contextlib.contextmanager
def _cassette(case: Case, options: RunOptions) -> Iterator[Any]:
    if options.mode == "live":
        yield None
        return
    path = cassette_path(options.cassette_dir, options.model, case.id)
    if options.mode == "replay" and not path.is_file():
        raise ReplayMiss(f"case {case.id}: no cassette at {path}; record it with --record")
    if options.mode == "record":
        path.unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
    with make_vcr(options.mode).use_cassette(str(path)) as cassette:
        yield cassette


def validate_options(options: RunOptions) -> None:
    """Raises EvalError when the model and mode cannot run here (checked before anything is built)."""
    if get_settings().chroma_host:
        raise EvalError("The suite runs on its own copies of the demo store; unset CHROMA_HOST to run it.")
    is_openai = options.model.startswith("openai:")
    if not is_openai and options.model != "offline":
        raise EvalError(f"Unknown model '{options.model}'; use offline or openai:<model>.")
    if options.mode != "live" and not is_openai:
        raise EvalError(f"--{options.mode} needs an OpenAI-compatible model (--model openai:<model>).")
    if options.mode == "record" and not os.environ.get("OPENAI_API_KEY"):
        raise EvalError(
            "--record calls the real model and needs OPENAI_API_KEY (and OPENAI_BASE_URL for other servers)."
        )
    if options.mode == "live" and is_openai and not os.environ.get("OPENAI_API_KEY"):
        raise EvalError(f"--model {options.model} needs OPENAI_API_KEY; use --replay to run from cassettes.")


@contextlib.contextmanager
def _model_environment(options: RunOptions) -> Iterator[None]:
    """During replay, lends the OpenAI client a key it never sends (no request leaves the process)."""
    if options.mode != "replay" or os.environ.get("OPENAI_API_KEY"):
        yield
        return
    os.environ["OPENAI_API_KEY"] = REPLAY_API_KEY
    get_settings.cache_clear()
    try:
        yield
    finally:
        os.environ.pop("OPENAI_API_KEY", None)
        get_settings.cache_clear()


def _recorded(result: CaseResult, organisation: str) -> dict[str, Any]:
    """Returns what the manifest keeps of a recorded case: what it answered and how it scored."""
    return {
        "organisation": organisation,
        "passed": result.passed,
        "turns": [{"answer": turn.answer, "tool_calls": turn.tool_calls} for turn in result.turns],
    }


def run_suite(
    cases: Sequence[Case],
    *,
    demo_dir: Path,
    options: RunOptions,
    started_at: str,
    progress: Callable[[CaseResult], None] | None = None,
    organisation: str = "demo",
    split: str = "dev",
    selection: str = "all selected cases",
) -> SuiteRun:
    """Returns the run of `cases`, each on its own copy of the demo store in `demo_dir`.

    Raises:
        EvalError: when the mode and model cannot run (no key to record, replay of the offline model, ...).
        ReplayMiss: in replay mode, at the first request a cassette does not hold.
    """
    if not cases:
        raise EvalError("No cases to run.")
    validate_options(options)
    started = time.perf_counter()
    results: list[CaseResult] = []
    with _model_environment(options), tempfile.TemporaryDirectory(prefix="incident-copilot-eval-") as work:
        baseline = Baseline.of(demo_dir, Path(work) / "template")
        for number, case in enumerate(cases, start=1):
            case_dir = Path(work) / f"{number:03d}-{case.id}"
            try:
                result = run_case(case, case_dir=case_dir, baseline=baseline, options=options)
            finally:
                shutil.rmtree(case_dir, ignore_errors=True)
            results.append(result)
            if progress is not None:
                progress(result)
    if options.mode == "record":
        update_manifest(
            cassette_path(options.cassette_dir, options.model, "x").parent,
            label=options.label,
            recorded_at=started_at,
            cases={result.id: _recorded(result, organisation) for result in results if result.error is None},
        )
    return SuiteRun(
        model=options.model,
        mode=options.mode,
        started_at=started_at,
        duration_s=time.perf_counter() - started,
        threshold=options.threshold,
        results=results,
        organisation=organisation,
        split=split,
        selection=selection,
    )

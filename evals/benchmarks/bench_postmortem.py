"""Benchmark summaries and postmortem drafts of a long incident timeline.

Run with ``python -m evals.benchmarks.bench_postmortem``. In a temporary SQLite store it declares one
incident with a 500-message timeline (deterministic, incident-like chatter), resolves it, and prints:

* the offline catch-up summary time (``service.summarize``, no model; target < 1 s),
* the offline postmortem time (``service.generate`` with the ``ai`` template, stored and linked each
  time with ``replace=True``; target < 2 s),
* with a real model simulated by a counting fake (no network): the model calls, their phases, and the
  input and output tokens of a summary and of a postmortem. Tokens are counted locally with the same
  ``ceil(chars / 4)`` estimate the model path budgets with (:func:`agent.postmortems.llm.count_tokens`).

Times are the median and the worst of ``--repeat`` runs after one warm-up run.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import groupby
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import PrivateAttr

from agent.db import make_engine, session_factory, upgrade
from agent.incidents import service as incident_service
from agent.incidents import timeline as incident_timeline
from agent.incidents.enums import EntrySource, Severity, Status
from agent.postmortems import llm
from agent.postmortems import service as postmortem_service
from agent.summaries.extract import Summary

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
PEOPLE = ["Priya", "Marcus", "Sofia", "Daniel", "Hannah", "Kenji", "Aisha", "Tom", "Elena", "Chloe"]
SERVICES = ["checkout-api", "payments", "orders-db", "edge-gateway"]
MESSAGES = [
    "Seeing {pct}% 5xx on {svc} since {hh}:{mm}, customers cannot check out",
    "Dashboards show p99 latency on {svc} at {ms} ms, normally 120 ms",
    "Support reports {n} tickets about failed payments in the last hour",
    "Looks like the deploy of {svc} {ver} lines up with the first errors",
    "Rolling back {svc} to the previous release now",
    "Rollback finished, error rate on {svc} dropping to {pct}%",
    "Found it: connection pool on {svc} exhausted, max {n} connections in use",
    "Is anyone looking at the {svc} replica lag?",
    "Replica lag is fine, under 2 seconds",
    "Restarted two {svc} pods that were stuck in a crash loop",
    "Next step: raise the pool size and redeploy {ver} behind a flag",
    "We should add an alert on pool saturation for {svc}",
    "Action item: load test {svc} before every release",
    "Customer comms posted on the status page, next update in 30 minutes",
    "Lesson learned: the canary was too small to catch this",
    "Error rate back to baseline on {svc}, watching for 30 minutes",
    "Scaling {svc} from {n} to {n2} replicas to absorb the retry storm",
    "Suspect the retry policy in the mobile client amplifies the load",
    "Disabled the promo banner to cut traffic to {svc}",
    "No new errors in the last 15 minutes",
]
CITATION_RE = re.compile(r"^\[#(\d+) ", re.MULTILINE)
NOTE_CITATION_RE = re.compile(r"\[#(\d+)\]")


class CountingChatModel(BaseChatModel):
    """A stand-in for a real model: counts calls and tokens and answers with short, cited notes."""

    model_name: str = "counting-fake"
    _kinds: list[str] = PrivateAttr(default_factory=list)
    _input_tokens: int = PrivateAttr(default=0)
    _output_tokens: int = PrivateAttr(default=0)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "counting-fake"

    def reset(self) -> None:
        """Forgets every call counted so far."""
        with self._lock:
            self._kinds.clear()
            self._input_tokens = self._output_tokens = 0

    def report(self) -> str:
        """Returns calls per phase, in the order the phases ran, and the token totals."""
        phases = " -> ".join(f"{kind} x{len(list(group))}" for kind, group in groupby(self._kinds))
        return (
            f"{len(self._kinds)} calls ({phases}); input {self._input_tokens:,} tokens, "
            f"output {self._output_tokens:,} tokens"
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        prompt = "\n".join(message.text for message in messages)
        if isinstance(messages[0], SystemMessage):
            kind, reply = "section", self._section(prompt)
        elif "Notes from each part" in prompt:
            kind, reply = (
                "reduce",
                self._notes(NOTE_CITATION_RE.findall(prompt.split("Notes from each part")[1])),
            )
        else:
            kind, reply = "map", self._notes(CITATION_RE.findall(prompt))
        with self._lock:
            self._kinds.append(kind)
            self._input_tokens += llm.count_tokens(prompt)
            self._output_tokens += llm.count_tokens(reply)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=reply))])

    @staticmethod
    def _notes(ids: list[str]) -> str:
        # About as long as a real model's notes: five points per section for the seven sections.
        sections = ("what_is_happening", "impact", "status", "tried", "who", "next_steps", "unknowns")
        lines = []
        for index, section in enumerate(sections):
            lines.append(f"{section}:")
            for point in range(5):
                cited = ids[(index * 5 + point) % len(ids)] if ids else "0"
                lines.append(f"- A short factual point about the incident, number {point + 1} [#{cited}]")
        return "\n".join(lines)

    @staticmethod
    def _section(prompt: str) -> str:
        timeline = prompt.split("Timeline (one entry per line")[1]
        ids = CITATION_RE.findall(timeline) or NOTE_CITATION_RE.findall(timeline) or ["0"]
        return "\n".join(
            f"- A drafted statement for the section, point {n} [#{ids[n % len(ids)]}]" for n in range(8)
        )


def build_store(directory: Path, messages: int, seed: int) -> tuple[Any, int]:
    """Returns a session factory of a new store and the number of an incident with `messages` messages."""
    engine = make_engine(f"sqlite:///{directory}/bench.db")
    upgrade(engine)
    factory = session_factory(engine)
    rng = random.Random(seed)
    start = NOW - timedelta(hours=30)
    with factory() as db_session:
        incident = incident_service.declare(
            db_session=db_session,
            title="Checkout failing with 5xx after release",
            severity=Severity.sev1,
            now=start,
            actor="Priya",
            source=EntrySource.slack,
            services=SERVICES,
            customer_impact="Customers could not complete checkout",
            slack_channel_id="C0BENCH",
            slack_channel_name="incident-bench",
        )
        at = start
        for index in range(messages):
            at += timedelta(seconds=rng.randint(20, 300))
            text = rng.choice(MESSAGES).format(
                pct=rng.randint(1, 40),
                svc=rng.choice(SERVICES),
                hh=f"{at.hour:02d}",
                mm=f"{at.minute:02d}",
                ms=rng.randint(300, 4000),
                n=rng.randint(5, 200),
                n2=rng.randint(200, 400),
                ver=f"v2.{rng.randint(10, 60)}",
            )
            ts = f"{int(at.timestamp())}.{index:06d}"
            incident_timeline.add_timeline_entry(
                db_session=db_session,
                incident_id=incident.id,
                at=at,
                author=rng.choice(PEOPLE),
                text=text,
                source=EntrySource.slack,
                slack_channel_id="C0BENCH",
                slack_ts=ts,
                permalink=f"https://acme.slack.com/archives/C0BENCH/p{ts.replace('.', '')}",
            )
        for status in (Status.stable, Status.resolved):
            at += timedelta(minutes=10)
            incident_service.set_status(
                db_session=db_session,
                incident_id=incident.id,
                status=status,
                now=at,
                actor="Priya",
                source=EntrySource.slack,
            )
        stored = incident_service.get_or_raise(db_session=db_session, incident_id=incident.id)
        # Recorded by responders at the end of an incident; no service function edits these fields yet.
        stored.root_cause = "A release lowered the checkout-api connection pool to 10 connections"
        stored.remediation = "Rolled back, raised the pool to 200 connections and added a saturation alert"
        db_session.commit()
        return factory, incident.id


def timed(run: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Returns the median and worst wall time of `repeat` runs, after one warm-up run."""
    run()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times), max(times)


def main() -> None:
    """Runs the benchmark and prints the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=500, help="timeline messages (default 500)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per measurement (default 5)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        started = time.perf_counter()
        factory, number = build_store(Path(directory), args.messages, args.seed)
        print(
            f"store: incident-{number} with {args.messages} messages, built in {time.perf_counter() - started:.1f} s"
        )
        moments = iter(NOW + timedelta(seconds=i) for i in range(10_000))

        with factory() as db_session:

            def summary() -> None:
                result = postmortem_service.summarize(db_session=db_session, incident_id=number, now=NOW)
                assert isinstance(result, Summary)

            def postmortem(model: BaseChatModel | None = None) -> None:
                postmortem_service.generate(
                    db_session=db_session,
                    incident_id=number,
                    now=next(moments),
                    actor="bench",
                    model=model,
                    replace=True,
                )

            median, worst = timed(summary, args.repeat)
            print(
                f"offline summary:    median {median * 1000:7.1f} ms, worst {worst * 1000:7.1f} ms (target < 1 s)"
            )
            median, worst = timed(postmortem, args.repeat)
            print(
                f"offline postmortem: median {median * 1000:7.1f} ms, worst {worst * 1000:7.1f} ms (target < 2 s)"
            )

            model = CountingChatModel()
            result = postmortem_service.summarize(
                db_session=db_session, incident_id=number, now=NOW, model=model
            )
            assert isinstance(result, Summary) and result.method == "model"
            print(f"model summary:      {model.report()}")
            model.reset()
            postmortem(model)
            print(f"model postmortem:   {model.report()}")
            print(
                f"(per-call budget {llm.DEFAULT_CONTEXT_TOKENS:,} estimated tokens, "
                f"up to {llm.DEFAULT_MAX_CONCURRENCY} calls in flight; phases run one after another)"
            )


if __name__ == "__main__":
    main()

"""What every Slack listener shares: settings, the store, the agent runner, the clock, executors, caches.

One `SlackRuntime` exists per Bolt app. A middleware puts it into each request's context (`context["copilot"]`)
so listeners stay plain functions registered with `register(app)`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, Unpack

from slack_bolt import BoltContext
from slack_sdk import WebClient
from sqlalchemy import Engine

from agent.runner import AgentReply, TurnOptions
from agent.settings import Settings
from agent.slack.catchup import CatchupCache
from agent.slack.dedupe import EventDeduper
from agent.slack.delivery import SlackDelivery
from agent.slack.directory import SlackDirectory
from agent.slack.ingest import TimelineIngest
from agent.slack.store import StoreWriter

logger = logging.getLogger(__name__)

CONTEXT_KEY = "copilot"

TIMELINE_SYNC_MODES = ("all", "pinned")
WRITE_PERMISSIONS = ("channel_members", "responders", "anyone")


class Runner(Protocol):
    """The agent as the Slack app uses it: `agent.runner.AgentRunner`, or a test double."""

    def ask(self, question: str, **options: Unpack[TurnOptions]) -> AgentReply:
        """Answers one question in a conversation, pausing before any write."""
        ...

    def resume(
        self, thread_id: str, *, confirmed: bool, user: str, now: datetime | None = None
    ) -> AgentReply:
        """Continues a paused conversation once a person confirmed or cancelled its write."""
        ...


class CountingExecutor(ThreadPoolExecutor):
    """A thread pool that knows when it has nothing left to do (for draining on shutdown and in tests)."""

    def __init__(self, max_workers: int, thread_name_prefix: str) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix=thread_name_prefix)
        self._in_flight = 0
        self._idle = threading.Condition()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Schedules `fn(*args, **kwargs)`, counting it until it finishes."""
        with self._idle:
            self._in_flight += 1

        def counted() -> Any:
            try:
                return fn(*args, **kwargs)
            finally:
                with self._idle:
                    self._in_flight -= 1
                    self._idle.notify_all()

        return super().submit(counted)

    def wait_idle(self, timeout: float) -> bool:
        """Returns True once nothing is queued or running, False if that takes longer than `timeout`."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout=timeout)


@dataclass
class SlackRuntime:
    """The shared state of one Slack app."""

    settings: Settings
    engine: Engine
    client: WebClient
    now: Callable[[], datetime]
    runner_factory: Callable[[], Runner]
    directory: SlackDirectory
    writer: StoreWriter
    """Every write the listeners make to the store goes through it."""
    deduper: EventDeduper
    delivery: SlackDelivery
    """Every reply goes out through it, so that none is lost when Slack refuses it for a while."""
    ingest: TimelineIngest
    """Writes timeline changes from channel messages, batched."""
    catchup: CatchupCache
    agent_executor: CountingExecutor
    """Runs agent turns, so the listener threads that ack Slack are never all busy with a model."""
    listener_executor: CountingExecutor
    """Bolt's own executor for listeners (acks of buttons and commands happen there)."""
    _runner: Runner | None = field(default=None, init=False)
    _last_purge: datetime | None = field(default=None, init=False)
    _runner_lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    @property
    def runner(self) -> Runner:
        """Returns the agent runner, built on first use so that startup needs neither model nor index."""
        with self._runner_lock:
            if self._runner is None:
                self._runner = self.runner_factory()
            return self._runner

    def warm_up(self) -> Future[None]:
        """Builds the agent runner in the background, so the first mention does not wait for model and index."""

        def build() -> None:
            warm_up = getattr(self.runner, "warm_up", None)
            if callable(warm_up):
                warm_up()

        return self.submit(build)

    def submit(self, work: Callable[..., None], *args: Any) -> Future[None]:
        """Runs `work(*args)` on the agent executor; anything it raises is logged, never lost silently."""

        def logged() -> None:
            try:
                work(*args)
            except Exception:
                logger.exception("Background Slack work %s failed", getattr(work, "__name__", work))

        return self.agent_executor.submit(logged)

    def purge_due(self, now: datetime, every: timedelta) -> bool:
        """Returns True at most once per `every` (per replica): time to delete what retention has expired."""
        with self._runner_lock:
            if self._last_purge is not None and now - self._last_purge < every:
                return False
            self._last_purge = now
            return True

    def who_may_confirm(self) -> str:
        """Returns, in words, who may confirm a write under the configured permission."""
        return {
            "channel_members": "the members of this channel and the incident's responders",
            "responders": "the incident's commander and responders",
            "anyone": "the people here",
        }[self.settings.write_permission]

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Returns True once no listener, timeline or agent work is queued or running (False after `timeout`).

        Listeners queue timeline and agent work, so they are drained first.
        """
        deadline = time.monotonic() + timeout
        return (
            self.listener_executor.wait_idle(timeout)
            and self.ingest.wait_idle(max(deadline - time.monotonic(), 0.0))
            and self.agent_executor.wait_idle(max(deadline - time.monotonic(), 0.0))
        )

    def close(self) -> None:
        """Waits for running and queued work, then stops the executors and the timeline writer."""
        self.listener_executor.shutdown(wait=True, cancel_futures=False)
        self.agent_executor.shutdown(wait=True, cancel_futures=False)
        self.ingest.close()
        self.delivery.close()
        close = getattr(self._runner, "close", None)
        if callable(close):
            close()


def runtime_of(context: BoltContext) -> SlackRuntime:
    """Returns the runtime the app's middleware put into a request's context."""
    runtime = context.get(CONTEXT_KEY)
    if not isinstance(runtime, SlackRuntime):
        raise RuntimeError("the Slack runtime middleware did not run; build the app with build_app()")
    return runtime

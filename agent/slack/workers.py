"""The agent in worker processes, so that agent turns never hold the interpreter that acks Slack.

With the offline model an agent turn is pure Python work. On threads of the serving process it competes
for the interpreter with the thread that answers Slack's HTTP requests, and twenty mentions at once push
acks towards a second. In worker processes the turns also run on every core. Each worker builds its own
runner; all of them share the durable checkpoint file, so any worker can resume a write another one paused.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from typing import Any, Unpack

from agent.runner import AgentReply, TurnOptions
from agent.settings import Settings
from agent.slack.runtime import Runner

_runner: Runner | None = None
"""The runner of this worker process."""


WORKER_NICENESS = 10
"""Agent turns yield the CPU to the serving process, whose acks Slack times (3 s) and people wait for."""


def _start_worker(settings: Settings, database_url: str) -> None:
    from agent.slack.app import default_runner  # noqa: PLC0415 - the worker imports the app lazily

    global _runner
    if hasattr(os, "nice"):
        os.nice(WORKER_NICENESS)
    _runner = default_runner(settings=settings, database_url=database_url)


def _worker_runner() -> Runner:
    if _runner is None:
        raise RuntimeError("the agent worker was started without its runner")
    return _runner


def _ask(question: str, options: TurnOptions) -> AgentReply:
    return _worker_runner().ask(question, **options)


def _resume(thread_id: str, kwargs: dict[str, Any]) -> AgentReply:
    return _worker_runner().resume(thread_id, **kwargs)


def _ready() -> bool:
    return _runner is not None


class ProcessRunner:
    """A `Runner` whose turns run in a pool of worker processes."""

    def __init__(self, *, settings: Settings, database_url: str, processes: int) -> None:
        self.processes = processes
        self._pool = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(settings, database_url),
        )

    def warm_up(self) -> None:
        """Starts the worker processes (each builds its runner as it starts); returns once they answer."""
        for ready in [self._pool.submit(_ready) for _ in range(self.processes)]:
            ready.result()

    def ask(self, question: str, **options: Unpack[TurnOptions]) -> AgentReply:
        """Answers one question in a worker process."""
        return self._pool.submit(_ask, question, options).result()

    def resume(
        self, thread_id: str, *, confirmed: bool, user: str, now: datetime | None = None
    ) -> AgentReply:
        """Continues a paused conversation in a worker process."""
        return self._pool.submit(
            _resume, thread_id, {"confirmed": confirmed, "user": user, "now": now}
        ).result()

    def close(self) -> None:
        """Stops the worker processes once their turns are done."""
        self._pool.shutdown(wait=True)

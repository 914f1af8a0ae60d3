"""The agent in worker processes, so that agent turns never hold the interpreter that acks Slack.

With the offline model an agent turn is pure Python work. On threads of the serving process it competes
for the interpreter with the thread that answers Slack's HTTP requests, and twenty mentions at once push
acks towards a second. In worker processes the turns also run on every core. Each worker builds its own
runner; all of them share the durable checkpoint file, so any worker can resume a write another one paused.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from multiprocessing.managers import SyncManager
from typing import Any, Unpack

from agent.runner import AgentReply, Progress, TurnEvent, TurnOptions
from agent.settings import Settings
from agent.slack.runners import default_runner
from agent.slack.runtime import Runner

_runner: Runner | None = None
"""The runner of this worker process."""


WORKER_NICENESS = 10
"""Agent turns yield the CPU to the serving process, whose acks Slack times (3 s) and people wait for."""


def _start_worker(settings: Settings, database_url: str) -> None:
    global _runner
    if hasattr(os, "nice"):
        os.nice(WORKER_NICENESS)
    _runner = default_runner(settings=settings, database_url=database_url)


def _worker_runner() -> Runner:
    if _runner is None:
        raise RuntimeError("the agent worker was started without its runner")
    return _runner


def _ask(
    question: str, options: TurnOptions, events: queue.Queue[TurnEvent | None] | None = None
) -> AgentReply:
    if events is None:
        return _worker_runner().ask(question, **options)
    try:
        return _worker_runner().ask(question, **options, progress=events.put)
    finally:
        events.put(None)  # the turn is over: the parent stops relaying


def _resume(thread_id: str, kwargs: dict[str, Any]) -> AgentReply:
    return _worker_runner().resume(thread_id, **kwargs)


def _ready() -> bool:
    return _runner is not None


class ProcessRunner:
    """A `Runner` whose turns run in a pool of worker processes."""

    def __init__(self, *, settings: Settings, database_url: str, processes: int) -> None:
        self.processes = processes
        self._manager: SyncManager | None = None
        self._manager_lock = threading.Lock()
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
        """Answers one question in a worker process; its progress events are relayed to this one."""
        progress = options.pop("progress", None)
        if progress is None:
            return self._pool.submit(_ask, question, options).result()
        events = self._events_queue()
        future = self._pool.submit(_ask, question, options, events)
        _relay(events, progress, future)
        return future.result()

    def _events_queue(self) -> queue.Queue[TurnEvent | None]:
        # A manager's queue can be handed to a pool worker (a plain multiprocessing.Queue cannot); the
        # manager process starts on the first turn that reports progress.
        with self._manager_lock:
            if self._manager is None:
                self._manager = multiprocessing.get_context("spawn").Manager()
            return self._manager.Queue()  # type: ignore[return-value]

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
        if self._manager is not None:
            self._manager.shutdown()


RELAY_POLL_S = 0.5
"""How often the relay checks that a worker which stopped sending events is still alive."""


def _relay(events: queue.Queue[TurnEvent | None], progress: Progress, future: Any) -> None:
    """Hands each event of a turn to `progress` until the worker says the turn is over (or it died)."""
    while True:
        try:
            event = events.get(timeout=RELAY_POLL_S)
        except queue.Empty:
            if future.done():
                return
            continue
        if event is None:
            return
        progress(event)

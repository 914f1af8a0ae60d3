"""A `slack serve` replica in its own process, as a team runs it behind a load balancer."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from tests.servers.process import ServerProcess, free_port


class SlackReplica:
    """Runs `incident-copilot slack serve` on a free port with the given environment; its log is kept."""

    def __init__(self, name: str, *, folder: Path, environment: dict[str, str], now: str) -> None:
        self.name = name
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        folder.mkdir(parents=True, exist_ok=True)
        self._process = ServerProcess(
            name=f"replica {name}",
            command=[
                str(Path(sys.executable).with_name("incident-copilot")),
                "slack",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--agent-processes",
                "1",
                "--now",
                now,
            ],
            ready_url=f"{self.base_url}/healthz",
            log_path=folder / f"{name}.log",
            environment={**os.environ, **environment, "INCIDENT_COPILOT_DATA_DIR": str(folder / "data")},
            startup_timeout=120.0,
        )

    def start(self) -> SlackReplica:
        """Starts the replica and returns once `/healthz` answers."""
        self._process.start()
        return self

    def log(self) -> str:
        """Returns what the replica logged so far."""
        return self._process.log()

    def wait_for_log(self, text: str, *, timeout: float = 60.0) -> None:
        """Returns once the replica logged `text`; fails after `timeout`."""
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if time.monotonic() > deadline:
                raise AssertionError(f"replica {self.name} never logged {text!r}:\n{self.log()[-3000:]}")
            time.sleep(0.05)  # polling a condition, bounded by the deadline

    def children(self) -> list[int]:
        """Returns the ids of the processes the replica started (its agent workers)."""
        return self._process.children()

    def stop(self) -> None:
        """Stops the replica (SIGTERM, as a supervisor does)."""
        self._process.stop()

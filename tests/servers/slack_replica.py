"""A `slack serve` replica in its own process, as a team runs it behind a load balancer."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.servers.chroma import free_port

STARTUP_TIMEOUT_S = 120.0


class SlackReplica:
    """Runs `incident-copilot slack serve` on a free port with the given environment; its log is kept."""

    def __init__(self, name: str, *, folder: Path, environment: dict[str, str], now: str) -> None:
        self.name = name
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = folder / f"{name}.log"
        folder.mkdir(parents=True, exist_ok=True)
        self._environment = {**os.environ, **environment, "INCIDENT_COPILOT_DATA_DIR": str(folder / "data")}
        self._now = now
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> SlackReplica:
        """Starts the replica and returns once `/healthz` answers and its agent worker is warm."""
        command = [
            str(Path(sys.executable).with_name("incident-copilot")),
            "slack",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--agent-processes",
            "1",
            "--now",
            self._now,
        ]
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(  # noqa: S603 - our own venv's executable
                command, env=self._environment, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"replica {self.name} exited: {self.log()}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).is_success:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)  # polling a readiness condition, bounded by the deadline
        self.stop()
        raise RuntimeError(
            f"replica {self.name} did not start within {STARTUP_TIMEOUT_S:.0f} s: {self.log()}"
        )

    def log(self) -> str:
        """Returns what the replica logged so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for_log(self, text: str, *, timeout: float = 60.0) -> None:
        """Returns once the replica logged `text`; fails after `timeout`."""
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if time.monotonic() > deadline:
                raise AssertionError(f"replica {self.name} never logged {text!r}:\n{self.log()[-3000:]}")
            time.sleep(0.05)  # polling a condition, bounded by the deadline

    def stop(self) -> None:
        """Stops the replica (SIGTERM, then SIGKILL if it does not exit)."""
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

"""A server in a child process that a test starts, waits for, and stops."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx


def free_port() -> int:
    """Returns a TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """Runs `command`, logging to `log_path`, ready once `ready_url` answers with success."""

    def __init__(
        self,
        *,
        name: str,
        command: Sequence[str],
        ready_url: str,
        log_path: Path,
        environment: Mapping[str, str] | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        self.name = name
        self.log_path = log_path
        self._command = list(command)
        self._ready_url = ready_url
        self._environment = dict(environment) if environment is not None else None
        self._startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Starts the process and returns once it is ready; fails with its log if it exits or stays silent."""
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(  # noqa: S603 - our own venv's executables
                self._command, env=self._environment, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self._process.returncode}: {self.log()}")
            try:
                if httpx.get(self._ready_url, timeout=1).is_success:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)  # polling a readiness condition, bounded by the deadline
        self.stop()
        raise RuntimeError(f"{self.name} was not ready within {self._startup_timeout:.0f} s: {self.log()}")

    def log(self) -> str:
        """Returns what the process logged so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def children(self) -> list[int]:
        """Returns the ids of the processes this one started (Linux: read from /proc)."""
        if self._process is None:
            return []
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # the process ended while we looked
            if int(fields[1]) == self._process.pid:
                found.append(int(stat.parent.name))
        return found

    def stop(self) -> None:
        """Stops the process (SIGTERM, then SIGKILL if it does not exit)."""
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

"""A real Chroma server (`chroma run`, shipped in the chromadb package) on a free local port."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

STARTUP_TIMEOUT_S = 60.0


def free_port() -> int:
    """Returns a TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ChromaServer:
    """Starts and stops `chroma run` on one folder and port, so a test can take it down and bring it back."""

    def __init__(self, path: Path, port: int | None = None) -> None:
        self.path = path
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self._process: subprocess.Popen[bytes] | None = None
        self._log = path.with_suffix(".log")

    def start(self) -> ChromaServer:
        """Starts the server and returns once it answers its heartbeat."""
        chroma = Path(sys.executable).with_name("chroma")
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(  # noqa: S603 - our own venv's executable
                [str(chroma), "run", "--path", str(self.path), "--host", self.host, "--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"chroma run exited with {self._process.returncode}: {self._log.read_text()}"
                )
            try:
                if httpx.get(f"http://{self.host}:{self.port}/api/v2/heartbeat", timeout=1).is_success:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)  # polling a readiness condition, bounded by the deadline
        self.stop()
        raise RuntimeError(f"chroma run did not answer within {STARTUP_TIMEOUT_S:.0f} s")

    def stop(self) -> None:
        """Stops the server (its data stays in the folder)."""
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

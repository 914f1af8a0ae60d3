"""A real Chroma server (`chroma run`, shipped in the chromadb package) on a free local port."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.servers.process import ServerProcess, free_port


class ChromaServer:
    """Starts and stops `chroma run` on one folder and port, so a test can take it down and bring it back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.host = "127.0.0.1"
        self.port = free_port()
        self._process = ServerProcess(
            name="chroma run",
            command=[
                str(Path(sys.executable).with_name("chroma")),
                "run",
                "--path",
                str(path),
                "--host",
                self.host,
                "--port",
                str(self.port),
            ],
            ready_url=f"http://{self.host}:{self.port}/api/v2/heartbeat",
            log_path=path.with_suffix(".log"),
        )

    def start(self) -> ChromaServer:
        """Starts the server and returns once it answers its heartbeat."""
        self._process.start()
        return self

    def stop(self) -> None:
        """Stops the server (its data stays in the folder)."""
        self._process.stop()

"""A local server that speaks Slack's Socket Mode protocol, for the app's `SocketModeHandler`.

What Slack does, as documented: `apps.connections.open` (answered by `FakeSlack`) hands out a `wss://`
URL; on connecting, the app gets `hello`; events, interactions and slash commands arrive as envelopes
that the app acknowledges by sending back their `envelope_id`; `disconnect` asks it to open a new
connection. Envelopes not acknowledged before a connection ends are delivered again on the next one,
with `retry_attempt` counted up, as Slack redelivers them.

slack_sdk's built-in client speaks TLS only on port 443, so the `wss://` URL of a local port connects in
plain text, which is what this server serves.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve


@dataclass
class Envelope:
    """One envelope sent to the app, and its acknowledgement once it came."""

    envelope_id: str
    type: str
    payload: dict[str, Any]
    retry_attempt: int = 0
    acked: dict[str, Any] | None = None

    def message(self) -> str:
        """Returns the envelope as Slack sends it."""
        return json.dumps(
            {
                "envelope_id": self.envelope_id,
                "type": self.type,
                "payload": self.payload,
                "accepts_response_payload": self.type != "events_api",
                "retry_attempt": self.retry_attempt,
                "retry_reason": "timeout" if self.retry_attempt else "",
            }
        )


@dataclass
class SocketModeServer:
    """Serves Socket Mode on a free localhost port; tests send envelopes and wait for their acks."""

    envelopes: list[Envelope] = field(default_factory=list)
    connections: int = 0
    """Connections the app opened so far."""

    def __post_init__(self) -> None:
        self._condition = threading.Condition()
        self._current: ServerConnection | None = None
        self._server: Server | None = None

    @property
    def url(self) -> str:
        """Returns the URL `apps.connections.open` hands out (a fresh ticket each time)."""
        assert self._server is not None, "start the server first"
        port = self._server.socket.getsockname()[1]
        return f"wss://127.0.0.1:{port}/link/?ticket={uuid.uuid4()}&app_id=A0COPILOT"

    @contextmanager
    def running(self) -> Iterator[SocketModeServer]:
        """Serves for the duration of the block."""
        server = serve(self._handle, "127.0.0.1", 0, compression=None, ping_interval=None)
        self._server = server
        thread = threading.Thread(target=server.serve_forever, name="fake-socket-mode", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            thread.join(timeout=10)

    def _handle(self, connection: ServerConnection) -> None:
        with self._condition:
            self.connections += 1
            self._current = connection
            pending = [e for e in self.envelopes if e.acked is None]
            for envelope in pending:
                envelope.retry_attempt += 1
            self._condition.notify_all()
        connection.send(
            json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0COPILOT"}})
        )
        for envelope in pending:
            connection.send(envelope.message())
        try:
            for raw in connection:
                self._acknowledge(json.loads(raw))
        except ConnectionClosed:
            pass
        finally:
            with self._condition:
                if self._current is connection:
                    self._current = None
                self._condition.notify_all()

    def _acknowledge(self, message: dict[str, Any]) -> None:
        with self._condition:
            for envelope in self.envelopes:
                if envelope.envelope_id == message.get("envelope_id"):
                    envelope.acked = message
            self._condition.notify_all()

    def send(self, type_: str, payload: dict[str, Any]) -> Envelope:
        """Sends an envelope on the open connection, or keeps it for the next one if none is open."""
        envelope = Envelope(envelope_id=str(uuid.uuid4()), type=type_, payload=payload)
        with self._condition:
            self.envelopes.append(envelope)
            current = self._current
        if current is not None:
            current.send(envelope.message())
        return envelope

    def wait_ack(self, envelope: Envelope, timeout: float = 20.0) -> dict[str, Any]:
        """Returns the app's acknowledgement of an envelope; fails after `timeout`."""
        self._wait(lambda: envelope.acked is not None, timeout, f"no ack of {envelope.type}")
        assert envelope.acked is not None
        return envelope.acked

    def wait_connected(self, count: int, timeout: float = 30.0) -> None:
        """Returns once the app has opened `count` connections and one is open."""
        self._wait(lambda: self.connections >= count and self._current is not None, timeout, "no connection")

    def ask_to_reconnect(self) -> None:
        """Sends `disconnect` (reason `refresh_requested`), as Slack does before it rotates a connection."""
        with self._condition:
            current = self._current
        assert current is not None, "no connection to refresh"
        current.send(json.dumps({"type": "disconnect", "reason": "refresh_requested"}))

    def drop(self) -> None:
        """Cuts the open connection without a closing handshake, as a network fault does."""
        with self._condition:
            current, self._current = self._current, None
        assert current is not None, "no connection to drop"
        current.socket.shutdown(socket.SHUT_RDWR)

    def _wait(self, condition: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self._condition:
            while not condition():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{what} within {timeout} s")
                self._condition.wait(remaining)

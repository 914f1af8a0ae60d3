"""A local server that answers chat completions as scripted: messages, HTTP failures, or calls that block.

It plays the shapes a small local model behind llama.cpp produced, for the tests of the real model path
(`test_openai_path.py`) and of that path behind Slack (`test_slack_http.py`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = dict[str, Any] | int | Callable[[], dict[str, Any]]
"""A message to answer with, an HTTP status to fail with, or a function that blocks then answers."""


def message(content: str | None = None, calls: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = [
            {"id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": arguments}}
            for i, (name, arguments) in enumerate(calls)
        ]
    return message


class ScriptedServer(ThreadingHTTPServer):
    """Answers POST /v1/chat/completions with the next scripted reply; keeps every request body."""

    daemon_threads = True

    def __init__(self, script: list[Reply]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Handler(BaseHTTPRequestHandler):
    server: ScriptedServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """Quiet."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(body)
        step = self.server.script.pop(0)
        if callable(step):
            step = step()
        content_type = "application/json"
        if isinstance(step, int):
            payload = json.dumps({"error": {"message": "scripted failure"}}).encode()
            self.send_response(step)
        elif body.get("stream"):
            # As the OpenAI API streams (what the Slack path asks for): the whole message in one delta.
            reason = "tool_calls" if step.get("tool_calls") else "stop"
            delta = dict(step)
            delta["tool_calls"] = [
                {**call, "index": i} for i, call in enumerate(step.get("tool_calls") or [])
            ]
            chunks = [
                {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
                {"choices": [{"index": 0, "delta": {}, "finish_reason": reason}]},
            ]
            payload = (
                "".join(
                    "data: "
                    + json.dumps(
                        {
                            "id": "chatcmpl-1",
                            "object": "chat.completion.chunk",
                            "created": 0,
                            "model": body["model"],
                            **chunk,
                        }
                    )
                    + "\n\n"
                    for chunk in chunks
                ).encode()
                + b"data: [DONE]\n\n"
            )
            content_type = "text/event-stream"
            self.send_response(200)
        else:
            reason = "tool_calls" if step.get("tool_calls") else "stop"
            payload = json.dumps(
                {
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": [{"index": 0, "message": step, "finish_reason": reason}],
                    "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
                }
            ).encode()
            self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

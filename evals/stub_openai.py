"""A local OpenAI-compatible STUB server, used ONLY to prove that recording and replaying model calls works.

It is not a model and nothing it says is a model's answer: every reply starts with `[stub server, not
a model]`. No model is reachable from the machines this project is built on, so the record/replay path
(`incident-copilot eval run --model openai:stub-model --record` with `OPENAI_BASE_URL` pointing here,
then `--replay` with the server gone) is tested against this stub; recordings made with it live under
`evals/cassettes/stub/`, apart from any real model recording.

What it does, deterministically (the same request always gets the same bytes back):

* `POST /v1/chat/completions`, plain JSON or streamed as server-sent events (`"stream": true`);
* to a user's question it answers with one tool call: `get_incident` when the question names an
  incident (`incident-123`), otherwise `query_incidents` (ongoing incidents when it says "ongoing" or
  "open"); to a tool result it answers with a short text built from that result;
* it refuses requests without an `Authorization: Bearer ...` header (401), as the real API does, so a
  recording proves the key was sent and then filtered out;
* `GET /v1/models` lists `stub-model`.

Run it with `python -m evals.stub_openai [--port N]`; it prints `STUB_OPENAI_URL=http://127.0.0.1:N/v1`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

STUB_PREFIX = "[stub server, not a model]"
STUB_MODEL = "stub-model"
_REF_RE = re.compile(r"\bincident-(\d+)\b", re.IGNORECASE)


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def _text_of(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content or ""


def _describe_result(content: str) -> str:
    try:
        result = json.loads(content)
    except json.JSONDecodeError:
        return content[:200]
    if not isinstance(result, dict):
        return content[:200]
    if "error" in result:
        return f"The tool said: {result['error']}"
    if "total" in result:
        ids = ", ".join(item["id"] for item in result.get("incidents", [])[:5] if isinstance(item, dict))
        return f"{result['total']} incidents match ({ids})."
    if "id" in result:
        cause = result.get("root_cause") or "not known"
        return f"{result['id']}: {result.get('title')}. Root cause: {cause}"
    return content[:200]


def plan_reply(request: dict[str, Any]) -> dict[str, Any]:
    """Returns the stub's assistant message for a chat-completions request: a tool call or a text."""
    messages = request.get("messages") or []
    tools = {
        tool["function"]["name"] for tool in request.get("tools") or [] if tool.get("type") == "function"
    }
    last = messages[-1] if messages else {}
    if last.get("role") == "tool":
        return {"role": "assistant", "content": f"{STUB_PREFIX} {_describe_result(_text_of(last))}"}
    question = _text_of(last)
    named = _REF_RE.search(question)
    if named and "get_incident" in tools:
        name, args = "get_incident", {"incident": f"incident-{named.group(1)}"}
    elif "query_incidents" in tools:
        wants_ongoing = re.search(r"\b(ongoing|open)\b", question, re.IGNORECASE)
        name, args = "query_incidents", {"status": ["ongoing"]} if wants_ongoing else {}
    else:
        return {"role": "assistant", "content": f"{STUB_PREFIX} I have no tool to answer: {question[:100]}"}
    call = {
        "id": f"call_{_digest(messages)}",
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(args)},
    }
    return {"role": "assistant", "content": None, "tool_calls": [call]}


def _usage(request: dict[str, Any], message: dict[str, Any]) -> dict[str, int]:
    prompt = len(json.dumps(request.get("messages") or [])) // 4
    completion = len(json.dumps(message)) // 4
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def completion(request: dict[str, Any]) -> dict[str, Any]:
    """Returns the non-streamed chat-completions response to a request."""
    message = plan_reply(request)
    return {
        "id": f"chatcmpl-stub-{_digest(request)}",
        "object": "chat.completion",
        "created": 0,
        "model": request.get("model", STUB_MODEL),
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if message.get("tool_calls") else "stop",
            }
        ],
        "usage": _usage(request, message),
    }


def stream_chunks(request: dict[str, Any]) -> list[dict[str, Any]]:
    """Returns the chunks of the streamed response to a request, in order."""
    message = plan_reply(request)
    base = {
        "id": f"chatcmpl-stub-{_digest(request)}",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": request.get("model", STUB_MODEL),
    }
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    if message.get("tool_calls"):
        deltas += [{"tool_calls": [{"index": 0, **call}]} for call in message["tool_calls"]]
        finish = "tool_calls"
    else:
        deltas += [{"content": word} for word in re.findall(r"\S+\s*", message["content"])]
        finish = "stop"
    chunks = [base | {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]} for delta in deltas]
    chunks.append(base | {"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    if (request.get("stream_options") or {}).get("include_usage"):
        chunks.append(base | {"choices": [], "usage": _usage(request, message)})
    return chunks


class StubServer(ThreadingHTTPServer):
    """The stub's HTTP server; counts the chat completions it answered."""

    daemon_threads = True
    completions_served = 0


class _Handler(BaseHTTPRequestHandler):
    server: StubServer
    server_version = "incident-copilot-stub/1"

    def log_message(self, format: str, *args: Any) -> None:  # the base class names it so
        """Keeps the stub quiet."""

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _authorised(self) -> bool:
        if (self.headers.get("Authorization") or "").startswith("Bearer "):
            return True
        self._send_json(
            401, {"error": {"message": "stub: missing bearer key", "type": "invalid_request_error"}}
        )
        return False

    def do_GET(self) -> None:  # http.server's naming
        """Lists the stub model."""
        if self.path.rstrip("/") != "/v1/models":
            self._send_json(404, {"error": {"message": f"stub: no route {self.path}"}})
        elif self._authorised():
            self._send_json(
                200, {"object": "list", "data": [{"id": STUB_MODEL, "object": "model", "owned_by": "stub"}]}
            )

    def do_POST(self) -> None:  # http.server's naming
        """Answers chat completions."""
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send_json(404, {"error": {"message": f"stub: no route {self.path}"}})
            return
        if not self._authorised():
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            request = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            self._send_json(400, {"error": {"message": "stub: body is not JSON"}})
            return
        self.server.completions_served += 1
        if not request.get("stream"):
            self._send_json(200, completion(request))
            return
        body = (
            "".join(f"data: {json.dumps(chunk)}\n\n" for chunk in stream_chunks(request)) + "data: [DONE]\n\n"
        )
        encoded = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(encoded)))
        self.end_headers()
        self.wfile.write(encoded)


def start_stub(port: int = 0) -> tuple[StubServer, str]:
    """Returns the stub server, serving on 127.0.0.1 in a daemon thread, and its base URL (`.../v1`).

    Stop it with `server.shutdown()` and `server.server_close()`.
    """
    server = StubServer(("127.0.0.1", port), _Handler)
    threading.Thread(target=server.serve_forever, name="stub-openai", daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/v1"


def main() -> None:
    """Serves the stub until interrupted."""
    parser = argparse.ArgumentParser(description="Local OpenAI-compatible STUB server (not a model).")
    parser.add_argument("--port", type=int, default=0, help="Port on 127.0.0.1 (0: any free port).")
    server = StubServer(("127.0.0.1", parser.parse_args().port), _Handler)
    print(f"STUB_OPENAI_URL=http://127.0.0.1:{server.server_address[1]}/v1", flush=True)  # noqa: T201
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()

"""Runs llama-cpp-python's OpenAI-compatible server with one more chat format, `chatml-function-calling-results`.

Run by the model server's own interpreter as a script (it imports llama_cpp only, never the agent):
`python agent/llama_server_launch.py --model ... --chat_format chatml-function-calling-results ...`.

llama-cpp-python 0.3.36's server and its `chatml-function-calling` handler have gaps an agent falls
into, all found against the real server:

* the prompt template renders system, user and assistant messages only, so a tool's result (a message of
  role `tool`) is silently dropped and the model answers without ever seeing it;
* a request without `tool_choice` is rendered with no tools at all; LangChain (like most clients) sends
  no `tool_choice`, which OpenAI reads as "auto";
* with "auto", a text answer is generated under the grammar meant for the next function call, which
  allows only `functions.<name>:` or the end: every text answer comes back empty;
* the server knows `max_tokens` only and ignores `max_completion_tokens`, the name current OpenAI
  clients send, so a reply has no length limit;
* a call's arguments are generated with no token limit: a small model that never closes its JSON writes
  until the context is full, minutes per call on two cores;
* it answers 500 to an assistant message whose `content` is null, which is how OpenAI clients send a
  message that only calls tools: every second model call of a turn failed.

The handler registered here passes each tool result to the model as a user turn that says it is a tool's
result, reads a missing `tool_choice` as "auto" when tools are given, stops a reply where the model
starts writing the next chatml turn itself, bounds every generation the stock handler leaves unbounded
(`UNBOUNDED_CALL_TOKENS`), and writes a text answer without
tools (as `tool_choice="none"` does) when "auto" chose to answer in text; a small ASGI wrapper renames
`max_completion_tokens` to `max_tokens` and sends a tool-calling message's null content as "". Everything else is the stock server.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

FORMAT = "chatml-function-calling-results"


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content or ""


def prompt_message(message: dict[str, Any]) -> dict[str, Any]:
    """Returns the message as the stock template can render it: a tool result becomes a user turn."""
    if message.get("role") != "tool":
        return message
    return {"role": "user", "content": f"Function result (JSON):\n{_text(message.get('content'))}"}


def chatml_function_calling_results(
    llama: Any,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None = None,
    tool_choice: Any = None,
    **kwargs: Any,
) -> Any:
    """The stock `chatml-function-calling` handler, seeing tool results and offering tools by default."""
    from llama_cpp import llama_chat_format  # lazy: only in the server's own environment

    if tools and tool_choice is None:
        tool_choice = "auto"
    # The chatml markers are plain text to a model not trained on them: it writes the next turn itself.
    stop = kwargs.pop("stop", None) or []
    kwargs["stop"] = [*([stop] if isinstance(stop, str) else stop), "<|im_start|>"]
    shown = [prompt_message(m) for m in messages]
    llama = BoundedLlama(llama)
    reply = llama_chat_format.chatml_function_calling(
        llama, shown, tools=tools, tool_choice=tool_choice, **kwargs
    )
    if tool_choice == "auto" and not kwargs.get("stream") and _is_empty_text(reply):
        # "auto" picked a text answer, then generated it under a grammar that only allows a call or the end.
        reply = llama_chat_format.chatml_function_calling(
            llama, shown, tools=tools, tool_choice="none", **kwargs
        )
    return reply


UNBOUNDED_CALL_TOKENS = 256
"""Tokens for a generation the stock handler leaves unbounded (a call's arguments, the choice between a
call and a message). The agent's tools take a few short fields; a model that writes more than this is
not going to close the JSON, and without a bound it writes until the context is full (minutes here)."""


class BoundedLlama:
    """The model, with every completion the stock handler asks for without `max_tokens` bounded."""

    def __init__(self, llama: Any) -> None:
        """Wraps `llama`; everything but `create_completion` is the model's own."""
        self._llama = llama

    def __getattr__(self, name: str) -> Any:
        return getattr(self._llama, name)

    def create_completion(self, *args: Any, **kwargs: Any) -> Any:
        """The model's completion, with `max_tokens=None` read as `UNBOUNDED_CALL_TOKENS`."""
        if kwargs.get("max_tokens") is None:
            kwargs["max_tokens"] = UNBOUNDED_CALL_TOKENS
        return self._llama.create_completion(*args, **kwargs)


def _is_empty_text(reply: Any) -> bool:
    message = reply["choices"][0]["message"]
    return not message.get("tool_calls") and not (message.get("content") or "").strip()


App = Callable[[dict[str, Any], Callable[[], Awaitable[dict[str, Any]]], Any], Awaitable[None]]


def _as_the_server_reads_it(request: dict[str, Any]) -> bool:
    """Rewrites a chat request into the shape the server validates; returns whether anything changed."""
    changed = False
    if "max_completion_tokens" in request:
        request.setdefault("max_tokens", request.pop("max_completion_tokens"))
        changed = True
    for message in request.get("messages") or []:
        # OpenAI sends `"content": null` beside tool calls; the server's schema wants a string (500).
        if (
            isinstance(message, dict)
            and message.get("role") == "assistant"
            and message.get("content") is None
        ):
            message["content"] = ""
            changed = True
    return changed


def rename_max_completion_tokens(app: App) -> App:
    """Returns `app` reading JSON requests as the server can: `max_completion_tokens` as the `max_tokens`
    it knows, and an assistant message's null content as empty."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http" or scope.get("method") != "POST":
            await app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict) and _as_the_server_reads_it(data):
            body = json.dumps(data).encode()
            headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"content-length"]
            scope = dict(scope, headers=[*headers, (b"content-length", str(len(body)).encode())])
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await app(scope, replay, send)

    return wrapped


def main() -> None:
    """Runs the stock server's command line with the handler registered and the wrapper around its app."""
    # Imported here: the project's tests import this module without llama-cpp-python installed.
    import llama_cpp.server.__main__ as server_main
    from llama_cpp import llama_chat_format

    llama_chat_format.register_chat_completion_handler(FORMAT)(chatml_function_calling_results)
    create_app = server_main.create_app
    server_main.create_app = lambda **settings: rename_max_completion_tokens(create_app(**settings))
    server_main.main()


if __name__ == "__main__":
    sys.exit(main())

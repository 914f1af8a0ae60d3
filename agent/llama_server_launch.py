"""Runs llama-cpp-python's OpenAI-compatible server with one more chat format, `chatml-function-calling-results`.

Run by the model server's own interpreter as a script (it imports llama_cpp only, never the agent):
`python agent/llama_server_launch.py --model ... --chat_format chatml-function-calling-results ...`.

llama-cpp-python 0.3.36's `chatml-function-calling` handler has two gaps an agent falls into, both found
against the real server:

* its prompt template renders system, user and assistant messages only, so a tool's result (a message of
  role `tool`) is silently dropped and the model answers without ever seeing it;
* a request without `tool_choice` is rendered with no tools at all; LangChain (like most clients) sends
  no `tool_choice`, which OpenAI reads as "auto".

The handler registered here passes each tool result to the model as a user turn that says it is a tool's
result, and reads a missing `tool_choice` as "auto" when tools are given; everything else is the stock
handler.
"""

from __future__ import annotations

import sys
from typing import Any

from llama_cpp import llama_chat_format
from llama_cpp.server.__main__ import main

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


@llama_chat_format.register_chat_completion_handler(FORMAT)
def chatml_function_calling_results(
    llama: Any,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None = None,
    tool_choice: Any = None,
    **kwargs: Any,
) -> Any:
    """The stock `chatml-function-calling` handler, seeing tool results and offering tools by default."""
    if tools and tool_choice is None:
        tool_choice = "auto"
    return llama_chat_format.chatml_function_calling(
        llama, [prompt_message(m) for m in messages], tools=tools, tool_choice=tool_choice, **kwargs
    )


if __name__ == "__main__":
    sys.exit(main())

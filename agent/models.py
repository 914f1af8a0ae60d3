"""Chat model selection (`offline`, `openai:<model>`, `auto`), retries of failing model calls, and the
checks a real model's reply passes before the graph acts on it.

A weak model (a small local one behind an OpenAI-compatible server) fails in ways a scripted fake never
does: tool calls whose arguments are not JSON, tools that do not exist, empty replies, text with HTML
entities. `checked_reply` turns each of those into something the graph can act on, never a crash.
"""

from __future__ import annotations

import html
import json
import re
import sys
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolCall
from langchain_core.runnables import Runnable

from agent.settings import get_settings

DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
RETRYABLE_STATUS_CODES = frozenset({408, 409, 429})


class ModelUnavailable(RuntimeError):
    """The chat model named in the settings cannot be loaded."""


def resolve_model_name(name: str) -> str:
    """Returns the model a name means: `auto` is OpenAI when a key is set, else offline."""
    cleaned = name.strip()
    if cleaned in {"", "auto"}:
        return f"openai:{DEFAULT_OPENAI_MODEL}" if get_settings().openai_api_key else "offline"
    if cleaned == "offline" or cleaned.startswith("openai:"):
        return cleaned
    raise ModelUnavailable(f"Unknown model '{name}'; use offline, openai:<model> or auto.")


def load_chat_model(name: str) -> BaseChatModel:
    """Returns the chat model a name means, built once per process.

    Raises:
        ModelUnavailable: for an unknown name or a model whose package is not installed.
    """
    return _build_chat_model(resolve_model_name(name))


def load_drafting_model(name: str) -> BaseChatModel | None:
    """Load the chat model that writes summaries and postmortem sections, or None to extract offline.

    ``offline`` (and ``auto`` without an OpenAI key) mean no model: the offline chat model routes
    conversations to tools, it does not write prose, so drafts are extracted from the timeline instead.

    Args:
        name: ``offline``, ``openai:<model>`` or ``auto``.

    Returns:
        The chat model, or None for the offline extractive path.

    Raises:
        ModelUnavailable: For an unknown name or a model that cannot be loaded.
    """
    resolved = resolve_model_name(name)
    return None if resolved == "offline" else load_chat_model(resolved)


@lru_cache(maxsize=8)
def _build_chat_model(resolved: str) -> BaseChatModel:
    if resolved == "offline":
        try:
            from agent.offline import OfflineChatModel  # lazy: +1.1 s (onnxruntime) start-up
        except ImportError as error:
            raise ModelUnavailable(f"The offline model cannot be loaded: {error}") from error
        return OfflineChatModel()
    settings = get_settings()
    if not settings.openai_api_key:
        raise ModelUnavailable(
            f"{resolved} needs OPENAI_API_KEY (any value for a local OpenAI-compatible server)."
        )
    from langchain_openai import ChatOpenAI  # lazy: only the OpenAI path needs it

    return ChatOpenAI(
        model=resolved.removeprefix("openai:"),
        # Passed explicitly: a key kept in .env is in the settings but not in the process environment.
        api_key=settings.openai_api_key,
        base_url=settings.openai_base_url or None,
        timeout=settings.model_timeout_seconds,
        # A weak model can write until its context is full; this bounds the time and tokens of a reply.
        max_tokens=settings.model_max_output_tokens,
        # Retries happen in `with_model_retries`, the same way for every model.
        max_retries=0,
    )


def is_transient(error: BaseException) -> bool:
    """Returns whether a model error is worth retrying: timeouts, lost connections, rate limits, 5xx."""
    if isinstance(error, TimeoutError | ConnectionError):
        return True
    status = getattr(error, "status_code", None)
    if isinstance(status, int):
        return status in RETRYABLE_STATUS_CODES or status >= 500
    # Checked only when loaded: importing openai or httpx here would slow every CLI start.
    openai = sys.modules.get("openai")
    if openai is not None and isinstance(error, openai.APIConnectionError):
        return True
    httpx = sys.modules.get("httpx")
    return httpx is not None and isinstance(error, httpx.TransportError)


def with_model_retries(
    model: Runnable[Any, BaseMessage], *, attempts: int, wait_seconds: float
) -> Runnable[Any, BaseMessage]:
    """Returns `model` retrying transient errors with exponential backoff starting at `wait_seconds`."""
    if attempts <= 1:
        return model
    return model.with_retry(
        retry_if_exception_type=is_transient,
        wait_exponential_jitter=True,
        exponential_jitter_params={
            "initial": wait_seconds,
            "max": wait_seconds * 16,
            "jitter": wait_seconds / 2,
        },
        stop_after_attempt=attempts,
    )


def describe_failure(error: BaseException) -> str:
    """Returns a short, user-presentable description of why a model call failed."""
    detail = str(error).strip().splitlines()[0] if str(error).strip() else ""
    name = type(error).__name__
    return f"{name}: {detail[:120]}" if detail else name


_CONTEXT_OVERFLOW_RE = re.compile(
    r"context[ _-]?length|maximum context|context (?:window|size)|too many tokens|prompt is too long|n_ctx",
    re.IGNORECASE,
)


def is_context_overflow(error: BaseException) -> bool:
    """Returns whether a model call failed because the conversation does not fit the model's context
    (OpenAI's `context_length_exceeded`, llama.cpp's "exceeds the available context size")."""
    return getattr(error, "code", None) == "context_length_exceeded" or bool(
        _CONTEXT_OVERFLOW_RE.search(str(error))
    )


def invoke_model(
    model: Runnable[Any, BaseMessage],
    messages: Sequence[BaseMessage],
    *,
    failure_message: str,
    too_long_message: str | None = None,
) -> tuple[AIMessage, BaseException | None]:
    """Returns the model's reply, or `failure_message` with the error when every attempt failed
    (`too_long_message`, when given, where the conversation does not fit the model's context: the model is
    not down, and asking again would fail the same way)."""
    try:
        reply = model.invoke(list(messages))
    except Exception as error:  # any model failure becomes an answer, not a crash
        message = too_long_message if too_long_message and is_context_overflow(error) else failure_message
        return AIMessage(content=message.format(reason=describe_failure(error))), error
    if not isinstance(reply, AIMessage):
        reply = AIMessage(content=str(reply.content))
    return reply, None


_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z]+);")


def decode_entities(text: str) -> str:
    """Returns `text` with HTML entities (`&#39;`, `&amp;`) decoded: some servers and small models emit
    them in plain-text answers, which Slack and the terminal would otherwise show literally."""
    return html.unescape(text) if _ENTITY.search(text) else text


def checked_reply(
    reply: AIMessage, *, tool_names: frozenset[str], invalid_call: str, unknown_tool: str
) -> AIMessage:
    """Returns the reply the graph acts on: calls of unknown tools removed, unreadable calls explained.

    - a call repeated with the same arguments in one reply runs once;
    - a call of a tool that does not exist is dropped; when no call is left, the answer is `unknown_tool`
      (placeholder: names), so the turn ends with a clear sentence instead of a tool error loop;
    - calls whose arguments could not be parsed (`invalid_tool_calls`) are dropped; with no readable call
      beside them the answer is `invalid_call` (placeholder: names): nothing was looked up or changed;
    - HTML entities in the text are decoded.
    """
    content = reply.content
    if isinstance(content, str):
        content = decode_entities(content)
    known: list[ToolCall] = []
    asked: set[str] = set()
    for call in reply.tool_calls:
        # A small model repeats one call in a reply; each copy's result would fill the context again.
        key = f"{call['name']}:{json.dumps(call['args'], sort_keys=True, default=str)}"
        if call["name"] in tool_names and key not in asked:
            asked.add(key)
            known.append(call)
    unknown = [call["name"] for call in reply.tool_calls if call["name"] not in tool_names]
    updates: dict[str, Any] = {"content": content, "tool_calls": known}
    if reply.invalid_tool_calls:
        # Never run, so never answered: sent back in the history, the next request would be refused.
        updates["invalid_tool_calls"] = []
    if not known and unknown:
        updates["content"] = unknown_tool.format(names=", ".join(sorted(set(unknown))))
    elif not known and reply.invalid_tool_calls:
        names = sorted({call.get("name") or "unnamed" for call in reply.invalid_tool_calls})
        updates["content"] = invalid_call.format(names=", ".join(names))
    if updates == {"content": reply.content, "tool_calls": reply.tool_calls}:
        return reply
    if len(known) < len(reply.tool_calls) or "invalid_tool_calls" in updates:
        # langchain-openai sends the raw calls kept here when `tool_calls` is empty; a call left in the
        # history without a result makes the next request fail.
        extra = {k: v for k, v in reply.additional_kwargs.items() if k != "tool_calls"}
        updates["additional_kwargs"] = extra
    return reply.model_copy(update=updates)


def is_empty(reply: AIMessage) -> bool:
    """Returns whether a reply says nothing and asks for nothing (small models do this after a tool result)."""
    return not reply.tool_calls and not reply.invalid_tool_calls and not reply.text.strip()

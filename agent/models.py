"""Chat model selection (`offline`, `openai:<model>`, `auto`) and retries of failing model calls."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import Runnable

from agent.settings import get_settings

DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
OPENAI_TIMEOUT_SECONDS = 60.0
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


@lru_cache(maxsize=8)
def _build_chat_model(resolved: str) -> BaseChatModel:
    if resolved == "offline":
        try:
            from agent.offline import OfflineChatModel  # noqa: PLC0415 - loads the embedding model
        except ImportError as error:
            raise ModelUnavailable(f"The offline model cannot be loaded: {error}") from error
        return OfflineChatModel()
    settings = get_settings()
    if not settings.openai_api_key:
        raise ModelUnavailable(
            f"{resolved} needs OPENAI_API_KEY (any value for a local OpenAI-compatible server)."
        )
    from langchain_openai import ChatOpenAI  # noqa: PLC0415 - slow import, only for the LLM path

    return ChatOpenAI(
        model=resolved.removeprefix("openai:"),
        # Passed explicitly: a key kept in .env is in the settings but not in the process environment.
        api_key=settings.openai_api_key,
        base_url=settings.openai_base_url or None,
        timeout=OPENAI_TIMEOUT_SECONDS,
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


def invoke_model(
    model: Runnable[Any, BaseMessage], messages: Sequence[BaseMessage], *, failure_message: str
) -> tuple[AIMessage, BaseException | None]:
    """Returns the model's reply, or `failure_message` with the error when every attempt failed."""
    try:
        reply = model.invoke(list(messages))
    except Exception as error:  # noqa: BLE001 - any model failure becomes an answer, not a crash
        return AIMessage(content=failure_message.format(reason=describe_failure(error))), error
    if not isinstance(reply, AIMessage):
        reply = AIMessage(content=str(reply.content))
    return reply, None

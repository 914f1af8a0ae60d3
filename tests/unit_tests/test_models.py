"""Chat model selection and retries."""

from __future__ import annotations

import httpx
import pytest
from langchain_core.messages import AIMessage, HumanMessage

from agent.models import (
    ModelUnavailable,
    describe_failure,
    invoke_model,
    is_context_overflow,
    is_transient,
    load_chat_model,
    resolve_model_name,
    with_model_retries,
)
from agent.settings import get_settings
from prompts.agent import CONTEXT_TOO_LONG, MODEL_UNAVAILABLE
from tests.unit_tests.agent_fakes import ScriptedChatModel, answer


def test_auto_means_offline_without_a_key_and_openai_with_one(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_model_name("auto") == "offline"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    get_settings.cache_clear()
    assert resolve_model_name("auto") == "openai:gpt-4o-mini"
    assert resolve_model_name("offline") == "offline"
    assert resolve_model_name("openai:gpt-4.1") == "openai:gpt-4.1"


def test_unknown_model_names_are_refused() -> None:
    with pytest.raises(ModelUnavailable, match="Unknown model 'claude'"):
        load_chat_model("claude")


def test_openai_models_use_the_configured_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    get_settings.cache_clear()
    model = load_chat_model("openai:gpt-test")
    assert type(model).__name__ == "ChatOpenAI"
    assert (model.model_name, model.openai_api_base, model.max_retries) == (
        "gpt-test",
        "http://127.0.0.1:9/v1",
        0,
    )


def test_offline_model_loads_or_says_why() -> None:
    try:
        model = load_chat_model("offline")
    except ModelUnavailable as error:
        assert "offline model cannot be loaded" in str(error)
    else:
        assert type(model).__name__ == "OfflineChatModel"
        assert load_chat_model("offline") is model


class RateLimited(Exception):
    status_code = 429


class BadRequest(Exception):
    status_code = 400


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (TimeoutError("slow"), True),
        (ConnectionError("reset"), True),
        (RateLimited("slow down"), True),
        (type("ServerError", (Exception,), {"status_code": 503})(), True),
        (httpx.ReadTimeout("read timed out"), True),
        (BadRequest("no"), False),
        (ValueError("bug"), False),
    ],
)
def test_which_failures_are_retried(error: Exception, transient: bool) -> None:
    assert is_transient(error) is transient


def test_retries_back_off_then_succeed() -> None:
    model = ScriptedChatModel(script=[RateLimited("slow down"), TimeoutError("slow"), answer("ok")])
    reply, error = invoke_model(
        with_model_retries(model, attempts=3, wait_seconds=0),
        [HumanMessage("hi")],
        failure_message=MODEL_UNAVAILABLE,
    )
    assert (reply.text, error, len(model.seen)) == ("ok", None, 3)


def test_exhausted_retries_become_a_clear_answer() -> None:
    model = ScriptedChatModel(script=[RateLimited("slow down")] * 2)
    reply, error = invoke_model(
        with_model_retries(model, attempts=2, wait_seconds=0),
        [HumanMessage("hi")],
        failure_message=MODEL_UNAVAILABLE,
    )
    assert isinstance(reply, AIMessage) and isinstance(error, RateLimited)
    assert (
        reply.text
        == "The model is unavailable right now (RateLimited: slow down); your question is kept — try again."
    )
    assert describe_failure(TimeoutError()) == "TimeoutError"


def test_openai_without_a_key_says_what_is_missing() -> None:
    with pytest.raises(ModelUnavailable, match="needs OPENAI_API_KEY"):
        load_chat_model("openai:gpt-nokey")


class ContextTooLong(Exception):
    """Shaped like openai.BadRequestError for an over-long conversation: it carries a `code`."""

    code = "context_length_exceeded"


def test_a_conversation_too_long_for_the_model_is_said_so_not_called_an_outage() -> None:
    assert is_context_overflow(ContextTooLong("Error code: 400"))
    assert is_context_overflow(
        ValueError("the request exceeds the available context size, try increasing it")
    )
    assert not is_context_overflow(TimeoutError("read timed out"))
    model = ScriptedChatModel(script=[ContextTooLong("This model's maximum context length is 8192 tokens")])
    reply, error = invoke_model(
        with_model_retries(model, attempts=3, wait_seconds=0),
        [HumanMessage("hi")],
        failure_message=MODEL_UNAVAILABLE,
        too_long_message=CONTEXT_TOO_LONG,
    )
    assert isinstance(error, ContextTooLong) and len(model.seen) == 1
    assert reply.text.startswith("This conversation no longer fits the model's context window")
    assert "unavailable" not in reply.text

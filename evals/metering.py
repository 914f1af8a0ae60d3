"""Counting model calls while a case runs: a callback every chat model in the process reports to.

Input tokens are estimated locally with `count_tokens_approximately` (about four characters a token,
plus the tool schemas), never with a tokenizer download.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.messages.utils import count_tokens_approximately
from langchain_core.outputs import LLMResult
from langchain_core.tracers.context import register_configure_hook


class ModelMeter(BaseCallbackHandler):
    """Counts chat model calls and estimates their input tokens (messages plus tool schemas, ~4 chars a token)."""

    def __init__(self) -> None:
        """Starts at zero."""
        self.calls = 0
        self.input_tokens = 0
        self.served_input_tokens = 0
        self.output_tokens = 0

    def on_chat_model_start(
        self, serialized: dict[str, Any], messages: list[list[BaseMessage]], **kwargs: Any
    ) -> None:
        """Counts one call per batch of messages."""
        tools = (kwargs.get("invocation_params") or {}).get("tools")
        for batch in messages:
            self.calls += 1
            self.input_tokens += count_tokens_approximately(batch, tools=tools)

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        """Adds the tokens the model server says it read and wrote (real servers report `usage`)."""
        for generations in response.generations:
            for generation in generations:
                usage = getattr(getattr(generation, "message", None), "usage_metadata", None) or {}
                self.served_input_tokens += usage.get("input_tokens", 0)
                self.output_tokens += usage.get("output_tokens", 0)


_active_meter: ContextVar[ModelMeter | None] = ContextVar("incident_copilot_eval_meter", default=None)
# Every chat model run configured while the variable is set reports to the meter, without the runner
# having to thread callbacks through the agent's own calls.
register_configure_hook(_active_meter, inheritable=True)


@contextlib.contextmanager
def metered() -> Iterator[ModelMeter]:
    """Yields a meter that every chat model call inside the block reports to."""
    meter = ModelMeter()
    token = _active_meter.set(meter)
    try:
        yield meter
    finally:
        _active_meter.reset(token)

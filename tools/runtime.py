"""What a tool reads from its run: the context, the graph state, the store's index and the drafting model.

Every tool returns a JSON object (the tool contract in DEVELOPERS.md). A tool may raise a domain error
(`agent.incidents.exceptions`); the graph's ToolNode turns any exception into `{"error": ...}` through
`tools.errors.tool_error_content`, so nothing raises into the graph.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from langchain_core.messages import HumanMessage
from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel
from sqlalchemy.orm import Session

from agent.context import Context
from agent.incidents import service
from agent.incidents.exceptions import InvalidInput
from agent.incidents.models import Incident
from agent.models import load_drafting_model
from agent.normalize import parse_incident_ref
from agent.search.index import IncidentIndex, open_index

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langgraph.prebuilt import ToolRuntime

_OPEN_LOCK = threading.Lock()
"""Parallel tool calls run in threads; Chroma must open once per data folder."""


def agent_tool(args_schema: type[BaseModel]) -> Callable[[Callable[..., Any]], BaseTool]:
    """Returns a decorator making a function a tool: its name, its docstring as the model sees it."""

    def wrap(func: Callable[..., Any]) -> BaseTool:
        return StructuredTool.from_function(
            func,
            name=func.__name__,
            description=inspect.cleandoc(func.__doc__ or ""),
            args_schema=args_schema,
        )

    return wrap


# --- what a tool reads from the run ------------------------------------------------------------------


def context_of(runtime: ToolRuntime) -> Context:
    """Returns the run's context (defaults from the environment when the caller gave none)."""
    context = runtime.context
    return context if isinstance(context, Context) else Context()


def state_value(runtime: ToolRuntime, name: str) -> Any:
    """Returns one field of the graph state, whether the state arrives as a dataclass or a dict."""
    state = runtime.state
    return state.get(name) if isinstance(state, dict) else getattr(state, name, None)


def latest_human_text(runtime: ToolRuntime) -> str:
    """Returns the text of the latest message from the person talking to the agent."""
    for message in reversed(state_value(runtime, "messages") or []):
        if isinstance(message, HumanMessage):
            return message.text
    return ""


@lru_cache(maxsize=4)
def _open_index(data_dir: str) -> IncidentIndex:
    return open_index(Context(data_dir=data_dir).settings())


def index_for(context: Context) -> IncidentIndex:
    """Returns the search index of the context's data folder, opened once per process."""
    with _OPEN_LOCK:
        return _open_index(context.data_dir)


def drafting_model(context: Context) -> BaseChatModel | None:
    """Returns the model that writes summaries and postmortem sections; None means extract them offline."""
    # An injected chat model (tests, evals) drives the conversation only; the prose is then extracted.
    return None if context.chat_model is not None else load_drafting_model(context.model)


def resolve_incident(db_session: Session, reference: str | None, runtime: ToolRuntime) -> Incident:
    """Returns the incident a reference names; empty or "this incident" means the incident in focus.

    Private incidents are shown only in their own channel. Being in focus is not enough: naming an
    incident puts it in focus anywhere.
    """
    focus = state_value(runtime, "focus_incident")
    number = parse_incident_ref(reference or "this incident", focus=focus)
    incident = service.get_or_raise(db_session=db_session, incident_id=number)
    if incident.private and not _is_own_channel(incident, runtime):
        raise InvalidInput(f"{incident.public_id} is private; ask about it in its own channel.")
    return incident


def _is_own_channel(incident: Incident, runtime: ToolRuntime) -> bool:
    channel_id = state_value(runtime, "channel_id")
    if channel_id and incident.slack_channel_id:
        return bool(channel_id == incident.slack_channel_id)
    channel = state_value(runtime, "channel")
    return bool(channel) and channel == incident.slack_channel_name

"""State of the agent graph: the conversation, where it happens, who asks, and the incident in focus."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated

from langchain_core.messages import AnyMessage
from langgraph.graph import add_messages
from langgraph.managed import RemainingSteps


def latest(_current: int | None, new: int | None) -> int | None:
    """Returns the newer of two values written to the same key in one step."""
    return new


@dataclass
class InputState:
    """What a caller sends: the new messages and where they come from."""

    messages: Annotated[Sequence[AnyMessage], add_messages] = field(default_factory=list)
    """The conversation; new messages are appended, or replace those with the same id."""

    channel: str | None = None
    """Name of the Slack channel the conversation is in (e.g. `incident-123-checkout`), if any."""

    channel_id: str | None = None
    """Slack id of that channel, which finds its incident even after a rename."""

    user: str | None = None
    """Who is asking: a Slack user id or name, or the terminal user."""


@dataclass
class State(InputState):
    """The full state of a conversation."""

    remaining_steps: RemainingSteps = field(default=25)
    """Steps the recursion limit still allows, set by LangGraph, so the agent can stop politely.

    Counted rather than `IsLastStep`: with the `prepare` node first, the last step can fall on the tools
    node, too late to answer.
    """

    focus_incident: Annotated[int | None, latest] = None
    """Number of the incident "this incident" means: the channel's incident, else the last one discussed.

    Tool calls made in one step (two incidents looked at side by side) may each set it; the last wins.
    """

"""`AgentRunner`: one call is one turn of a conversation; the CLI, Slack and the evals use it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal, Required, TypedDict

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    AnyMessage,
    BaseMessage,
    HumanMessage,
    RemoveMessage,
    ToolMessage,
)
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph.message import REMOVE_ALL_MESSAGES
from langgraph.types import Command

from agent.context import Context
from agent.graph import builder
from agent.incidents.exceptions import InvalidInput
from agent.interpretation import Interpretation, interpret
from agent.normalize import find_incident_refs

RECURSION_LIMIT = 16
"""Graph steps per turn: room for about six rounds of tool calls before the agent says it must stop."""


@dataclass(frozen=True)
class TurnEvent:
    """Something a turn did while it ran, for front ends that show progress (Slack's status line, streams).

    Plain data, so that it crosses from an agent worker process to the one talking to Slack.
    """

    kind: Literal["tool", "text"]
    """`tool`: the agent is about to call the tool named in `value`; `text`: `value` is more of an answer."""
    value: str


Progress = Callable[[TurnEvent], None]


class TurnOptions(TypedDict, total=False):
    """The keyword arguments of `AgentRunner.ask` after the question; every runner takes the same."""

    thread_id: Required[str]
    channel: str | None
    channel_id: str | None
    user: Required[str]
    now: datetime | None
    history: list[BaseMessage] | None
    progress: Progress | None
    """Told what the turn does as it does it (tools called, answer text as it is written)."""


@dataclass(frozen=True)
class PendingConfirmation:
    """A change waiting for confirmation: the payload of the write tool's interrupt."""

    action: str
    incident: str | None
    summary: str
    changes: dict[str, list[Any]]
    requested_by: str | None

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> PendingConfirmation:
        """Returns the confirmation an interrupt payload describes."""
        return cls(
            action=str(payload.get("action", "")),
            incident=payload.get("incident"),
            summary=str(payload.get("summary", "")),
            changes=dict(payload.get("changes") or {}),
            requested_by=payload.get("requested_by"),
        )

    def to_dict(self) -> dict[str, Any]:
        """Returns the payload as JSON-ready values."""
        return {
            "action": self.action,
            "incident": self.incident,
            "summary": self.summary,
            "changes": self.changes,
            "requested_by": self.requested_by,
        }


@dataclass(frozen=True)
class AgentReply:
    """What one turn produced."""

    answer: str
    """The text to show; while a change waits for confirmation, what will change."""

    tool_calls: list[dict[str, Any]]
    """Every tool call of the turn, in order, as `{"name", "args"}`."""

    incidents: list[str]
    """Public ids the answer refers to, in the order the tools ranked them."""

    pending: PendingConfirmation | None = None
    """The change waiting for confirmation, if any; answer it with `AgentRunner.resume`."""

    decided_by: str | None = None
    """What decided the offline model's reading of the question (`rule:<name>`, `similarity`); None for
    other models."""

    tool_results: list[dict[str, Any]] = field(default_factory=list)
    """Every tool result of the turn, in order, as `{"name", "result"}` (the parsed JSON), for front ends
    that show more than the answer (Slack uploads a drafted postmortem as a file)."""

    @property
    def interpretation(self) -> Interpretation:
        """Returns how the question was read, from the turn's tool calls and results."""
        return interpret(self.tool_calls, self.tool_results)

    def to_dict(self) -> dict[str, Any]:
        """Returns the CLI's `--json` object; `pending` only when a change waits."""
        result: dict[str, Any] = {
            "answer": self.answer,
            "tool_calls": self.tool_calls,
            "incidents": self.incidents,
            "interpretation": self.interpretation.model_dump() | {"line": self.interpretation.line()},
        }
        if self.pending is not None:
            result["pending"] = self.pending.to_dict()
        return result


def _result_incidents(content: str) -> list[str]:
    """Returns the public ids a tool result lists, in its order (briefs, then named incidents)."""
    try:
        payload = json.loads(content)
    except (json.JSONDecodeError, TypeError):
        return []
    found: list[str] = []

    def visit(value: Any) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("id"), str):
                found.append(value["id"])
            if isinstance(value.get("incident"), str):
                found.append(value["incident"])
            for key, child in value.items():
                if key != "focus" and isinstance(child, dict | list):
                    visit(child)
        elif isinstance(value, list):
            for child in value:
                visit(child)

    visit(payload)
    return [public_id for public_id in found if public_id.startswith("incident-")]


def referenced_incidents(answer: str, turn: list[AnyMessage]) -> list[str]:
    """Returns the incidents the answer mentions, ranked as this turn's tool results ranked them."""
    mentioned = [f"incident-{number}" for number in find_incident_refs(answer)]
    ranked = [
        public_id
        for message in turn
        if isinstance(message, ToolMessage)
        for public_id in _result_incidents(message.text)
        if public_id in mentioned
    ]
    return list(dict.fromkeys([*ranked, *mentioned]))


class AgentRunner:
    """Runs turns of the agent graph on threads kept by a checkpointer."""

    def __init__(
        self,
        context: Context | None = None,
        *,
        checkpointer: BaseCheckpointSaver[Any] | None = None,
        model: str | BaseChatModel | None = None,
    ) -> None:
        """Compiles the graph.

        Args:
            context: Defaults of every turn; the environment's when None.
            checkpointer: Keeps threads between turns; in memory when None (Slack passes a durable one).
            model: A model name or object overriding the context's.
        """
        base = context or Context()
        if isinstance(model, str):
            base = replace(base, model=model)
        elif model is not None:
            base = replace(base, chat_model=model)
        self.context = base
        self.graph = builder.compile(checkpointer=checkpointer or InMemorySaver())

    @staticmethod
    def _config(thread_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": thread_id}, "recursion_limit": RECURSION_LIMIT}

    def ask(
        self,
        question: str,
        *,
        thread_id: str,
        channel: str | None = None,
        channel_id: str | None = None,
        user: str,
        now: datetime | None = None,
        history: list[BaseMessage] | None = None,
        progress: Progress | None = None,
    ) -> AgentReply:
        """Answers one question on a thread.

        Args:
            question: What the person asked.
            thread_id: The conversation; earlier turns on it are remembered.
            channel: Slack channel name, which may put an incident in focus.
            channel_id: Slack channel id.
            user: Who asks; writes are checked and audited against them.
            now: The clock of this turn; the context's when None.
            history: The conversation so far, replacing what the thread remembers (Slack threads).
            progress: Called with each tool the agent is about to call and with answer text as the model
                writes it (token by token from a streaming model, whole from the offline one).
        """
        context = replace(self.context, now=now) if now is not None else self.context
        messages: list[BaseMessage] = [HumanMessage(content=question)]
        if history is not None:
            messages = [RemoveMessage(id=REMOVE_ALL_MESSAGES), *history, *messages]
        turn_input = {"messages": messages, "channel": channel, "channel_id": channel_id, "user": user}
        config = self._config(thread_id)
        if progress is None:
            return self._reply(self.graph.invoke(turn_input, config, context=context))
        return self._reply(self._streamed(turn_input, config, context, progress))

    def _streamed(
        self, turn_input: dict[str, Any], config: dict[str, Any], context: Context, progress: Progress
    ) -> dict[str, Any]:
        """Runs a turn reporting its progress; returns what `invoke` would (the state and its interrupts)."""
        for mode, chunk in self.graph.stream(
            turn_input, config, context=context, stream_mode=["messages", "updates"]
        ):
            if mode == "messages":
                message, metadata = chunk
                if (metadata or {}).get("langgraph_node") != "call_model":
                    # A model called inside a tool (the drafting model of a summary) is not the answer.
                    continue
                # Text of answers only: a message that calls tools says nothing to the person yet.
                is_answer = isinstance(message, AIMessageChunk | AIMessage) and not (
                    message.tool_calls or getattr(message, "tool_call_chunks", None)
                )
                if is_answer and message.text:
                    progress(TurnEvent(kind="text", value=message.text))
            elif isinstance(chunk, dict):
                for update in chunk.values():
                    for message in (update or {}).get("messages", []) if isinstance(update, dict) else []:
                        for call in getattr(message, "tool_calls", None) or []:
                            progress(TurnEvent(kind="tool", value=str(call["name"])))
        state = self.graph.get_state(config)
        return {**state.values, "__interrupt__": list(state.interrupts)}

    def resume(
        self, thread_id: str, *, confirmed: bool, user: str, now: datetime | None = None
    ) -> AgentReply:
        """Answers the change waiting on a thread and finishes the turn.

        Args:
            thread_id: The conversation whose change waits.
            confirmed: Whether the change is confirmed.
            user: Who answered; the change is applied only if they may make it, and audited as theirs.
            now: The clock of the rest of the turn; the runner's context's when None.

        Raises:
            InvalidInput: when nothing waits for confirmation on that thread.
        """
        config = self._config(thread_id)
        waiting = self.graph.get_state(config).interrupts
        if not waiting:
            raise InvalidInput("Nothing is waiting for confirmation in this conversation.")
        decision = {"confirmed": confirmed, "user": user}
        # Several changes proposed at once all get the same answer.
        resume: Any = decision if len(waiting) == 1 else {item.id: decision for item in waiting}
        context = replace(self.context, now=now) if now is not None else self.context
        result = self.graph.invoke(Command(resume=resume), config, context=context)
        return self._reply(result)

    @staticmethod
    def _reply(result: dict[str, Any]) -> AgentReply:
        messages: list[AnyMessage] = list(result.get("messages", []))
        start = max((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=-1)
        turn = messages[start + 1 :]
        tool_calls = [
            {"name": call["name"], "args": call["args"]}
            for message in turn
            if isinstance(message, AIMessage)
            for call in message.tool_calls
        ]
        interrupts = result.get("__interrupt__") or []
        pending = PendingConfirmation.from_payload(interrupts[0].value) if interrupts else None
        if pending is not None:
            answer = pending.summary
        else:
            answers = [m for m in turn if isinstance(m, AIMessage) and not m.tool_calls]
            answer = answers[-1].text if answers else ""
        decided = [
            m.response_metadata["decided_by"]
            for m in turn
            if isinstance(m, AIMessage) and "decided_by" in (m.response_metadata or {})
        ]
        return AgentReply(
            answer=answer,
            decided_by=decided[0] if decided else None,
            tool_calls=tool_calls,
            incidents=referenced_incidents(answer, turn),
            pending=pending,
            tool_results=[
                {"name": message.name, "result": _parsed(message.text)}
                for message in turn
                if isinstance(message, ToolMessage)
            ],
        )


def _parsed(content: str) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        return content

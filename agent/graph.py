"""The Incident Copilot agent: prepare the turn, call the model, run the tools it asks for, repeat.

`builder` is the uncompiled graph: the runner compiles it with a checkpointer, and the top-level
`graph.py` compiles it without one for Studio / `langgraph dev`, which brings its own persistence.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Literal

from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    BaseMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.utils import count_tokens_approximately, trim_messages
from langgraph.graph import StateGraph
from langgraph.prebuilt import ToolNode
from langgraph.runtime import Runtime

from agent.context import Context
from agent.db import session_for
from agent.incidents import service
from agent.lexicon import asker_words
from agent.models import (
    ModelUnavailable,
    checked_reply,
    invoke_model,
    is_empty,
    load_chat_model,
    with_model_retries,
)
from agent.normalize import channel_incident_number, find_incident_refs
from agent.serialize import iso
from agent.state import InputState, State
from prompts.agent import (
    CONTEXT_TOO_LONG,
    EMPTY_ANSWER,
    INVALID_TOOL_CALL,
    LAST_STEP_ANSWER,
    MODEL_UNAVAILABLE,
    NOT_CONFIRMED,
    SYSTEM_PROMPT,
    UNKNOWN_TOOL,
)
from tools import TOOLS
from tools.errors import tool_error_content
from tools.results import compact_result

logger = logging.getLogger(__name__)

TOOL_NAMES = frozenset(tool.name for tool in TOOLS)


# --- prepare -----------------------------------------------------------------------------------------


def _single_ref(message: BaseMessage) -> int | None | Literal[False]:
    """Returns the one incident a message names, None when it names several, False when none."""
    # An incident named only inside quoted or pasted text (a customer's email, the assistant's own
    # 'for example "incident-123"') is not the one talked about.
    refs = find_incident_refs(asker_words(message.text))
    if not refs:
        return False
    return refs[0] if len(refs) == 1 else None


def resolve_focus(state: State, context: Context) -> int | None:
    """Returns the incident in focus: the channel's incident, else the last single incident discussed."""
    if state.channel or state.channel_id:
        with session_for(context.database_url) as db_session:
            linked = service.get_by_channel(
                db_session=db_session, channel_id=state.channel_id, channel_name=state.channel
            )
        if linked is not None:
            return linked.id
        number = channel_incident_number(state.channel, context.settings().incident_channel_prefix)
        if number is not None:
            return number
    conversation = [m for m in state.messages if isinstance(m, HumanMessage | AIMessage)]
    if conversation and isinstance(conversation[-1], HumanMessage):
        named = _single_ref(conversation[-1])
        if named:
            return named
    if state.focus_incident is not None:
        return state.focus_incident
    # A conversation passed in as history (Slack threads) has no focus yet: take the latest mention.
    for message in reversed(conversation):
        named = _single_ref(message)
        if named is not False:
            return named
    return None


def close_abandoned_calls(messages: Sequence[AnyMessage]) -> list[AIMessage]:
    """Returns replacements for model messages whose tool calls never got a result.

    That happens when a new question arrives while a change waits for confirmation; the change is
    dropped (never applied) and the request removed, since models reject unanswered tool calls.
    """
    answered = {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}
    replacements = []
    for message in messages:
        if isinstance(message, AIMessage) and message.tool_calls:
            kept = [call for call in message.tool_calls if call["id"] in answered]
            if len(kept) < len(message.tool_calls):
                content = message.content or NOT_CONFIRMED
                replacements.append(message.model_copy(update={"tool_calls": kept, "content": content}))
    return replacements


def trim_history(messages: Sequence[AnyMessage], max_tokens: int) -> list[AnyMessage]:
    """Returns the messages to keep: the current turn always, then the latest earlier turns that fit.

    Tokens are counted locally (about 4 characters a token); earlier turns are kept whole, starting at
    a question, so no tool call is separated from its result. When they do not all fit, their tool
    results are compacted (`compact_result`: which incidents, not their texts) before any turn is
    dropped: "ok then declare one" still knows what the question before it searched for.
    """
    last_question = max((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=0)
    current = list(messages[last_question:])
    budget = max_tokens - count_tokens_approximately(current)
    if budget <= 0 or last_question == 0:
        return current
    earlier = list(messages[:last_question])
    kept = _latest_turns(earlier, budget)
    if len(kept) < len(earlier):
        compacted = _latest_turns([_compacted(message) for message in earlier], budget)
        kept = compacted if len(compacted) > len(kept) else kept
    return [*kept, *current]


def _latest_turns(messages: list[AnyMessage], budget: int) -> list[AnyMessage]:
    return trim_messages(
        messages,
        max_tokens=budget,
        token_counter=count_tokens_approximately,
        strategy="last",
        start_on="human",
        allow_partial=False,
    )


def _compacted(message: AnyMessage) -> AnyMessage:
    if not isinstance(message, ToolMessage) or not isinstance(message.content, str):
        return message
    content = compact_result(message.content)
    return message if content == message.content else message.model_copy(update={"content": content})


def prepare(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Resolve the incident in focus and keep the conversation within its token budget."""
    context = runtime.context or Context()
    closed = close_abandoned_calls(state.messages)
    replaced = {m.id: m for m in closed}
    messages = [replaced.get(m.id, m) for m in state.messages]
    trimmed = trim_history(messages, context.max_history_tokens)
    kept_ids = {m.id for m in trimmed}
    originals = {id(m) for m in messages}
    # A compacted tool result replaces its original (same id); trimming is permanent, as dropping is.
    compacted = [m for m in trimmed if id(m) not in originals]
    removed = [RemoveMessage(id=m.id) for m in messages if m.id and m.id not in kept_ids]
    return {"focus_incident": resolve_focus(state, context), "messages": [*closed, *compacted, *removed]}


# --- model -------------------------------------------------------------------------------------------


def system_prompt(state: State, context: Context) -> str:
    """Returns the system prompt with the turn's clock, channel, focus and asker."""
    return SYSTEM_PROMPT.format(
        now=iso(context.clock()),
        channel=state.channel or "none",
        focus=f"incident-{state.focus_incident}" if state.focus_incident is not None else "none",
        user=state.user or "none",
    )


def _with_retries(model: Any, context: Context) -> Any:
    """Returns `model` retrying timeouts, rate limits and server errors as the context says."""
    return with_model_retries(
        model, attempts=context.model_attempts, wait_seconds=context.model_retry_wait_seconds
    )


def call_model(state: State, runtime: Runtime[Context]) -> dict[str, list[AIMessage]]:
    """Ask the model for the next step: tool calls, or the answer."""
    context = runtime.context or Context()
    try:
        model = context.chat_model or load_chat_model(context.model)
    except ModelUnavailable as error:
        return {"messages": [AIMessage(content=MODEL_UNAVAILABLE.format(reason=error))]}
    messages = [SystemMessage(content=system_prompt(state, context)), *state.messages]
    reply, error = invoke_model(
        _with_retries(model.bind_tools(TOOLS), context),
        messages,
        failure_message=MODEL_UNAVAILABLE,
        too_long_message=CONTEXT_TOO_LONG,
    )
    if error is None and is_empty(reply):
        # Small models sometimes answer a tool result with nothing at all: ask once more, for text only.
        logger.warning("the model returned an empty reply; asking again for a text answer")
        reply, error = invoke_model(
            _with_retries(model.bind_tools(TOOLS, tool_choice="none"), context),
            messages,
            failure_message=MODEL_UNAVAILABLE,
            too_long_message=CONTEXT_TOO_LONG,
        )
        if error is None and is_empty(reply):
            reply = AIMessage(id=reply.id, content=EMPTY_ANSWER)
    if error is not None:
        logger.warning("model call failed after retries: %r", error)
    else:
        checked = checked_reply(
            reply, tool_names=TOOL_NAMES, invalid_call=INVALID_TOOL_CALL, unknown_tool=UNKNOWN_TOOL
        )
        if checked is not reply:
            logger.warning(
                "model reply repaired: tool calls %s, unreadable calls %s",
                [call["name"] for call in reply.tool_calls],
                [call.get("name") for call in reply.invalid_tool_calls],
            )
        reply = checked
    # Running the tools and then the model again takes two more steps; without them, stop and say so.
    if reply.tool_calls and state.remaining_steps <= 2:
        return {"messages": [AIMessage(id=reply.id, content=LAST_STEP_ANSWER)]}
    return {"messages": [reply]}


def route_model_output(state: State) -> Literal["__end__", "tools"]:
    """Run the tools the model asked for, or end the turn with its answer."""
    last = state.messages[-1]
    if not isinstance(last, AIMessage):
        raise ValueError(f"Expected the model's message last, got {type(last).__name__}")
    return "tools" if last.tool_calls else "__end__"


builder = StateGraph(State, input_schema=InputState, context_schema=Context)
builder.add_node(prepare)
builder.add_node(call_model)
# A tool failure becomes an {"error": ...} result the model can relay; interrupts still pause the graph.
builder.add_node("tools", ToolNode(TOOLS, handle_tool_errors=tool_error_content))
builder.add_edge("__start__", "prepare")
builder.add_edge("prepare", "call_model")
builder.add_conditional_edges("call_model", route_model_output)
builder.add_edge("tools", "call_model")

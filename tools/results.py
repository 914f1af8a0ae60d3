"""Tool results that fit: JSON within the context's size limit, moving the incident in focus."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from langchain_core.messages import ToolMessage
from langgraph.types import Command

from tools.runtime import context_of, state_value

if TYPE_CHECKING:
    from langgraph.prebuilt import ToolRuntime

TRUNCATED_KEY = "truncated"


def _longest_list(value: Any) -> list[Any] | None:
    best: list[Any] | None = None
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            if len(item) > 1 and (best is None or len(json.dumps(item)) > len(json.dumps(best))):
                best = item
            stack.extend(item)
    return best


def _shorten_longest_string(value: Any) -> bool:
    holder: tuple[dict[str, Any] | list[Any], Any] | None = None
    longest = 0
    stack = [value]
    while stack:
        item = stack.pop()
        pairs = item.items() if isinstance(item, dict) else enumerate(item) if isinstance(item, list) else ()
        for key, child in pairs:
            if isinstance(child, str) and len(child) > max(longest, 40):
                holder, longest = (item, key), len(child)
            elif isinstance(child, dict | list):
                stack.append(child)
    if holder is None:
        return False
    container, key = holder
    container[key] = container[key][: longest // 2] + "…"
    return True


def fit_json(payload: dict[str, Any], max_chars: int) -> str:
    """Returns `payload` as JSON within `max_chars`, dropping the last items of the longest list first.

    The result stays valid JSON (the offline model parses it) and says `"truncated": true` when cut;
    `"shown"` keeps counting the incidents still listed.
    """
    text = json.dumps(payload, ensure_ascii=False, default=str)
    if len(text) <= max_chars:
        return text
    trimmed = json.loads(text)
    trimmed[TRUNCATED_KEY] = True
    while len(text := json.dumps(trimmed, ensure_ascii=False)) > max_chars:
        longest = _longest_list(trimmed)
        if longest is not None:
            longest.pop()
        elif not _shorten_longest_string(trimmed):
            break
        if isinstance(trimmed.get("shown"), int) and isinstance(trimmed.get("incidents"), list):
            trimmed["shown"] = len(trimmed["incidents"])
    return text


COMPACT_TEXT_CHARS = 120
"""Longest text an earlier turn's compacted tool result keeps (a title fits; a root cause does not)."""
# When it was declared tells listed incidents apart in time ("the one before that", "the one on the 16th").
_LISTED_KEYS = frozenset({"id", "title", "severity", "status", "declared_at"})


def compact_result(content: str) -> str:
    """Returns a tool result as an earlier turn keeps it when the whole turn no longer fits the history:
    what it named (incident ids, titles, severities, statuses, counts) without the long texts."""
    try:
        payload = json.loads(content)
    except ValueError:
        return content if len(content) <= COMPACT_TEXT_CHARS else content[:COMPACT_TEXT_CHARS] + "…"
    return json.dumps(_compact(payload), ensure_ascii=False)


def _compact(value: Any, *, listed: bool = False) -> Any:
    if isinstance(value, dict):
        return {
            key: _compact(child)
            for key, child in value.items()
            if (not listed or key in _LISTED_KEYS)
            and not (isinstance(child, str) and len(child) > COMPACT_TEXT_CHARS)
        }
    if isinstance(value, list):
        return [_compact(item, listed=True) for item in value]
    return value


def tool_reply(runtime: ToolRuntime, payload: dict[str, Any], *, focus: int | None = None) -> str | Command:
    """Returns a tool's JSON result, moving the incident in focus to `focus` when it names one."""
    content = fit_json(payload, context_of(runtime).max_tool_result_chars)
    if focus is None or focus == state_value(runtime, "focus_incident"):
        return content
    message = ToolMessage(content=content, tool_call_id=runtime.tool_call_id or "", name=_tool_name(runtime))
    return Command(update={"focus_incident": focus, "messages": [message]})


def _tool_name(runtime: ToolRuntime) -> str | None:
    call_id = runtime.tool_call_id
    for message in reversed(state_value(runtime, "messages") or []):
        for call in getattr(message, "tool_calls", None) or []:
            if call.get("id") == call_id:
                return str(call["name"])
    return None

"""How a question was read, from the tool calls the agent made and what they returned.

Every front door shows it (the terminal under the answer, `--json` as `"interpretation"`, Slack as a
context line), so a misreading is visible instead of silent. It is built from the calls themselves,
so it says the same for the offline model and for a real one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field


class Interpretation(BaseModel):
    """What the agent did with a question: the tool, the filters and window it used, what it found."""

    tool: str | None = None
    filters: dict[str, Any] = Field(default_factory=dict)
    window: str | None = None
    found: int | None = None
    relaxed: str | None = None
    """A text filter that matched nothing and was left out."""
    note: str | None = None

    def line(self) -> str:
        """Returns the one-line reading: `Read as: stable · all time · 2 incidents`."""
        if self.tool is None:
            return "Read as: no lookup (answered directly)"
        parts = [
            (f"{key} " if key in {"not", "among"} else "")
            + (str(value) if not isinstance(value, list) else " or ".join(map(str, value)))
            for key, value in self.filters.items()
        ]
        if self.window != "":
            parts.append(self.window or "all time")
        if self.found is not None:
            parts.append(f"{self.found} incident{'s' if self.found != 1 else ''}")
        if self.relaxed:
            parts.append(f'"{self.relaxed}" matched nothing, left out')
        if self.note:
            parts.append(self.note)
        return f"Read as: {self.tool.replace('_', ' ')} · " + " · ".join(parts)


def interpret(
    tool_calls: Sequence[Mapping[str, Any]], tool_results: Sequence[Mapping[str, Any]]
) -> Interpretation:
    """Returns the reading of a turn from its last tool call and that call's result."""
    if not tool_calls:
        return Interpretation()
    call = tool_calls[-1]
    name = str(call.get("name"))
    args = dict(call.get("args") or {})
    result = next((r.get("result") for r in reversed(tool_results) if r.get("name") == name), None)
    result = result if isinstance(result, dict) else {}
    if name == "query_incidents":
        filters = result.get("filters") if isinstance(result.get("filters"), dict) else {}
        frame = filters.get("time_frame") if isinstance(filters.get("time_frame"), dict) else None
        chosen = {
            key: filters.get(key) for key in ("status", "severity", "services", "text") if filters.get(key)
        }
        if filters.get("exclude_services"):
            chosen["not"] = filters["exclude_services"]
        if filters.get("among"):
            chosen["among"] = f"{len(filters['among'])} listed before"
        relaxed = result.get("relaxed") if isinstance(result.get("relaxed"), dict) else {}
        return Interpretation(
            tool=name,
            filters=chosen,
            window=(
                ("resolved " if frame.get("applies_to") == "resolved_at" else "") + str(frame.get("label"))
                if frame
                else None
            ),
            found=result.get("total") if isinstance(result.get("total"), int) else None,
            relaxed=relaxed.get("text"),
        )
    if name == "related_incidents":
        window = result.get("window") if isinstance(result.get("window"), dict) else {}
        about = (
            {"query": args["query"]}
            if args.get("query")
            else {"like": result.get("focus") or args.get("incident")}
        )
        widened = result.get("widened_from")
        return Interpretation(
            tool=name,
            filters={key: value for key, value in about.items() if value},
            window=window.get("label"),
            found=len(result.get("results") or []),
            note=f"nothing {widened}, so all history"
            if widened
            else ("closest weak matches" if result.get("closest") else None),
        )
    incident = args.get("incident") or result.get("id")
    return Interpretation(tool=name, filters={"incident": incident} if incident else {}, window="", note=None)

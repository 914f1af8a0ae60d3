"""The agent's tools, one module each; `TOOLS` is what the model may call (contract in DEVELOPERS.md)."""

from __future__ import annotations

from langchain_core.tools import BaseTool

from tools.declare import declare
from tools.draft_postmortem import draft_postmortem
from tools.get_incident import get_incident
from tools.query_incidents import query_incidents
from tools.related_incidents import related_incidents
from tools.set_status import set_status
from tools.summarize_timeline import summarize_timeline
from tools.update_severity import update_severity

TOOLS: list[BaseTool] = [
    query_incidents,
    get_incident,
    related_incidents,
    declare,
    update_severity,
    set_status,
    summarize_timeline,
    draft_postmortem,
]

WRITE_TOOLS = frozenset({"declare", "update_severity", "set_status"})
"""Tools that change the store; each pauses for confirmation."""

__all__ = ["TOOLS", "WRITE_TOOLS"]

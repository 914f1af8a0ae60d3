"""The `{"error": ...}` result a tool failure becomes, so that nothing raises into the graph."""

from __future__ import annotations

import json
import logging

from agent.incidents.exceptions import IncidentCopilotError

logger = logging.getLogger(__name__)


def tool_error_content(error: Exception) -> str:
    """Returns the `{"error": ...}` result for an exception a tool raised (ToolNode's error handler)."""
    if isinstance(error, IncidentCopilotError):
        message = str(error)
    elif type(error).__name__ == "ToolInvocationError":
        message = f"Invalid arguments: {getattr(error, 'message', error)}".replace("\n", " ")
    else:
        logger.exception("tool failed", exc_info=error)
        message = f"The tool failed unexpectedly ({type(error).__name__}); please try again or rephrase."
    return json.dumps({"error": message}, ensure_ascii=False)

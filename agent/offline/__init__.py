"""The deterministic offline chat model: tool calls and answers without an LLM."""

from agent.offline.model import OfflineChatModel

__all__ = ["OfflineChatModel"]

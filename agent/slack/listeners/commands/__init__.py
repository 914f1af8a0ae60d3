"""Slash commands: `/incident`."""

from __future__ import annotations

from slack_bolt import App

from agent.slack.listeners.commands import incident


def register(app: App) -> None:
    """Adds every command listener."""
    incident.register(app)

"""Interactive actions: the Confirm and Cancel buttons of a pending write."""

from __future__ import annotations

from slack_bolt import App

from agent.slack.listeners.actions import confirm


def register(app: App) -> None:
    """Adds every action listener."""
    confirm.register(app)

"""Interactive actions: Confirm / Cancel of a pending write, feedback on answers, the full catch-up."""

from __future__ import annotations

from slack_bolt import App

from agent.slack.listeners.actions import catchup, confirm, feedback


def register(app: App) -> None:
    """Adds every action listener."""
    confirm.register(app)
    feedback.register(app)
    catchup.register(app)

"""Event listeners: mentions, joins, messages and pins."""

from __future__ import annotations

from slack_bolt import App

from agent.slack.listeners.events import app_mentioned, member_joined, messages


def register(app: App) -> None:
    """Adds every event listener."""
    # Bolt tries listeners in registration order: channel messages are by far the most frequent events.
    messages.register(app)
    app_mentioned.register(app)
    member_joined.register(app)

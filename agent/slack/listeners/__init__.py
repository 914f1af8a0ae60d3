"""Every Bolt listener of the app, registered by area."""

from __future__ import annotations

from slack_bolt import App

from agent.slack.listeners import actions, commands, events


def register_listeners(app: App) -> None:
    """Adds every event, action and command listener to the app."""
    events.register(app)
    actions.register(app)
    commands.register(app)

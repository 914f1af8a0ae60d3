"""Every Bolt listener of the app, registered by area."""

from __future__ import annotations

from slack_bolt import App
from slack_bolt.context.assistant.thread_context_store.store import AssistantThreadContextStore

from agent.slack.listeners import actions, assistant, commands, events


def register_listeners(app: App, *, thread_context_store: AssistantThreadContextStore | None = None) -> None:
    """Adds the assistant panel, then every event, action and command listener to the app."""
    # The panel's middleware goes first: it takes the panel's own events and messages, and passes on the rest.
    assistant.register(app, thread_context_store=thread_context_store)
    events.register(app)
    actions.register(app)
    commands.register(app)

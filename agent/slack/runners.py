"""The agent runner that answers Slack, with durable checkpoints so a paused write survives a restart."""

from __future__ import annotations

from agent.checkpoints import durable_checkpointer
from agent.context import Context
from agent.runner import AgentRunner
from agent.settings import Settings
from agent.slack.runtime import Runner


def default_runner(*, settings: Settings, database_url: str) -> Runner:
    """Returns the agent runner for Slack, with a durable checkpointer so a paused write survives a restart.

    Channel membership is Slack's to know, so this layer checks it: whoever asks has posted in the channel,
    and whoever confirms is checked with `conversations.members` before the agent resumes. Under the
    `channel_members` policy the agent is therefore told `anyone`; the `responders` policy it enforces
    itself, on the asker and on the confirmer.
    """
    policy = settings.write_permission
    context = Context(
        model=settings.model,
        source="slack",
        database_url=database_url,
        data_dir=str(settings.data_dir),
        write_permission="anyone" if policy == "channel_members" else policy,
    )
    return AgentRunner(
        context, checkpointer=durable_checkpointer(database_url=database_url, data_dir=settings.data_dir)
    )

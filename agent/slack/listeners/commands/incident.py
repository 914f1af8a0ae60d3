"""`/incident`: the agent's common questions and changes for people who do not know what to type.

Arguments are checked here first (a misspelt severity is answered at once, with the accepted forms), then
the command is put to the agent as the plain question it stands for, so answers and confirmations are the
same as for a mention. Answers are shown only to the person who typed the command; a confirmation request
is posted to the channel, because someone else may be the one to confirm it.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from agent.incidents.exceptions import IncidentCopilotError, InvalidInput
from agent.normalize import find_incident_refs, parse_severity, parse_status
from agent.slack.blocks import HELP_TEXT, help_blocks
from agent.slack.runtime import SlackRuntime, runtime_of
from agent.slack.turns import answer_message, ask, error_sentence, post_reply
from agent.time_windows import parse_window_argument

logger = logging.getLogger(__name__)

COMMAND = "/incident"


@dataclass(frozen=True)
class AgentCommand:
    """A subcommand turned into the question it stands for."""

    question: str
    label: str
    time_frame: str | None = None
    """A time frame to check before asking (checked after the ack: the date parser is slow to load)."""


def register(app: App) -> None:
    """Adds the `/incident` command listener."""
    app.command(COMMAND)(handle_incident_command)


def handle_incident_command(
    ack: Ack, command: dict[str, Any], context: BoltContext, client: WebClient, respond: Respond
) -> None:
    """Answers `help` and argument errors in the acknowledgement, and hands the rest to the agent."""
    try:
        parsed = parse_command((command.get("text") or "").strip())
    except IncidentCopilotError as error:
        ack(text=f":warning: {error}", response_type="ephemeral")
        return
    if parsed is None:
        ack(text=HELP_TEXT, blocks=help_blocks(), response_type="ephemeral")
        return
    ack(text=f"Working on `{COMMAND} {parsed.label}`…", response_type="ephemeral")
    runtime = runtime_of(context)
    runtime.submit(run_command, runtime, respond, command, parsed)


def parse_command(text: str) -> AgentCommand | None:
    """Returns the question a `/incident` command stands for, None for help; raises InvalidInput when wrong.

    Args:
        text: What followed `/incident`, e.g. `severity sev1 incident-12`.
    """
    name, _, rest = text.partition(" ")
    name, rest = name.lower(), rest.strip()
    refs = find_incident_refs(rest)
    target = f"incident-{refs[0]}" if refs else "this incident"
    if name in {"", "help", "?"}:
        return None
    if name in {"summary", "catchup", "catch-up"}:
        return AgentCommand(f"Give me a summary of {target}", text)
    if name == "related":
        if rest and not refs:
            phrase = (
                rest
                if rest.split()[0].lower() in {"in", "since", "from", "during", "over", "within"}
                else f"in the {rest}"
            )
            return AgentCommand(f"Are there any related incidents {phrase}?", text, time_frame=rest)
        return AgentCommand(f"Are there any incidents related to {target}?", text)
    if name == "declare":
        if not rest:
            raise InvalidInput(
                f"Say what is happening: `{COMMAND} declare Checkout failing for EU customers sev2`."
            )
        return AgentCommand(f"Declare an incident: {rest}", text)
    if name in {"severity", "sev"}:
        value = _without_refs(rest)
        if not value:
            raise InvalidInput(f"Which severity? `{COMMAND} severity sev2` (SEV-1 is the worst).")
        return AgentCommand(f"Update {target} to {parse_severity(value).value}", text)
    if name == "status":
        value = _without_refs(rest)
        if not value:
            raise InvalidInput(
                f"Which status? `{COMMAND} status stable` (active, stable, resolved, completed)."
            )
        return AgentCommand(f"Mark {target} as {parse_status(value).value}", text)
    raise InvalidInput(f"`{COMMAND} {name}` is not a command I know; try `{COMMAND} help`.")


def _without_refs(text: str) -> str:
    words = [word for word in text.split() if not find_incident_refs(word)]
    return " ".join(words)


def run_command(
    runtime: SlackRuntime, respond: Respond, command: dict[str, Any], parsed: AgentCommand
) -> None:
    """Puts the command's question to the agent; answers and errors go privately to the person who typed it.

    Private answers use the command's `response_url`, which works in any channel, even one the app is not
    in; a confirmation request is posted to the channel, because someone else may confirm it.
    """
    channel_id, user_id = command["channel_id"], command["user_id"]
    thread_id = f"slack:{channel_id}:cmd:{command.get('trigger_id') or uuid.uuid4().hex}"
    try:
        if parsed.time_frame is not None:
            parse_window_argument(parsed.time_frame, runtime.now())
        reply = ask(
            runtime, question=parsed.question, channel_id=channel_id, user_id=user_id, thread_id=thread_id
        )
        if reply.pending is not None:
            post_reply(runtime, reply, channel_id=channel_id, thread_ts=None, thread_id=thread_id)
        else:
            respond(response_type="ephemeral", replace_original=False, **answer_message(runtime, reply))
    except Exception as error:
        if not isinstance(error, IncidentCopilotError):
            logger.exception("%s %s in %s failed", COMMAND, parsed.label, channel_id)
        respond(text=f":warning: {error_sentence(error)}", response_type="ephemeral", replace_original=False)

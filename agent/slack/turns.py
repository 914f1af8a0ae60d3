"""One agent turn from Slack: ask the runner, then post its answer or its confirmation request.

Shared by mentions, the `/incident` command and the confirmation buttons, so that all three answer in the
same shapes and report errors the same way: one short sentence in Slack, the detail in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from langchain_core.messages import BaseMessage
from slack_sdk.errors import SlackApiError

from agent.catchups import service as catchups
from agent.db import session_scope
from agent.feedback import service as feedback
from agent.feedback.models import AnswerCreate
from agent.incidents import service
from agent.incidents.exceptions import IncidentCopilotError
from agent.normalize import find_incident_refs
from agent.postmortems import service as postmortems
from agent.runner import AgentReply, Progress
from agent.serialize import incident_brief
from agent.slack.blocks import Block, answer_blocks, confirmation_blocks, confirmation_text, feedback_block
from agent.slack.runtime import SlackRuntime
from agent.slack.streaming import AnswerStream

logger = logging.getLogger(__name__)

EXCERPT_CHARS = 600
"""How much of a drafted postmortem the thread message quotes."""
GENERIC_ERROR = "Sorry, something went wrong on my side while working on that; it has been logged."
PURGE_EVERY = timedelta(hours=1)
"""How often a replica deletes answers and votes past the retention period (on its next answer)."""


def agent_thread_id(channel_id: str, thread_ts: str, ts: str) -> str:
    """Returns the agent thread of one Slack turn, keyed by channel and thread.

    Slack keeps the conversation, so each turn gets its own agent thread (the thread plus the message being
    answered); the durable checkpoint under it only has to hold that turn's paused write, if any.
    """
    return f"slack:{channel_id}:{thread_ts}:{ts}"


def error_sentence(error: BaseException) -> str:
    """Returns what to tell people about an error: a domain error's own message, else a generic sentence."""
    if isinstance(error, IncidentCopilotError):
        return str(error)
    return GENERIC_ERROR


def post_error(
    runtime: SlackRuntime,
    *,
    channel_id: str,
    thread_ts: str | None,
    error: BaseException,
    key: str,
    event_id: str | None = None,
) -> None:
    """Posts one short sentence about `error` in the thread (never a stack trace); failing to post is logged."""
    try:
        runtime.delivery.send(
            "chat_postMessage",
            key=key,
            event_id=event_id,
            channel=channel_id,
            thread_ts=thread_ts,
            text=f":warning: {error_sentence(error)}",
        )
    except SlackApiError:
        logger.exception("Could not tell channel %s about an error", channel_id)


def ask(
    runtime: SlackRuntime,
    *,
    question: str,
    channel_id: str,
    user_id: str,
    thread_id: str,
    history: list[BaseMessage] | None = None,
    progress: Progress | None = None,
) -> AgentReply:
    """Returns the agent's reply to a question asked in a channel by a person.

    `channel_id` is the channel whose incident "this incident" means: where the question was asked, or, in
    the assistant panel, the channel the person has open. `progress` hears the turn's tool calls and text.
    """
    channel = runtime.directory.channel(channel_id)
    return runtime.runner.ask(
        question,
        thread_id=thread_id,
        channel=channel.name,
        channel_id=channel_id,
        user=runtime.directory.name(user_id),
        now=runtime.now(),
        history=history,
        **({"progress": progress} if progress is not None else {}),
    )


def record_answer(runtime: SlackRuntime, reply: AgentReply, *, question: str) -> int | None:
    """Keeps an answer for feedback and returns its id; None (no buttons) when the store refuses it.

    Only the question, its reading, the tool calls, the answer and the model are kept, for
    `INCIDENT_COPILOT_FEEDBACK_RETENTION_DAYS`; nothing about who asked.
    """
    interpretation = reply.interpretation
    answer_in = AnswerCreate(
        source="slack",
        question=question,
        intent=interpretation.tool or "direct",
        interpretation=interpretation.line(),
        tool_calls=reply.tool_calls,
        answer=reply.answer,
        model=runtime.settings.model,
    )
    now = runtime.now()
    retention = runtime.settings.feedback_retention_days
    try:
        if runtime.purge_due(now, PURGE_EVERY):
            runtime.writer.run(
                lambda session: feedback.purge(db_session=session, now=now, retention_days=retention)
            )
    except Exception:
        logger.exception("Purging expired feedback failed; the answer keeps its buttons")
    numbers = {number for public_id in reply.incidents for number in find_incident_refs(public_id)}
    try:
        if numbers and runtime.writer.run(
            lambda session: any(i.private for i in service.get_many(db_session=session, incident_ids=numbers))
        ):
            # What was said about a private incident stays in its channel: never in the feedback report
            # or the cases exported from it.
            return None
        return runtime.writer.run(
            lambda session: feedback.record_answer(db_session=session, answer_in=answer_in, now=now).id
        )
    except Exception:
        logger.exception("Keeping an answer for feedback failed; it goes out without feedback buttons")
        return None


def remember_catchups(runtime: SlackRuntime, reply: AgentReply, *, user_id: str) -> None:
    """Marks the incidents this turn summarised as caught up on by the asker (for "since last time")."""
    summarised = {
        str(r["result"]["incident"])
        for r in reply.tool_results
        if r["name"] == "summarize_timeline"
        and isinstance(r["result"], dict)
        and isinstance(r["result"].get("incident"), str)
    }
    numbers = {number for public_id in summarised for number in find_incident_refs(public_id)}
    now = runtime.now()
    for number in numbers:
        try:
            runtime.writer.run(
                lambda session, number=number: catchups.mark_seen(
                    db_session=session, user_id=user_id, incident_id=number, now=now
                )
            )
        except Exception:
            # The answer is out already; a lost mark only makes the next catch-up longer.
            logger.exception("Remembering the catch-up of incident-%s failed", number)


def answer_footer(reply: AgentReply, answer_id: int | None) -> list[Block]:
    """Returns what goes under every answer: how the question was read, and the feedback buttons."""
    # How the question was read, so a misreading shows instead of passing silently.
    blocks: list[Block] = [
        {"type": "context", "elements": [{"type": "mrkdwn", "text": reply.interpretation.line()}]}
    ]
    if answer_id is not None:
        blocks.append(feedback_block(answer_id))
    return blocks


def answer_message(
    runtime: SlackRuntime, reply: AgentReply, *, answer_id: int | None = None
) -> dict[str, Any]:
    """Returns `text` and `blocks` for an answer: the answer, then the incidents it names as compact sections.

    The incidents are read fresh from the store (severity, status and age as they are now), and each id
    links to the incident's Slack channel when it has one. With `answer_id`, feedback buttons close it.
    """
    numbers = [number for public_id in reply.incidents for number in find_incident_refs(public_id)]
    briefs: list[dict[str, Any]] = []
    urls: dict[str, str] = {}
    if numbers:
        with session_scope(runtime.engine) as session:
            for incident in service.get_many(db_session=session, incident_ids=numbers):
                briefs.append(incident_brief(incident))
                url = (
                    runtime.directory.permalink(incident.slack_channel_id)
                    if incident.slack_channel_id
                    else None
                )
                if url:
                    urls[incident.public_id] = url
    return {
        "text": reply.answer,
        "blocks": [
            *answer_blocks(reply.answer, incidents=briefs, now=runtime.now(), url_for=urls.get),
            *answer_footer(reply, answer_id),
        ],
    }


def answer_in_thread(
    runtime: SlackRuntime,
    *,
    question: str,
    history: list[BaseMessage],
    channel_id: str,
    thread_ts: str,
    thread_id: str,
    user_id: str,
    team_id: str | None,
    event_id: str | None,
    about_channel_id: str | None = None,
    set_status: Callable[[str], None] | None = None,
) -> None:
    """Answers a question in its thread, as mentions and the assistant panel do: the long answer streamed,
    the reply posted (or its confirmation), and the catch-ups it gave remembered.

    `about_channel_id` is the channel whose incident "this incident" means, when not the thread's own (the
    channel open beside the panel).
    """
    stream = AnswerStream(
        runtime,
        channel_id=channel_id,
        thread_ts=thread_ts,
        key=thread_id,
        user_id=user_id,
        team_id=team_id,
        set_status=set_status,
    )
    reply = ask(
        runtime,
        question=question,
        channel_id=about_channel_id or channel_id,
        user_id=user_id,
        thread_id=thread_id,
        history=history,
        progress=stream,
    )
    post_reply(
        runtime,
        reply,
        channel_id=channel_id,
        thread_ts=thread_ts,
        thread_id=thread_id,
        event_id=event_id,
        question=question,
        stream=stream,
    )
    remember_catchups(runtime, reply, user_id=user_id)


def post_reply(
    runtime: SlackRuntime,
    reply: AgentReply,
    *,
    channel_id: str,
    thread_ts: str | None,
    thread_id: str,
    event_id: str | None = None,
    question: str | None = None,
    stream: AnswerStream | None = None,
) -> None:
    """Posts a reply in the thread: the confirmation request when a write waits, else the answer.

    A reply Slack will not take for now is kept and delivered later (see `agent.slack.delivery`). An answer
    to a `question` is kept for feedback and carries the feedback buttons; with a `stream`, a long answer
    is streamed (or already was), and goes out as one message when streaming is not possible.

    Args:
        runtime: The app's runtime.
        reply: The agent's reply.
        channel_id: Where to post.
        thread_ts: The thread to post in (None: top level).
        thread_id: The agent thread, which Confirm / Cancel resume.
        event_id: The Slack event answered, for the log.
        question: What was asked (None: a resumed turn, whose answer gets no feedback buttons).
        stream: The turn's progress callback, which may have started streaming the answer.
    """
    if reply.pending is not None:
        pending = reply.pending.to_dict()
        runtime.delivery.send(
            "chat_postMessage",
            # A resumed turn can pause again at its next write, which is a new request.
            key=f"{thread_id}:confirm:{reply.pending.action}:{reply.pending.incident}",
            event_id=event_id,
            channel=channel_id,
            thread_ts=thread_ts,
            text=confirmation_text(pending),
            blocks=confirmation_blocks(
                pending, thread_id=thread_id, who_may_confirm=runtime.who_may_confirm()
            ),
        )
    elif not post_postmortem_file(
        runtime, reply, channel_id=channel_id, thread_ts=thread_ts, key=f"{thread_id}:postmortem"
    ):
        answer_id = record_answer(runtime, reply, question=question) if question is not None else None
        if stream is not None and stream.finish(reply, blocks=answer_footer(reply, answer_id)):
            return
        runtime.delivery.send(
            "chat_postMessage",
            key=f"{thread_id}:answer",
            event_id=event_id,
            channel=channel_id,
            thread_ts=thread_ts,
            unfurl_links=False,
            **answer_message(runtime, reply, answer_id=answer_id),
        )
    elif stream is not None:
        stream.finish(reply, blocks=[])


def drafted_postmortem(reply: AgentReply) -> dict[str, Any] | None:
    """Returns the result of the postmortem this turn drafted (`incident`, `postmortem_id`), or None."""
    drafted = [
        r["result"]
        for r in reply.tool_results
        if r["name"] == "draft_postmortem"
        and isinstance(r["result"], dict)
        and "postmortem_id" in r["result"]
    ]
    return drafted[-1] if drafted else None


def post_postmortem_file(
    runtime: SlackRuntime, reply: AgentReply, *, channel_id: str, thread_ts: str | None, key: str
) -> bool:
    """Uploads a postmortem drafted in this turn as a Markdown file in the thread, with a short excerpt.

    A whole draft is far longer than a Slack message can show; the file keeps it intact for people to
    download and revise. Returns False when the turn drafted nothing (the answer is posted as usual).
    """
    drafted = drafted_postmortem(reply)
    if drafted is None:
        return False
    with session_scope(runtime.engine) as session:
        draft = postmortems.get(db_session=session, postmortem_id=int(drafted["postmortem_id"]))
    if draft is None:
        return False
    public_id = str(drafted["incident"])
    runtime.delivery.send(
        "files_upload_v2",
        key=key,
        channel=channel_id,
        thread_ts=thread_ts,
        content=draft.body,
        filename=f"{public_id}-postmortem-draft.md",
        title=f"Postmortem draft for {public_id}",
        initial_comment=postmortem_excerpt(public_id, draft.body),
    )
    return True


def postmortem_excerpt(public_id: str, markdown: str, *, limit: int = EXCERPT_CHARS) -> str:
    """Returns the thread message beside an uploaded draft: what it is, and its opening lines."""
    body = markdown.strip()
    excerpt = body if len(body) <= limit else body[:limit].rsplit("\n", 1)[0] + "\n…"
    return (
        f"First-draft postmortem for {public_id} (AI-generated, needs human review; the full draft is in "
        f"the attached file and linked to the incident):\n{excerpt}"
    )

"""Progress of one agent turn in Slack: the thread's status line, and long answers streamed as written.

An `AnswerStream` is the turn's `progress` callback. A tool about to be called sets the status line
("Counting incidents…") where the surface has one (the assistant panel). Answer text is collected; once it
is long, the answer is streamed with `chat.startStream` / `chat.appendStream` / `chat.stopStream`, one
section at a time (lines grouped up to `SECTION_CHARS`), so a real model's tokens appear as they arrive and
the offline model's whole answer still arrives in sections. Short answers, lists of incidents (shown as
cards), confirmations and drafted postmortems are not streamed: they go out as one message, as before, and so does any answer whose stream
Slack refuses. The callback never raises: a Slack hiccup must not cost the turn.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import Any

from agent.runner import AgentReply, TurnEvent
from agent.slack.blocks import Block, split_incident_list
from agent.slack.runtime import SlackRuntime
from prompts.slack import STATUS_THINKING, TOOL_STATUS

logger = logging.getLogger(__name__)

STREAM_AFTER_CHARS = 700
"""Answers at least this long are streamed; shorter ones read at a glance and keep their incident cards."""

SECTION_CHARS = 300
"""Text appended to a stream at a time: whole lines, about this much (fewer, larger calls than per token)."""

NOT_STREAMED_TOOLS = frozenset({"draft_postmortem", "declare", "update_severity", "set_status"})
"""Turns that call these end in a file upload or a confirmation, never in a streamed answer."""


def sections(text: str, size: int = SECTION_CHARS) -> list[str]:
    """Returns text cut into pieces of whole lines of about `size` characters, which join back to `text`."""
    pieces: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        if current and len(current) + len(line) > size:
            pieces.append(current)
            current = ""
        current += line
    if current:
        pieces.append(current)
    return pieces


def _has_cards(reply: AgentReply) -> bool:
    # A list of incidents is shown as cards read fresh from the store (severity, status, channel links);
    # an answer made of one is posted whole, unless a real model already began streaming it.
    return bool(split_incident_list(reply.answer, {public_id.lower() for public_id in reply.incidents})[1])


def _lists_incidents(text: str) -> bool:
    return bool(split_incident_list(text, set(re.findall(r"incident-\d+", text.lower())))[1])


def stream_allowed(*, channel_id: str, user_id: str | None, team_id: str | None) -> bool:
    """Returns whether Slack lets the app stream here: in a DM always, elsewhere given recipient and team."""
    return channel_id.startswith("D") or bool(user_id and team_id)


class AnswerStream:
    """The progress callback of one turn, and the stream of its answer if it gets one."""

    def __init__(
        self,
        runtime: SlackRuntime,
        *,
        channel_id: str,
        thread_ts: str,
        key: str,
        user_id: str | None = None,
        team_id: str | None = None,
        set_status: Callable[[str], Any] | None = None,
    ) -> None:
        self.runtime = runtime
        self.channel_id = channel_id
        self.thread_ts = thread_ts
        self.key = key
        self.user_id = user_id
        self.team_id = team_id
        self._set_status = set_status
        self.allowed = stream_allowed(channel_id=channel_id, user_id=user_id, team_id=team_id)
        self.tools: list[str] = []
        self.ts: str | None = None
        """The streamed message, once the stream started."""
        self.failed = False
        self._pending = ""
        self._sent = ""
        self._lock = threading.Lock()

    # --- progress -------------------------------------------------------------------------------------

    def __call__(self, event: TurnEvent) -> None:
        """Takes one progress event of the turn; never raises."""
        try:
            if event.kind == "tool":
                with self._lock:
                    if self.ts is None:
                        # Text a model wrote before calling a tool was not the answer.
                        self._pending = ""
                self.tools.append(event.value)
                self.status(TOOL_STATUS.get(event.value, STATUS_THINKING))
            elif event.kind == "text":
                with self._lock:
                    self._pending += event.value
                    self._flush(final=False)
        except Exception:
            logger.exception("Showing the progress of %s failed", self.key)

    def status(self, text: str) -> None:
        """Sets the thread's status line, where the surface has one; a failure is only logged."""
        if self._set_status is None:
            return
        try:
            self._set_status(text)
        except Exception as error:
            logger.info("Setting the status of %s failed: %s", self.key, error)

    # --- the answer -----------------------------------------------------------------------------------

    def finish(self, reply: AgentReply, *, blocks: list[Block]) -> bool:
        """Ends the turn's stream with `blocks` under the answer; returns False when nothing was streamed.

        An answer that streamed no text yet (the offline model hands it over whole, at the end) is streamed
        now when it is long. False means the caller posts the answer as one message, as for a short answer
        or when Slack refused the stream; then any stream already started is stopped first.
        """
        with self._lock:
            if not self._streamable(reply):
                self._abandon()
                return False
            # What the model streamed may differ in whitespace from the final answer: the final one wins.
            if self._sent and not reply.answer.startswith(self._sent):
                self._abandon()
                return False
            self._pending = reply.answer[len(self._sent) :]
            if self.ts is None and (len(reply.answer) < STREAM_AFTER_CHARS or _has_cards(reply)):
                return False
            self._flush(final=True)
            if self.ts is None or self.failed:
                self._abandon()
                return False
            try:
                self.runtime.delivery.send(
                    "chat_stopStream",
                    key=f"{self.key}:stop",
                    channel=self.channel_id,
                    ts=self.ts,
                    blocks=blocks,
                )
            except Exception as error:
                # Every piece was appended already: the person has the whole answer, only the buttons
                # under it are lost. Posting it again would show it twice.
                logger.warning(
                    "Stopping the stream of %s failed (%s); its answer stays as streamed", self.key, error
                )
            return True

    def _streamable(self, reply: AgentReply) -> bool:
        return (
            self.allowed
            and not self.failed
            and reply.pending is None
            and not NOT_STREAMED_TOOLS.intersection(self.tools)
            and bool(reply.answer.strip())
        )

    def _flush(self, *, final: bool) -> None:
        if not self.allowed or self.failed or NOT_STREAMED_TOOLS.intersection(self.tools):
            return
        if self.ts is None and not final:
            if len(self._sent) + len(self._pending) < STREAM_AFTER_CHARS or _lists_incidents(self._pending):
                return  # decided when the turn ends, once its answer and incidents are known
        ready = self._pending if final else self._pending[: self._pending.rfind("\n") + 1]
        pieces = sections(ready)
        if not final and pieces and len(pieces[-1]) < SECTION_CHARS:
            pieces.pop()  # a short last piece waits for more text to join it
        for piece in pieces:
            if not self._append(piece):
                return
            self._sent += piece
            self._pending = self._pending[len(piece) :]

    def _append(self, piece: str) -> bool:
        try:
            if self.ts is None:
                recipients = (
                    {}
                    if self.channel_id.startswith("D")
                    else {"recipient_user_id": self.user_id, "recipient_team_id": self.team_id}
                )
                started = self.runtime.delivery.send(
                    "chat_startStream",
                    key=f"{self.key}:start",
                    channel=self.channel_id,
                    thread_ts=self.thread_ts,
                    markdown_text=piece,
                    **recipients,
                )
                self.ts = str(started["ts"]) if started is not None else None
                return self.ts is not None
            self.runtime.delivery.send(
                "chat_appendStream",
                key=f"{self.key}:append",
                channel=self.channel_id,
                ts=self.ts,
                markdown_text=piece,
            )
            return True
        except Exception as error:
            logger.warning("Streaming %s failed (%s); the answer goes out as one message", self.key, error)
            self.failed = True
            return False

    def _abandon(self) -> None:
        # A stream that cannot carry the whole answer is closed and removed; the answer follows whole, so
        # the reader never sees a part of it beside the whole.
        if self.ts is None:
            return
        try:
            self.runtime.delivery.send(
                "chat_stopStream", key=f"{self.key}:stop", channel=self.channel_id, ts=self.ts
            )
        except Exception as error:
            logger.info("Closing the abandoned stream of %s failed: %s", self.key, error)
        try:
            self.runtime.delivery.send(
                "chat_delete", key=f"{self.key}:delete", channel=self.channel_id, ts=self.ts
            )
        except Exception as error:
            logger.info("Removing the abandoned stream of %s failed: %s", self.key, error)

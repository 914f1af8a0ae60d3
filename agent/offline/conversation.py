"""The conversation around a question, for the offline model.

It reads the four context lines of the system prompt (`Current time:`, `Channel:`, `Incident in focus:`,
`Asking:`), the incident discussed last, the previous query for follow-ups like "and which of those hit
payments?", and which of the incidents listed just before a description fits ("the billing-db failover
one").
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from agent.lexicon import asker_words, without_aspect_phrases
from agent.normalize import find_incident_refs, find_status_filter, parse_status_filter
from agent.offline.entities import FILLER_WORDS, REFERENCE_NOW, WORD_RE

_MENTION_RE = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>|(?:^|\s)@[\w.-]+", re.IGNORECASE)
_CONTEXT_LINE_RE = re.compile(
    r"^(Current time|Channel|Incident in focus|Asking):[ \t]*(.*?)\s*$", re.MULTILINE
)


def strip_mentions(text: str) -> str:
    """Returns a message without Slack mentions of the bot (`<@U123>`, `@Datadog`).

    Line breaks stay: a line starting with ">" is quoted text, not the person's words.
    """
    lines = (" ".join(line.split()) for line in _MENTION_RE.sub(" ", text).splitlines())
    return "\n".join(line for line in lines if line)


# --- the conversation --------------------------------------------------------------------------------


def _message_text(message: BaseMessage) -> str:
    return message.text if isinstance(message.text, str) else str(message.content)


def _refs_in_payload(payload: Any) -> list[int]:
    """Returns the incidents a tool result is about, the main one first."""
    if not isinstance(payload, dict):
        return []
    refs: list[int] = []
    for key in ("id", "incident", "focus"):
        value = payload.get(key)
        if isinstance(value, dict):
            value = value.get("id")
        if isinstance(value, str):
            refs.extend(find_incident_refs(value))
    for key in ("results", "incidents"):
        items = payload.get(key)
        if isinstance(items, list):
            refs.extend(
                ref
                for item in items
                if isinstance(item, dict)
                for ref in find_incident_refs(str(item.get("id", "")))
            )
    return refs


def _refs_in_message(message: BaseMessage) -> list[int]:
    if isinstance(message, ToolMessage):
        try:
            return _refs_in_payload(json.loads(_message_text(message)))
        except ValueError:
            return find_incident_refs(_message_text(message))
    if isinstance(message, AIMessage):
        # Examples the assistant quotes ('for example "incident-123"') are not incidents it talked about.
        refs = find_incident_refs(asker_words(_message_text(message)))
        for call in message.tool_calls:
            refs.extend(find_incident_refs(str(call["args"].get("incident") or "")))
        return refs
    return find_incident_refs(_message_text(message))


@dataclass(frozen=True)
class Conversation:
    """One question and what surrounds it: the context lines, earlier turns, and this turn's tool calls."""

    question: str
    """The latest message of the person, without mentions of the bot."""
    now: datetime | None = None
    channel: str | None = None
    focus: int | None = None
    user: str | None = None
    earlier: tuple[BaseMessage, ...] = ()
    """Messages before the question (system messages left out), oldest first."""
    turn: tuple[BaseMessage, ...] = ()
    """Messages after the question: this turn's tool calls and their results."""

    @classmethod
    def from_messages(cls, messages: Sequence[BaseMessage]) -> Conversation:
        """Returns the conversation the messages hold; the last human message is the question."""
        lines: dict[str, str] = {}
        for message in messages:
            if isinstance(message, SystemMessage):
                lines.update({key: value for key, value in _CONTEXT_LINE_RE.findall(_message_text(message))})
        last_human = max((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=None)
        rest = [m for m in messages if not isinstance(m, SystemMessage)]
        if last_human is None:
            return cls(question="", **_context_values(lines), turn=tuple(rest))
        question_message = messages[last_human]
        earlier = tuple(m for m in messages[:last_human] if not isinstance(m, SystemMessage))
        turn = tuple(m for m in messages[last_human + 1 :] if not isinstance(m, SystemMessage))
        return cls(
            question=strip_mentions(_message_text(question_message)),
            **_context_values(lines),
            earlier=earlier,
            turn=turn,
        )

    @property
    def reference_now(self) -> datetime:
        """Returns the time phrases are read against: the `Current time:` line, else a fixed reference."""
        return self.now or REFERENCE_NOW

    def last_discussed(self) -> int | None:
        """Returns the incident the conversation talked about last (the first one named in that message).

        Where the conversation holds tool results, a reply written without looking anything up ("which
        incident do you mean?") talks about no incident, whatever it names.
        """
        looked_up = any(isinstance(message, ToolMessage) for message in self.earlier)
        for index in range(len(self.earlier) - 1, -1, -1):
            message = self.earlier[index]
            if (
                looked_up
                and isinstance(message, AIMessage)
                and not message.tool_calls
                and not (index > 0 and isinstance(self.earlier[index - 1], ToolMessage))
            ):
                continue
            refs = _refs_in_message(message)
            if refs:
                return refs[0]
        return None

    def previous_call(self, name: str) -> dict[str, Any] | None:
        """Returns the arguments of the latest earlier call of a tool, or None."""
        for message in reversed(self.earlier):
            if isinstance(message, AIMessage):
                for call in reversed(message.tool_calls):
                    if call["name"] == name:
                        return dict(call["args"])
        return None

    def previous_tool(self) -> str | None:
        """Returns the tool the previous exchange called last, or None; only that exchange makes a follow-up."""
        for message in reversed(self.earlier):
            if isinstance(message, AIMessage) and message.tool_calls:
                return str(message.tool_calls[-1]["name"])
            if isinstance(message, HumanMessage):
                return None
        return None

    def previous_results(self) -> list[str]:
        """Returns the ids the previous exchange's last tool listed (a search's results), in its order."""
        for message in reversed(self.earlier):
            if isinstance(message, HumanMessage):
                return []
            if isinstance(message, ToolMessage):
                try:
                    payload = json.loads(_message_text(message))
                except ValueError:
                    return []
                items = (
                    payload.get("results") or payload.get("incidents") or []
                    if isinstance(payload, dict)
                    else []
                )
                return [str(item["id"]) for item in items if isinstance(item, dict) and item.get("id")]
        return []

    def previous_question(self) -> str | None:
        """Returns the person's message before this one, or None."""
        for message in reversed(self.earlier):
            if isinstance(message, HumanMessage):
                return strip_mentions(_message_text(message))
        return None


def _context_values(lines: dict[str, str]) -> dict[str, Any]:
    def value(key: str) -> str | None:
        text = lines.get(key, "").strip()
        return None if text.lower() in {"", "none", "null", "unknown"} else text

    now_text = value("Current time")
    now: datetime | None = None
    if now_text:
        try:
            now = datetime.fromisoformat(now_text.replace("Z", "+00:00"))
        except ValueError:
            now = None
        if now is not None and now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
    focus_refs = find_incident_refs(value("Incident in focus") or "")
    return {
        "now": now,
        "channel": value("Channel"),
        "focus": focus_refs[0] if focus_refs else None,
        "user": value("Asking"),
    }


# --- the incidents listed just before ----------------------------------------------------------------


_ORDINALS = {
    "first": 0,
    "1st": 0,
    "second": 1,
    "2nd": 1,
    "third": 2,
    "3rd": 2,
    "fourth": 3,
    "4th": 3,
    "fifth": 4,
    "5th": 4,
    "last": -1,
    "top": 0,
}
_ORDINAL_ONE_RE = re.compile(
    r"\b(?:the )?(first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|last|top) (?:one|incident|item)\b",
    re.IGNORECASE,
)
_DAY_OF_MONTH_RE = re.compile(r"\b(?:on|from) (?:the )?([1-9]|[12]\d|3[01])(?:st|nd|rd|th)\b", re.IGNORECASE)


def _describing_words(item: dict[str, Any]) -> set[str]:
    """Returns the lower-case words of a listed incident's title, services and status ("the one that's
    resolved"), a joined word with its parts ("layer-7" also as "layer" and "7")."""
    text = " ".join(
        [
            str(item.get("title", "")),
            *(str(s) for s in item.get("services") or []),
            str(item.get("status", "")),
        ]
    )
    return {
        part for word in WORD_RE.findall(text.lower()) for part in (word, *re.split(r"[-_./]+", word)) if part
    }


def _shared_words(wanted: set[str], words: set[str]) -> int:
    """Returns how many wanted words a title holds, a shortening counting too ("cert" for "certificate")."""
    return sum(
        1
        for w in wanted
        if w in words
        or (len(w) >= 4 and any(t.startswith(w) or (len(t) >= 4 and w.startswith(t)) for t in words))
    )


def _listings(conversation: Conversation) -> Iterator[list[dict[str, Any]]]:
    """Yields the incidents each earlier tool result listed (a list's or a search's), the latest first."""
    for message in reversed(conversation.earlier):
        if not isinstance(message, ToolMessage):
            continue
        try:
            payload = json.loads(_message_text(message))
        except ValueError:
            continue
        if not isinstance(payload, dict):
            continue
        listed = [
            item
            for key in ("incidents", "results")
            for item in payload.get(key) or []
            if isinstance(item, dict) and item.get("id")
        ]
        if listed:
            yield listed


BEFORE_THAT_RE = re.compile(
    r"\b(?:the (?:one|time|incident|outage|failover) )?(?:before|prior to) (?:that|it|this|then)\b"
    r"|\bthe (?:previous|prior|one earlier) (?:one|time|incident)\b|\bthe time before\b",
    re.IGNORECASE,
)
"""Asks, after an incident was discussed, for the one of the same list that came before it in time."""


def listed_before_discussed(conversation: Conversation) -> str | None:
    """Returns the incident declared last before the one discussed last, among the latest listed results
    ("when was the last time the billing db failed over?" ... "and the one before that?")."""
    discussed = conversation.last_discussed()
    if discussed is None:
        return None
    for listed in _listings(conversation):
        dated = [item for item in listed if isinstance(item.get("declared_at"), str)]
        this = next((item for item in dated if item["id"] == f"incident-{discussed}"), None)
        if this is None:
            continue
        earlier = [item for item in dated if item["declared_at"] < this["declared_at"]]
        return str(max(earlier, key=lambda item: item["declared_at"])["id"]) if earlier else None
    return None


def described_incident(description: str, conversation: Conversation) -> str | None:
    """Returns the incident of the latest listed results that a description fits ("the billing-db failover one").

    The title's words must share more with the description than any other listed incident's do.
    """
    # "who's running it" asks for the commander; "running" describes nothing.
    wanted = {
        w.lower()
        for w in WORD_RE.findall(without_aspect_phrases(description))
        if w.lower() not in FILLER_WORDS
    }
    states = {status.value for status in parse_status_filter(find_status_filter(description))}
    for listed in _listings(conversation):
        ordinal = _ORDINAL_ONE_RE.search(description)
        if ordinal:
            # "who ran the second one of those?": that place in the list just shown.
            place = _ORDINALS[ordinal.group(1).lower()]
            if -len(listed) <= place < len(listed):
                return str(listed[place]["id"])
        in_state = [item for item in listed if item.get("status") in states]
        if len(in_state) == 1:
            # "the root cause of the one that's resolved?": the only listed incident in that state.
            return str(in_state[0]["id"])
        day = _DAY_OF_MONTH_RE.search(description)
        if day:
            # "the one on the 16th": the listed incident declared that day.
            on_that_day = [
                item
                for item in listed
                if str(item.get("declared_at", ""))[8:10] == f"{int(day.group(1)):02d}"
            ]
            if len(on_that_day) == 1:
                return str(on_that_day[0]["id"])
        scored = sorted(
            ((_shared_words(wanted, _describing_words(item)), str(item["id"])) for item in listed),
            reverse=True,
        )
        if scored[0][0] > 0 and (len(scored) == 1 or scored[0][0] > scored[1][0]):
            return scored[0][1]
        return None
    return None

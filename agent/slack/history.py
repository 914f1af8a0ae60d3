"""Slack messages as the agent's memory: mrkdwn to plain text, and threads to LangChain messages.

Slack is the conversation store: before each turn the thread's replies (or the channel's recent history for
a top-level mention) become the agent's `history`. People's messages become `HumanMessage`s that carry the
author's name, the app's own messages become `AIMessage`s, and the mention being answered is left out
because it is the question itself.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

HISTORY_LIMIT = 20
"""Most Slack messages handed to the agent as history; older ones rarely matter to a follow-up."""

MAX_MESSAGE_CHARS = 2000
"""Longer messages (pasted logs) are cut so one message cannot crowd out the rest of the history."""

CONVERSATION_SUBTYPES = frozenset({None, "thread_broadcast", "file_share", "me_message", "bot_message"})
"""Message subtypes that are things people (or bots) said; joins, topic changes and the like are not."""

_USER_RE = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_CHANNEL_RE = re.compile(r"<#([CG][A-Z0-9]+)(?:\|([^>]*))?>")
_SPECIAL_RE = re.compile(r"<!(here|channel|everyone)(?:\|[^>]*)?>")
_SUBTEAM_RE = re.compile(r"<!subteam\^[A-Z0-9]+(?:\|([^>]*))?>")
_LINK_RE = re.compile(r"<((?:https?|mailto|tel):[^|>]+)(?:\|([^>]+))?>")
_SPACES_RE = re.compile(r"[ \t]+")
_NAME_CHARS_RE = re.compile(r"[^A-Za-z0-9_-]+")


def ts_to_datetime(ts: str) -> datetime:
    """Returns the UTC time of a Slack timestamp such as `1764244800.000100`."""
    return datetime.fromtimestamp(float(ts), UTC)


def datetime_to_ts(moment: datetime) -> str:
    """Returns the Slack timestamp (seconds with six decimals) of a timezone-aware time."""
    return f"{moment.timestamp():.6f}"


def plain_text(text: str, *, name_of: Callable[[str], str], drop_user: str | None = None) -> str:
    """Returns Slack mrkdwn as readable text.

    User mentions become `@Name` (a mention of `drop_user`, the app itself, is removed), channel references
    `#name`, links their label followed by the address, and HTML entities are unescaped.
    """

    def user(match: re.Match[str]) -> str:
        return "" if match.group(1) == drop_user else f"@{name_of(match.group(1))}"

    def link(match: re.Match[str]) -> str:
        url, label = match.group(1), match.group(2)
        return f"{label} ({url})" if label and label != url else url

    text = _USER_RE.sub(user, text)
    text = _CHANNEL_RE.sub(lambda m: f"#{m.group(2) or m.group(1)}", text)
    text = _SPECIAL_RE.sub(lambda m: f"@{m.group(1)}", text)
    text = _SUBTEAM_RE.sub(lambda m: m.group(1) or "@team", text)
    text = _LINK_RE.sub(link, text)
    lines = [_SPACES_RE.sub(" ", line).strip() for line in html.unescape(text).splitlines()]
    return "\n".join(lines).strip()


def is_bot_message(message: Mapping[str, Any]) -> bool:
    """Returns whether a message was posted by a bot or an integration rather than a person."""
    return bool(message.get("bot_id")) or message.get("subtype") == "bot_message"


def message_text(message: Mapping[str, Any], *, name_of: Callable[[str], str], drop_user: str | None) -> str:
    """Returns a message's readable text, naming any files it shares."""
    text = plain_text(message.get("text") or "", name_of=name_of, drop_user=drop_user)
    files = [f.get("title") or f.get("name") for f in message.get("files") or ()]
    shared = ", ".join(name for name in files if name)
    if shared:
        text = f"{text}\n[shared: {shared}]".strip()
    return text


def to_messages(
    slack_messages: Iterable[Mapping[str, Any]],
    *,
    name_of: Callable[[str], str],
    bot_user_id: str | None,
    bot_id: str | None,
    before_ts: str | None = None,
    limit: int = HISTORY_LIMIT,
) -> list[BaseMessage]:
    """Returns Slack messages as LangChain messages, oldest first, with the authors' names.

    Args:
        slack_messages: Messages as `conversations.history` or `conversations.replies` return them, in any
            order.
        name_of: Returns a person's display name from a Slack user id.
        bot_user_id: The app's own user id; its messages become `AIMessage`s and mentions of it are dropped.
        bot_id: The app's own bot id, which Slack sets on messages the app posts.
        before_ts: Only messages posted strictly before this timestamp (the mention being answered and
            anything posted while it was in flight are left out).
        limit: How many of the newest messages to keep.
    """
    kept: list[tuple[float, BaseMessage]] = []
    for message in slack_messages:
        if message.get("subtype") not in CONVERSATION_SUBTYPES or "ts" not in message:
            continue
        if before_ts is not None and float(message["ts"]) >= float(before_ts):
            continue
        text = message_text(message, name_of=name_of, drop_user=bot_user_id)[:MAX_MESSAGE_CHARS]
        if not text:
            continue
        own = (bot_user_id is not None and message.get("user") == bot_user_id) or (
            bot_id is not None and message.get("bot_id") == bot_id
        )
        if own:
            kept.append((float(message["ts"]), AIMessage(content=text)))
            continue
        if is_bot_message(message):
            profile = message.get("bot_profile") or {}
            author = f"{profile.get('name') or message.get('username') or 'an integration'} (bot)"
        else:
            author = name_of(message.get("user") or "")
        kept.append((float(message["ts"]), human_message(author, text)))
    kept.sort(key=lambda pair: pair[0])
    return [message for _, message in kept[-limit:]]


def human_message(author: str, text: str) -> HumanMessage:
    """Returns what a person said as a `HumanMessage` whose content starts with their name.

    The name is also set as the message `name` (in the characters chat APIs accept), but the content prefix
    is what every model, the offline one included, can read.
    """
    name = _NAME_CHARS_RE.sub("_", author).strip("_")[:64] or None
    return HumanMessage(content=f"{author}: {text}", name=name)

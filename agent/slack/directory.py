"""Cached lookups of Slack objects: people's names, channels, their incidents, and links.

A burst of channel messages must not cost a `users.info` and a `conversations.info` per message, so names
and channel facts are cached for the life of the process. Channel-to-incident links are cached once found;
a channel with no incident is looked up again after a minute, since an incident may be declared for it.
Channel membership is never cached: it decides who may confirm a change.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine

from agent.db import session_scope
from agent.incidents import service
from agent.normalize import channel_incident_number

logger = logging.getLogger(__name__)

UNLINKED_TTL = timedelta(minutes=1)


@dataclass(frozen=True)
class SlackUser:
    """A person as Slack knows them."""

    id: str
    name: str
    """The name shown for them: real name, else display name, else handle."""
    aliases: frozenset[str]
    """Every name they go by (handle, display and real name), lower case, to match incident responders."""


@dataclass(frozen=True)
class ChannelInfo:
    """A channel's id and name (None when Slack would not say)."""

    id: str
    name: str | None


class SlackDirectory:
    """People, channels and links of one workspace, cached."""

    def __init__(
        self, *, client: WebClient, engine: Engine, channel_prefix: str, now: Callable[[], datetime]
    ) -> None:
        self._client = client
        self._engine = engine
        self._prefix = channel_prefix
        self._now = now
        self._users: dict[str, SlackUser] = {}
        self._channels: dict[str, ChannelInfo] = {}
        self._links: dict[str, int] = {}
        self._unlinked: dict[str, datetime] = {}
        self._team_url: str | None = None
        self._lock = threading.Lock()

    # --- people ----------------------------------------------------------------------------------------

    def user(self, user_id: str) -> SlackUser:
        """Returns the person with that id; an id Slack does not know stands for itself."""
        with self._lock:
            cached = self._users.get(user_id)
        if cached is not None:
            return cached
        try:
            found = self._client.users_info(user=user_id)["user"]
        except SlackApiError as error:
            logger.warning("users.info failed for %s: %s", user_id, error.response.get("error"))
            return SlackUser(id=user_id, name=user_id, aliases=frozenset({user_id.lower()}))
        profile = found.get("profile") or {}
        # Real names first, as the Slack export importer does, so authors and responders match across sources.
        names = [
            profile.get("real_name"),
            found.get("real_name"),
            profile.get("display_name"),
            found.get("name"),
        ]
        present = [name.strip() for name in names if name and name.strip()]
        person = SlackUser(
            id=user_id,
            name=present[0] if present else user_id,
            aliases=frozenset(name.lower() for name in [*present, user_id]),
        )
        with self._lock:
            self._users[user_id] = person
        return person

    def name(self, user_id: str) -> str:
        """Returns the name shown for a person."""
        return self.user(user_id).name

    # --- channels --------------------------------------------------------------------------------------

    def channel(self, channel_id: str) -> ChannelInfo:
        """Returns a channel's name, asking Slack once."""
        with self._lock:
            cached = self._channels.get(channel_id)
        if cached is not None:
            return cached
        try:
            found = self._client.conversations_info(channel=channel_id)["channel"]
        except SlackApiError as error:
            # Not cached: the app may simply not have been invited yet.
            logger.warning("conversations.info failed for %s: %s", channel_id, error.response.get("error"))
            return ChannelInfo(id=channel_id, name=None)
        info = ChannelInfo(id=channel_id, name=found.get("name"))
        with self._lock:
            self._channels[channel_id] = info
        return info

    def incident_id(self, channel_id: str) -> int | None:
        """Returns the number of the incident a channel is linked to, or None.

        A channel is linked by the channel id stored on an incident, else by its stored channel name, else
        (when the name has the incident prefix) by the number in its name, e.g. `incident-123-checkout`.
        """
        with self._lock:
            if channel_id in self._links:
                return self._links[channel_id]
            retry_at = self._unlinked.get(channel_id)
        if retry_at is not None and self._now() < retry_at:
            return None
        name = self.channel(channel_id).name
        with session_scope(self._engine) as session:
            incident = service.get_by_channel(db_session=session, channel_id=channel_id, channel_name=name)
            number = incident.id if incident is not None else None
            if number is None:
                candidate = channel_incident_number(name, self._prefix)
                if (
                    candidate is not None
                    and service.get(db_session=session, incident_id=candidate) is not None
                ):
                    number = candidate
        with self._lock:
            if number is None:
                self._unlinked[channel_id] = self._now() + UNLINKED_TTL
            else:
                self._links[channel_id] = number
                self._unlinked.pop(channel_id, None)
        return number

    def members(self, channel_id: str) -> set[str]:
        """Returns the ids of the channel's current members (asked every time: it decides permissions)."""
        members: set[str] = set()
        cursor: str | None = None
        while True:
            page = self._client.conversations_members(channel=channel_id, limit=1000, cursor=cursor)
            members.update(page.get("members") or [])
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                return members

    # --- links -----------------------------------------------------------------------------------------

    def team_url(self) -> str | None:
        """Returns the workspace address (`https://team.slack.com/`), from `auth.test` once."""
        with self._lock:
            if self._team_url is not None:
                return self._team_url
        try:
            url = self._client.auth_test().get("url")
        except SlackApiError as error:
            logger.warning("auth.test failed: %s", error.response.get("error"))
            return None
        with self._lock:
            self._team_url = url or None
        return url or None

    def permalink(self, channel_id: str, ts: str | None = None, thread_ts: str | None = None) -> str | None:
        """Returns the address of a channel, or of one message in it, without a `chat.getPermalink` call."""
        base = self.team_url()
        if base is None:
            return None
        url = f"{base.rstrip('/')}/archives/{channel_id}"
        if ts is None:
            return url
        url += "/p" + ts.replace(".", "")
        if thread_ts and thread_ts != ts:
            url += f"?thread_ts={thread_ts}&cid={channel_id}"
        return url

"""Import incident channel history from a standard Slack workspace export into incident timelines.

A workspace export is a folder with `channels.json` (and `groups.json` for private channels when the
export includes them), `users.json`, and one folder per channel name holding one `YYYY-MM-DD.json` file
per day, each a list of messages. Every file is read and checked before anything is written; then the
messages of the incident channels go into their incidents' timelines in one transaction. A message is
keyed by (channel id, ts) as in the Slack listener, so importing the same export twice adds nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from agent.db import session_scope
from agent.incidents import audit, service, timeline
from agent.incidents.exceptions import InvalidInput
from agent.incidents.models import Incident
from agent.normalize import channel_incident_number

if TYPE_CHECKING:
    from agent.search.index import IncidentIndex

__all__ = [
    "SKIPPED_SUBTYPES",
    "SlackChannel",
    "SlackExportReport",
    "SlackMessage",
    "import_slack_export",
    "read_export",
]

SKIPPED_SUBTYPES: frozenset[str] = frozenset(
    {
        "bot_message",
        "bot_add",
        "bot_remove",
        "channel_join",
        "channel_leave",
        "group_join",
        "group_leave",
        "channel_topic",
        "channel_purpose",
        "channel_name",
        "channel_archive",
        "channel_unarchive",
        "pinned_item",
        "unpinned_item",
        "tombstone",
    }
)
"""Message subtypes that are channel bookkeeping or bots, not what responders said."""

_DAY_FILE = re.compile(r"^\d{4}-\d{2}-\d{2}\.json$")
_USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]+))?>")
_CHANNEL_MENTION = re.compile(r"<#(C[A-Z0-9]+)\|([^>]*)>")


@dataclass(frozen=True)
class SlackMessage:
    """A message of an export that belongs in a timeline."""

    ts: str
    at: datetime
    author: str
    text: str
    pinned: bool
    edited_at: datetime | None


@dataclass
class SlackChannel:
    """An incident channel of an export and its timeline messages; `skipped` counts bots and notices."""

    id: str
    name: str
    messages: list[SlackMessage] = field(default_factory=list)
    skipped: int = 0


@dataclass
class SlackExportReport:
    """What an export import did: channels linked and not, messages added, skipped and already there."""

    linked: dict[str, int] = field(default_factory=dict)
    unmatched: list[str] = field(default_factory=list)
    added: int = 0
    already_present: int = 0
    skipped: int = 0
    incident_ids: list[int] = field(default_factory=list)


def _load(path: Path, export_dir: Path) -> Any:
    name = path.relative_to(export_dir).as_posix()
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InvalidInput(
            f"{name} in the Slack export is not valid JSON ({error.msg} at line {error.lineno})."
        ) from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{name} in the Slack export is not UTF-8 text.") from None
    except OSError as error:
        raise InvalidInput(f"Cannot read {name} in the Slack export: {error.strerror or error}.") from None


def _slack_time(ts: str) -> datetime:
    """Returns the UTC time of a Slack ts ("1732708800.000100"), keeping the microseconds exactly."""
    seconds, _, fraction = ts.partition(".")
    if not seconds.isdigit() or (fraction and not fraction.isdigit()):
        raise ValueError(ts)
    return datetime.fromtimestamp(int(seconds), UTC) + timedelta(microseconds=int(fraction[:6].ljust(6, "0")))


def _user_names(export_dir: Path) -> dict[str, str]:
    path = export_dir / "users.json"
    if not path.exists():
        return {}
    users = _load(path, export_dir)
    if not isinstance(users, list):
        raise InvalidInput("users.json in the Slack export should be a list of users.")
    names: dict[str, str] = {}
    for user in users:
        if not isinstance(user, dict) or not isinstance(user.get("id"), str):
            raise InvalidInput("users.json in the Slack export has a user without an id.")
        profile = user.get("profile") or {}
        names[user["id"]] = (
            profile.get("real_name")
            or user.get("real_name")
            or profile.get("display_name")
            or user.get("name")
            or user["id"]
        )
    return names


def _readable(text: str, names: dict[str, str]) -> str:
    text = _USER_MENTION.sub(lambda m: "@" + (names.get(m.group(1)) or m.group(2) or m.group(1)), text)
    return _CHANNEL_MENTION.sub(lambda m: f"#{m.group(2) or m.group(1)}", text)


def _message(raw: Any, names: dict[str, str], where: str) -> SlackMessage | None:
    """Returns the timeline message of a raw export message, or None for bots and channel bookkeeping."""
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where} should be a message object.")
    ts = raw.get("ts")
    if not isinstance(ts, str):
        raise InvalidInput(f"{where} has no ts.")
    try:
        at = _slack_time(ts)
    except ValueError:
        raise InvalidInput(f"{where} has a malformed ts '{ts}'.") from None
    if raw.get("type", "message") != "message" or raw.get("hidden"):
        return None
    if raw.get("subtype") in SKIPPED_SUBTYPES or raw.get("bot_id"):
        return None
    text = raw.get("text")
    if not isinstance(text, str) or not text.strip():
        return None
    user = raw.get("user")
    profile = raw.get("user_profile") or {}
    author = (
        (names.get(user) if isinstance(user, str) else None)
        or profile.get("real_name")
        or profile.get("display_name")
        or raw.get("username")
        or (user if isinstance(user, str) else None)
        or "unknown"
    )
    edited = raw.get("edited")
    edited_at = None
    if isinstance(edited, dict) and isinstance(edited.get("ts"), str):
        try:
            edited_at = _slack_time(edited["ts"])
        except ValueError:
            raise InvalidInput(f"{where} has a malformed edited.ts '{edited['ts']}'.") from None
    return SlackMessage(
        ts=ts,
        at=at,
        author=str(author),
        text=_readable(text, names),
        pinned=bool(raw.get("pinned_to")),
        edited_at=edited_at,
    )


def read_export(export_dir: Path, *, prefix: str = "incident-") -> list[SlackChannel]:
    """Returns the channels of an export whose name starts with `prefix`, with their messages in time order.

    Raises:
        InvalidInput: naming the file, when the export lacks channels.json or a file is malformed.
    """
    export_dir = Path(export_dir)
    if not (export_dir / "channels.json").is_file():
        raise InvalidInput(f"{export_dir} is not a Slack export: it has no channels.json.")
    names = _user_names(export_dir)
    channels: list[SlackChannel] = []
    for listing in ("channels.json", "groups.json"):
        if not (export_dir / listing).exists():
            continue
        entries = _load(export_dir / listing, export_dir)
        if not isinstance(entries, list):
            raise InvalidInput(f"{listing} in the Slack export should be a list of channels.")
        for position, entry in enumerate(entries):
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry.get("id"):
                raise InvalidInput(f"{listing} in the Slack export: channel {position} has no id or name.")
            if entry["name"].startswith(prefix):
                channels.append(SlackChannel(id=str(entry["id"]), name=entry["name"]))
    for channel in channels:
        folder = export_dir / channel.name
        day_files = (
            sorted(p for p in folder.glob("*.json") if _DAY_FILE.match(p.name)) if folder.is_dir() else []
        )
        for day_file in day_files:
            name = day_file.relative_to(export_dir).as_posix()
            messages = _load(day_file, export_dir)
            if not isinstance(messages, list):
                raise InvalidInput(f"{name} in the Slack export should be a list of messages.")
            for position, raw in enumerate(messages):
                message = _message(raw, names, f"{name}, message {position}")
                if message is None:
                    channel.skipped += 1
                else:
                    channel.messages.append(message)
        channel.messages.sort(key=lambda m: m.at)
    return channels


def _linked_incident(db_session: Session, channel: SlackChannel, prefix: str) -> Incident | None:
    incident = service.get_by_channel(db_session=db_session, channel_id=channel.id, channel_name=channel.name)
    if incident is not None:
        return incident
    number = channel_incident_number(channel.name, prefix)
    if number is None:
        return None
    incident = service.get(db_session=db_session, incident_id=number)
    # A number alone is weak evidence: never move an incident off the channel it is already linked to.
    if incident is None or incident.slack_channel_id not in (None, channel.id):
        return None
    return incident


def import_slack_export(
    *,
    engine: Engine,
    export_dir: Path,
    now: datetime,
    actor: str = "slack-export",
    prefix: str = "incident-",
    index: IncidentIndex | None = None,
) -> SlackExportReport:
    """Returns the report of adding an export's incident channel messages to the linked incidents' timelines.

    A channel links to an incident by its stored channel id, else by channel name, else by the number in
    its name (`incident-123-...`); channels that link to none are reported, not errors. Bot messages and
    join/leave notices are skipped, authors are resolved from users.json, and a message already in the
    timeline (same channel and ts) is not added again. An incident that had no channel id gets this one.
    """
    channels = read_export(Path(export_dir), prefix=prefix)
    report = SlackExportReport()
    with session_scope(engine) as db_session:
        for channel in channels:
            report.skipped += channel.skipped
            incident = _linked_incident(db_session, channel, prefix)
            if incident is None:
                report.unmatched.append(channel.name)
                continue
            report.linked[channel.name] = incident.id
            if incident.slack_channel_id is None:
                incident.slack_channel_id = channel.id
                incident.slack_channel_name = incident.slack_channel_name or channel.name
            added = timeline.add_imported_slack_messages(
                db_session=db_session,
                messages=[
                    timeline.SlackMessage(
                        incident_id=incident.id,
                        at=message.at,
                        author=message.author,
                        text=message.text,
                        slack_channel_id=channel.id,
                        slack_ts=message.ts,
                        pinned=message.pinned,
                        edited_at=message.edited_at,
                    )
                    for message in channel.messages
                ],
            )
            report.already_present += len(channel.messages) - added
            if added:
                report.added += added
                report.incident_ids.append(incident.id)
        if report.incident_ids:
            audit.record_import(
                db_session=db_session,
                incident_ids=report.incident_ids,
                actor=actor,
                action="import_slack",
                now=now,
                after={
                    "export": Path(export_dir).name,
                    "channels": len(report.linked),
                    "unmatched_channels": len(report.unmatched),
                    "messages_added": report.added,
                    "already_present": report.already_present,
                    "skipped": report.skipped,
                },
            )
    if index is not None and report.incident_ids:
        with session_scope(engine) as db_session:
            index.upsert_incidents(db_session, report.incident_ids)
    return report

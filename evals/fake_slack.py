"""A local fake of Slack: the Web API the app calls, and a sender that signs requests as Slack does.

`FakeSlack` serves the Web API methods the app uses on a localhost port (point `SLACK_API_URL` at
`fake.api_url`), keeps channels, people and messages (the app's own posts included, so threads read back),
and records every call. Tests wait for a call with `wait_for`, a bounded wait on a condition, never a sleep.
`SlackSender` posts events, button presses and slash commands to the app, signed with the v0 scheme.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

from agent.slack.history import datetime_to_ts

TEAM_ID = "T0ACME"
APP_ID = "A0COPILOT"
BOT_USER_ID = "U0COPILOT"
BOT_ID = "B0COPILOT"
TEAM_URL = "https://acme.slack.com/"


@dataclass
class Call:
    """One Web API call the fake received."""

    method: str
    params: dict[str, Any]


@dataclass
class FakeSlack:
    """An in-memory Slack workspace behind a local Web API server.

    Attributes:
        start_ts: Messages the app posts get timestamps from here on, one millisecond apart.
    """

    start_ts: float
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    """Method name -> Slack error code it answers with, to test failure handling."""
    socket_url: Callable[[], str] | None = None
    """Hands out the Socket Mode URL `apps.connections.open` answers with (see `tests.servers.socket_mode`)."""
    http_faults: dict[str, list[int]] = field(default_factory=dict)
    """Method name -> HTTP statuses its next calls answer with, one per call (429 says Retry-After: 1)."""

    def __post_init__(self) -> None:
        self._condition = threading.Condition()
        self._ticks = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None

    # --- workspace ---------------------------------------------------------------------------------------

    def add_user(self, user_id: str, real_name: str, *, display_name: str = "") -> None:
        """Adds a person."""
        handle = real_name.lower().replace(" ", ".")
        self.users[user_id] = {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": handle,
            "real_name": real_name,
            "is_bot": False,
            "profile": {"real_name": real_name, "display_name": display_name},
        }

    def add_channel(
        self, channel_id: str, name: str, *, members: list[str], is_private: bool = False
    ) -> None:
        """Adds a channel with its members (the app is always one)."""
        self.channels[channel_id] = {
            "id": channel_id,
            "name": name,
            "is_channel": not is_private,
            "is_group": False,
            "is_private": is_private,
            "members": [*members, BOT_USER_ID],
        }
        self.messages.setdefault(channel_id, [])

    def add_dm(self, channel_id: str, user_id: str) -> None:
        """Adds the app's direct-message channel with a person (where the assistant panel's threads live)."""
        self.channels[channel_id] = {
            "id": channel_id,
            "is_im": True,
            "is_channel": False,
            "is_private": True,
            "user": user_id,
            "members": [user_id, BOT_USER_ID],
        }
        self.messages.setdefault(channel_id, [])

    def next_ts(self) -> str:
        """Returns a fresh message timestamp, later than every one handed out before."""
        return f"{self.start_ts + next(self._ticks) / 1000:.6f}"

    def add_message(
        self, channel_id: str, user_id: str, text: str, *, ts: str | None = None, thread_ts: str | None = None
    ) -> dict[str, Any]:
        """Adds a person's message to a channel's history and returns it as Slack shows it."""
        message: dict[str, Any] = {
            "type": "message",
            "user": user_id,
            "text": text,
            "ts": ts or self.next_ts(),
        }
        if thread_ts is not None:
            message["thread_ts"] = thread_ts
        with self._condition:
            self.messages.setdefault(channel_id, []).append(message)
        return message

    # --- recorded calls ----------------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        """Returns the parameters of every call to `method` so far."""
        with self._condition:
            return [call.params for call in self.calls if call.method == method]

    def wait_for(
        self,
        method: str,
        where: Callable[[dict[str, Any]], bool] = lambda _params: True,
        *,
        count: int = 1,
        timeout: float = 20.0,
    ) -> list[dict[str, Any]]:
        """Returns the calls to `method` matching `where` once there are `count`; fails after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                found = [call.params for call in self.calls if call.method == method and where(call.params)]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [call.method for call in self.calls]
                    raise AssertionError(f"no {count} x {method} within {timeout} s; calls so far: {seen}")
                self._condition.wait(remaining)

    # --- server ------------------------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        """Returns the Web API base URL (`SLACK_API_URL`)."""
        assert self._server is not None, "start the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/api/"

    @contextmanager
    def running(self) -> Iterator[FakeSlack]:
        """Serves the Web API on a free localhost port for the duration of the block."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # http.server's name
                self._answer(dict(parse_qsl(urlsplit(self.path).query)))

            def do_POST(self) -> None:  # http.server's name
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if self.path.startswith("/upload/"):
                    params: dict[str, Any] = {"content": raw}
                elif self.headers.get("Content-Type", "").startswith("application/json"):
                    params = json.loads(raw or "{}")
                else:
                    params = dict(parse_qsl(raw))
                params.update(parse_qsl(urlsplit(self.path).query))
                self._answer(params)

            def _answer(self, params: dict[str, Any]) -> None:
                path = urlsplit(self.path).path
                # A response_url (interactivity and slash commands) is recorded as the method "respond".
                method = "respond" if path.startswith("/respond/") else path.removeprefix("/api/")
                if path.startswith("/upload/"):
                    # The file bytes themselves, posted to the URL files.getUploadURLExternal handed out.
                    method = "upload"
                    params["file_id"] = path.removeprefix("/upload/")
                if method == "respond":
                    params["response_url"] = path
                status = fake.take_fault(method, params)
                if status is None:
                    answer = fake.handle(method, params)
                else:
                    error = "ratelimited" if status == 429 else "service_unavailable"
                    answer = {"ok": False, "error": error}
                body = json.dumps(answer).encode()
                self.send_response(status or 200)
                if status == 429:
                    self.send_header("Retry-After", "1")
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-slack", daemon=True
        )
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)

    def response_url(self) -> str:
        """Returns a fresh `response_url` for an interaction or a command.

        Posts to it are recorded as calls to "respond", with the URL's path as `response_url`.
        """
        return self.api_url.replace("/api/", f"/respond/{uuid.uuid4().hex}")

    # --- Web API -----------------------------------------------------------------------------------------

    def handle(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Records a call and returns the Web API's answer to it."""
        with self._condition:
            self.calls.append(Call(method, params))
            try:
                if method in self.failures:
                    return {"ok": False, "error": self.failures[method]}
                handler = getattr(self, "_" + method.replace(".", "_"), None)
                if handler is None:
                    return {"ok": False, "error": "unknown_method"}
                return handler(params)
            finally:
                self._condition.notify_all()

    def take_fault(self, method: str, params: dict[str, Any]) -> int | None:
        """Returns the HTTP status the next call to `method` fails with (recording the call), or None."""
        with self._condition:
            faults = self.http_faults.get(method)
            if not faults:
                return None
            self.calls.append(Call(f"{method}!{faults[0]}", params))
            self._condition.notify_all()
            return faults.pop(0)

    def _respond(self, _params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True}

    def _files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:  # Slack's name
        file_id = f"F{len(self.calls):08d}"
        return {
            "ok": True,
            "upload_url": self.api_url.replace("/api/", f"/upload/{file_id}"),
            "file_id": file_id,
        }

    def _upload(self, _params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True}

    def _files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:  # Slack's name
        files = (
            json.loads(params["files"]) if isinstance(params.get("files"), str) else params.get("files", [])
        )
        return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]}

    def _apps_connections_open(self, _params: dict[str, Any]) -> dict[str, Any]:
        if self.socket_url is None:
            return {"ok": False, "error": "not_allowed_token_type"}
        return {"ok": True, "url": self.socket_url()}

    def _auth_test(self, _params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": TEAM_URL,
            "team": "Acme",
            "user": "incident-copilot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(params.get("user", ""))
        return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}

    def _channel(self, channel_id: str) -> dict[str, Any] | None:
        return self.channels.get(channel_id)

    def _conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params.get("channel", ""))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "channel": {k: v for k, v in channel.items() if k != "members"}}

    def _conversations_members(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params.get("channel", ""))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "members": list(channel["members"]), "response_metadata": {"next_cursor": ""}}

    def _conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        messages = [
            m for m in self.messages.get(params["channel"], []) if m.get("thread_ts", m["ts"]) == m["ts"]
        ]
        if params.get("latest"):
            inclusive = str(params.get("inclusive", "")).lower() in {"1", "true"}
            latest = float(params["latest"])
            messages = [
                m for m in messages if float(m["ts"]) < latest or (inclusive and float(m["ts"]) == latest)
            ]
        newest_first = sorted(messages, key=lambda m: float(m["ts"]), reverse=True)
        return {"ok": True, "messages": newest_first[: int(params.get("limit") or 100)], "has_more": False}

    def _conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        thread_ts = params["ts"]
        messages = [
            m for m in self.messages.get(params["channel"], []) if thread_ts in (m["ts"], m.get("thread_ts"))
        ]
        oldest_first = sorted(messages, key=lambda m: float(m["ts"]))
        return {"ok": True, "messages": oldest_first[: int(params.get("limit") or 100)], "has_more": False}

    def _chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:  # Slack's name
        channel = params["channel"]
        if self._channel(channel) is None:
            return {"ok": False, "error": "channel_not_found"}
        message = {
            "type": "message",
            "subtype": "bot_message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "text": params.get("text", ""),
            "blocks": params.get("blocks"),
            "ts": self.next_ts(),
        }
        if params.get("thread_ts"):
            message["thread_ts"] = params["thread_ts"]
        self.messages[channel].append(message)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": message}

    # The assistant panel: status line, suggested prompts, title (recorded; Slack shows them in the panel).

    def _assistant_thread(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params.get("channel_id", ""))
        if channel is None or not channel.get("is_im"):
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True}

    def _assistant_threads_setStatus(self, params: dict[str, Any]) -> dict[str, Any]:  # Slack's name
        return self._assistant_thread(params)

    def _assistant_threads_setSuggestedPrompts(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._assistant_thread(params)

    def _assistant_threads_setTitle(self, params: dict[str, Any]) -> dict[str, Any]:  # Slack's name
        return self._assistant_thread(params)

    # Streams: a message started, appended to and stopped; like Slack, outside DMs a stream needs the
    # recipient user and team, and only a streaming message can be appended to or stopped.

    def _chat_startStream(self, params: dict[str, Any]) -> dict[str, Any]:  # Slack's name
        channel = self._channel(params.get("channel", ""))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if not channel.get("is_im") and not (
            params.get("recipient_user_id") and params.get("recipient_team_id")
        ):
            return {"ok": False, "error": "missing_recipient_user_id"}
        message = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "text": params.get("markdown_text", ""),
            "ts": self.next_ts(),
            "thread_ts": params["thread_ts"],
            "streaming": True,
        }
        self.messages[params["channel"]].append(message)
        return {"ok": True, "channel": params["channel"], "ts": message["ts"]}

    def _streaming_message(self, params: dict[str, Any]) -> dict[str, Any] | None:
        for message in self.messages.get(params.get("channel", ""), []):
            if message["ts"] == params.get("ts") and message.get("streaming"):
                return message
        return None

    def _chat_appendStream(self, params: dict[str, Any]) -> dict[str, Any]:  # Slack's name
        message = self._streaming_message(params)
        if message is None:
            return {"ok": False, "error": "message_not_in_streaming_state"}
        message["text"] += params.get("markdown_text", "")
        return {"ok": True, "channel": params["channel"], "ts": message["ts"]}

    def _chat_stopStream(self, params: dict[str, Any]) -> dict[str, Any]:  # Slack's name
        message = self._streaming_message(params)
        if message is None:
            return {"ok": False, "error": "message_not_in_streaming_state"}
        message["text"] += params.get("markdown_text") or ""
        message["blocks"] = params.get("blocks")
        message["streaming"] = False
        return {"ok": True, "channel": params["channel"], "ts": message["ts"], "message": message}

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        for message in self.messages.get(params["channel"], []):
            if message["ts"] == params["ts"]:
                message.update(text=params.get("text", ""), blocks=params.get("blocks"))
                return {"ok": True, "channel": params["channel"], "ts": params["ts"]}
        return {"ok": False, "error": "message_not_found"}

    def _chat_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        kept = self.messages.get(params["channel"], [])
        remaining = [message for message in kept if message["ts"] != params["ts"]]
        if len(remaining) == len(kept):
            return {"ok": False, "error": "message_not_found"}
        self.messages[params["channel"]] = remaining
        return {"ok": True, "channel": params["channel"], "ts": params["ts"]}

    def _chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:  # Slack's name
        channel = self._channel(params["channel"])
        if channel is None or params.get("user") not in channel["members"]:
            return {"ok": False, "error": "user_not_in_channel"}
        return {"ok": True, "message_ts": self.next_ts()}

    def _reactions_add(self, _params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True}

    def _reactions_remove(self, _params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True}

    def _chat_getPermalink(self, params: dict[str, Any]) -> dict[str, Any]:  # Slack's name
        ts = params["message_ts"].replace(".", "")
        return {
            "ok": True,
            "channel": params["channel"],
            "permalink": f"{TEAM_URL}archives/{params['channel']}/p{ts}",
        }


class SlackSender:
    """Sends requests to the app as Slack does: JSON events, form-encoded interactivity and commands, signed."""

    def __init__(self, base_url: str, signing_secret: str, *, path: str = "/slack/events") -> None:
        self.url = base_url.rstrip("/") + path
        self.signing_secret = signing_secret
        self.client = httpx.Client(timeout=30)

    def close(self) -> None:
        """Closes the HTTP connections."""
        self.client.close()

    def signed_headers(
        self, body: str, *, timestamp: int | None = None, secret: str | None = None
    ) -> dict[str, str]:
        """Returns the signature headers of a body: v0 HMAC-SHA256 over `v0:{timestamp}:{body}`."""
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        digest = hmac.new(
            (secret or self.signing_secret).encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256
        ).hexdigest()
        return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}

    def post(
        self,
        body: str,
        content_type: str,
        *,
        retry_num: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Posts a raw body, signed unless `headers` carry their own signature."""
        all_headers = {"Content-Type": content_type, **(headers or self.signed_headers(body))}
        if retry_num is not None:
            all_headers |= {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        return self.client.post(self.url, content=body.encode(), headers=all_headers)

    def event(
        self, event: dict[str, Any], *, event_id: str | None = None, retry_num: int | None = None
    ) -> httpx.Response:
        """Posts an Events API `event_callback` wrapping `event`."""
        body = json.dumps(event_callback(event, event_id=event_id))
        return self.post(body, "application/json", retry_num=retry_num)

    def action(self, payload: dict[str, Any]) -> httpx.Response:
        """Posts an interactivity payload (`payload=<json>`, form-encoded)."""
        return self.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")

    def command(self, fields: dict[str, str]) -> httpx.Response:
        """Posts a slash command (form-encoded fields)."""
        return self.post(urlencode(fields), "application/x-www-form-urlencoded")


def event_callback(event: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
    """Returns an Events API envelope exactly as Slack documents it."""
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM_ID,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(float(event.get("event_ts") or event.get("ts") or time.time())),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{uuid.uuid4().hex}",
    }


def mention_event(
    channel_id: str, user_id: str, text: str, *, ts: str, thread_ts: str | None = None
) -> dict[str, Any]:
    """Returns an `app_mention` event; `text` gets the app's mention in front, as Slack sends it."""
    event: dict[str, Any] = {
        "type": "app_mention",
        "user": user_id,
        "text": f"<@{BOT_USER_ID}> {text}",
        "ts": ts,
        "channel": channel_id,
        "event_ts": ts,
        "client_msg_id": str(uuid.uuid4()),
        "team": TEAM_ID,
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return event


def message_event(message: dict[str, Any], channel_id: str) -> dict[str, Any]:
    """Returns the `message` event (message.channels) of a message."""
    return {
        **message,
        "type": "message",
        "channel": channel_id,
        "event_ts": message["ts"],
        "channel_type": "channel",
    }


def block_actions_payload(
    *, user_id: str, channel_id: str, message: dict[str, Any], action_id: str, value: str, response_url: str
) -> dict[str, Any]:
    """Returns a `block_actions` payload for a button press on a message, as Slack sends it."""
    return {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "token": "legacy-verification-token",
        "container": {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": channel_id,
            "is_ephemeral": False,
            **({"thread_ts": message["thread_ts"]} if message.get("thread_ts") else {}),
        },
        "trigger_id": f"{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex[:12]}",
        "team": {"id": TEAM_ID, "domain": "acme"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": "channel"},
        "message": message,
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": "incident_confirmation",
                "text": {"type": "plain_text", "text": action_id, "emoji": True},
                "value": value,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def command_fields(
    *, user_id: str, channel_id: str, channel_name: str, text: str, response_url: str
) -> dict[str, str]:
    """Returns the form fields of an `/incident` slash command, as Slack sends them."""
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM_ID,
        "team_domain": "acme",
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_id.lower(),
        "command": "/incident",
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": f"{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex[:12]}",
    }


def slack_ts(moment: datetime) -> str:
    """Returns the Slack timestamp of a moment (for messages the tests date on the frozen clock)."""
    return datetime_to_ts(moment)

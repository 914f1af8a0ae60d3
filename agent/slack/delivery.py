"""Getting every reply to Slack: the Web API client's retries, then an outbox in the store.

The client retries what is worth retrying at once (slack_sdk's handlers: a 429 after its Retry-After,
server errors and dropped connections with bounded backoff). A reply that still cannot be posted is kept
in the store's outbox, logged with the turn it answers, and delivered by a background sender, on this
replica or another, once Slack takes it again. Errors that no retry can fix (a channel that is gone,
blocks Slack rejects) are raised to the caller as before, which tells the thread when it can.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.client import HTTPException
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import RetryHandler
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.web import SlackResponse

from agent.outbox import service as outbox
from agent.slack.store import StoreWriter

logger = logging.getLogger(__name__)

CHANNEL = "slack"

MAX_RETRIES = 5
"""Retries of one Web API call, all kinds together (slack_sdk counts one attempt number across handlers)."""

BACKOFF_FACTOR_S = 0.25
"""Server errors and dropped connections wait 0.25, 0.5, 1, 2, 4 s (plus up to 1 s of jitter)."""

FLUSH_INTERVAL_S = 5.0
LEASE = timedelta(minutes=2)
"""How long one sender holds a kept reply; longer than any one delivery with its retries takes."""

SENDABLE = frozenset({"chat_postMessage", "chat_update", "files_upload_v2"})
"""The Web API calls a kept reply may be; nothing read from the store calls anything else."""

LIVE_ONLY = frozenset({"chat_startStream", "chat_appendStream", "chat_stopStream", "chat_delete"})
"""Calls that only make sense now: a stream cannot be resumed later, so a failure is raised, never kept
(the caller falls back to one `chat.postMessage`, which is kept)."""

RETRYABLE_SLACK_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


def retry_handlers() -> list[RetryHandler]:
    """Returns the Web API client's retry handlers: rate limits, server errors, dropped connections."""
    backoff = BackoffRetryIntervalCalculator(backoff_factor=BACKOFF_FACTOR_S)
    return [
        ConnectionErrorRetryHandler(max_retry_count=MAX_RETRIES, interval_calculator=backoff),
        RateLimitErrorRetryHandler(max_retry_count=MAX_RETRIES),
        ServerErrorRetryHandler(max_retry_count=MAX_RETRIES, interval_calculator=backoff),
    ]


def is_retryable(error: BaseException) -> bool:
    """Returns whether trying the same call later may succeed (rate limits, outages, network trouble)."""
    if isinstance(error, SlackApiError):
        status = getattr(error.response, "status_code", 200)
        return status == 429 or status >= 500 or error.response.get("error") in RETRYABLE_SLACK_ERRORS
    return isinstance(error, URLError | HTTPException | OSError)


def describe(error: BaseException) -> str:
    """Returns a one-line account of a failed call, for the log and the outbox row."""
    if isinstance(error, SlackApiError):
        status = getattr(error.response, "status_code", "?")
        return f"HTTP {status} {error.response.get('error') or ''}".strip()
    return f"{type(error).__name__}: {error}".splitlines()[0]


@dataclass(frozen=True)
class FlushResult:
    """What one pass over the outbox did."""

    delivered: int
    failed: int


class SlackDelivery:
    """Posts replies through the Web API client, keeping in the outbox those that cannot go out yet."""

    def __init__(self, *, client: WebClient, writer: StoreWriter, now: Callable[[], datetime]) -> None:
        self.client = client
        self._writer = writer
        self._now = now
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def send(
        self, method: str, *, key: str, event_id: str | None = None, **payload: Any
    ) -> SlackResponse | None:
        """Calls `method` with `payload`; returns its response, or None when the reply was kept for later.

        Args:
            method: A WebClient method in `SENDABLE`, or in `LIVE_ONLY` (raised on failure, never kept).
            key: Names this reply (the agent turn and the kind of message), so it is kept once.
            event_id: The Slack event being answered, for the log.
            **payload: The call's arguments (JSON values: they may wait in the store).

        Raises:
            SlackApiError: when Slack refuses the call for a reason no retry fixes.
        """
        try:
            return self._call(method, payload, live=method in LIVE_ONLY)
        except Exception as error:
            if method in LIVE_ONLY or not is_retryable(error):
                raise
            reason = describe(error)
            logger.error(
                "Could not deliver %s for %s (event %s) after retries: %s; kept in the outbox",
                method,
                key,
                event_id or "-",
                reason,
            )
            now = self._now()
            self._writer.run(
                lambda session: outbox.enqueue(
                    db_session=session,
                    key=key,
                    channel=CHANNEL,
                    method=method,
                    payload=payload,
                    error=reason,
                    now=now,
                )
            )
            return None

    def flush(self, now: datetime | None = None) -> FlushResult:
        """Tries every kept reply that is due once; returns how many went out and how many failed again."""
        moment = now or self._now()
        due = self._writer.run(
            lambda session: outbox.lease_due(db_session=session, channel=CHANNEL, now=moment, lease=LEASE)
        )
        delivered = failed = 0
        for message in due:
            try:
                self._call(message.method, message.payload)
            except Exception as error:
                failed += 1
                permanent = not is_retryable(error)
                kept = self._writer.run(
                    lambda session, message_id=message.id, error=error, permanent=permanent: (
                        outbox.mark_failed(
                            db_session=session,
                            message_id=message_id,
                            error=describe(error),
                            now=moment,
                            permanent=permanent,
                        )
                    )
                )
                if kept.given_up_at is not None:
                    logger.error(
                        "Gave up delivering %s for %s after %d attempts: %s",
                        message.method,
                        message.key,
                        kept.attempts,
                        kept.last_error,
                    )
                continue
            self._writer.run(
                lambda session, message_id=message.id: outbox.mark_delivered(
                    db_session=session, message_id=message_id, now=moment
                )
            )
            delivered += 1
            logger.info("Delivered %s for %s from the outbox", message.method, message.key)
        return FlushResult(delivered=delivered, failed=failed)

    def _call(self, method: str, payload: dict[str, Any], *, live: bool = False) -> SlackResponse:
        # Checked on every call, kept replies included: a row of the store names the method to call, and
        # only calls made now (never one read from the store) may be a live-only one.
        if method not in SENDABLE and not (live and method in LIVE_ONLY):
            raise ValueError(f"{method} is not a reply the outbox can send")
        return getattr(self.client, method)(**payload)

    def start(self, interval: float = FLUSH_INTERVAL_S) -> None:
        """Starts the background sender: a pass at once (replies kept before a restart), then every `interval`."""
        if self._thread is not None:
            return

        def run() -> None:
            while True:
                try:
                    self.flush()
                except Exception:
                    logger.exception("A pass over the Slack outbox failed; trying again later")
                if self._stop.wait(interval):
                    return

        self._thread = threading.Thread(target=run, name="slack-outbox", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stops the background sender."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

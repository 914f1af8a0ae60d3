"""Builds the Bolt app: Web API client, runtime, middleware, the one error handler, and the listeners.

Building it needs no network: the token is not verified at startup (Bolt calls `auth.test` on the first
event instead), the agent runner is built on first use, and `SLACK_API_URL` decides where every Web API
call goes, which is how tests point it at a local fake.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from sqlalchemy import Engine

from agent.db import engine_for
from agent.settings import Settings
from agent.slack.catchup import CatchupCache, catchup_summary
from agent.slack.dedupe import EventDeduper
from agent.slack.delivery import SlackDelivery, retry_handlers
from agent.slack.directory import SlackDirectory
from agent.slack.ingest import TimelineIngest
from agent.slack.listeners import register_listeners
from agent.slack.runners import default_runner
from agent.slack.runtime import (
    CONTEXT_KEY,
    TIMELINE_SYNC_MODES,
    WRITE_PERMISSIONS,
    CountingExecutor,
    Runner,
    SlackRuntime,
)
from agent.slack.store import StoreWriter
from agent.slack.thread_context import StoreThreadContexts
from agent.slack.turns import post_error
from agent.slack.workers import ProcessRunner

logger = logging.getLogger(__name__)

AGENT_WORKERS = 4
"""Agent turns run at once; more would only queue on the model and the database."""

LISTENER_WORKERS = 16
"""Bolt listener threads; they only do quick work (claims, reactions, timeline rows) and hand off the rest."""

_RUNTIMES: weakref.WeakKeyDictionary[App, SlackRuntime] = weakref.WeakKeyDictionary()


def build_app(
    *,
    settings: Settings,
    engine: Engine | None = None,
    runner_factory: Callable[[], Runner] | None = None,
    web_client: WebClient | None = None,
    now: Callable[[], datetime] | None = None,
    socket_mode: bool = False,
    agent_processes: int = 0,
) -> App:
    """Returns the Slack app, ready to serve over HTTP or Socket Mode.

    Args:
        settings: Tokens, the Web API URL, the channel prefix, timeline and permission modes.
        engine: The incident store (default: the configured one, migrated).
        runner_factory: Builds the agent runner on first use (default: `AgentRunner` with durable
            checkpoints: in PostgreSQL when the store is, else in a file in the data folder).
        web_client: The Web API client (default: one on `SLACK_API_URL` with `SLACK_BOT_TOKEN`).
        now: The clock (default: the system clock in UTC); tests freeze it.
        socket_mode: Served over Socket Mode, where requests are not signed (no signing secret needed).
        agent_processes: Run the default runner in this many worker processes (0: on threads of this
            process), so agent turns never slow down acks; `slack serve` uses worker processes.

    Raises:
        ValueError: when a token, the signing secret or a mode setting is missing or unknown.
    """
    _check(settings, socket_mode=socket_mode)
    engine = engine if engine is not None else engine_for(settings.sqlalchemy_url)
    clock = now or (lambda: datetime.now(UTC))
    client = web_client or WebClient(
        token=settings.slack_bot_token,
        base_url=api_base_url(settings.slack_api_url),
        retry_handlers=retry_handlers(),
    )
    writer = StoreWriter(engine)
    deduper = EventDeduper(writer=writer, now=clock)
    listener_executor = CountingExecutor(max_workers=LISTENER_WORKERS, thread_name_prefix="slack-listener")
    runtime = SlackRuntime(
        settings=settings,
        engine=engine,
        client=client,
        now=clock,
        runner_factory=runner_factory or _default_factory(settings, engine, agent_processes),
        directory=SlackDirectory(
            client=client, engine=engine, channel_prefix=settings.incident_channel_prefix, now=clock
        ),
        writer=writer,
        deduper=deduper,
        delivery=SlackDelivery(client=client, writer=writer, now=clock),
        ingest=TimelineIngest(writer=writer, deduper=deduper),
        catchup=CatchupCache(
            compute=lambda incident_id, moment: catchup_summary(
                engine=engine, incident_id=incident_id, now=moment
            ),
            now=clock,
        ),
        agent_executor=CountingExecutor(max_workers=AGENT_WORKERS, thread_name_prefix="slack-agent"),
        listener_executor=listener_executor,
    )
    app = App(
        name="incident-copilot",
        # The token travels with the client (Bolt warns when given both).
        signing_secret=settings.slack_signing_secret,
        token_verification_enabled=False,
        client=client,
        process_before_response=False,
        listener_executor=listener_executor,
        # The assistant panel's listeners get their own conversation middleware (`slack_bolt.Assistant`);
        # app-wide it would run on every event, and workflow functions are not used.
        attaching_conversation_kwargs_enabled=False,
        attaching_function_token_enabled=False,
    )

    @app.use
    def provide_runtime(context: BoltContext, next: Callable[[], None]) -> None:  # Bolt's name
        context[CONTEXT_KEY] = runtime
        next()

    app.error(handle_error)
    register_listeners(app, thread_context_store=StoreThreadContexts(engine=engine, writer=writer, now=clock))
    _RUNTIMES[app] = runtime
    runtime.delivery.start()
    return app


def runtime_for(app: App) -> SlackRuntime:
    """Returns the runtime of an app made by `build_app` (to warm it up or close it)."""
    return _RUNTIMES[app]


def api_base_url(url: str) -> str:
    """Returns the Web API base URL with the trailing slash the client appends method names to."""
    return url if url.endswith("/") else f"{url}/"


def _default_factory(settings: Settings, engine: Engine, processes: int) -> Callable[[], Runner]:
    database_url = engine.url.render_as_string(hide_password=False)
    if processes > 0:
        return lambda: ProcessRunner(settings=settings, database_url=database_url, processes=processes)
    return lambda: default_runner(settings=settings, database_url=database_url)


def handle_error(error: Exception, body: dict[str, Any], context: BoltContext) -> None:
    """Logs any error a listener let through, with detail, and tells the thread in one sentence."""
    logger.error("Slack listener failed on %s", _describe(body), exc_info=error)
    event = body.get("event") or {}
    runtime = context.get(CONTEXT_KEY)
    if isinstance(runtime, SlackRuntime) and event.get("type") == "app_mention" and event.get("channel"):
        post_error(
            runtime,
            channel_id=event["channel"],
            thread_ts=event.get("thread_ts") or event.get("ts"),
            error=error,
            key=f"error:{body.get('event_id') or event.get('ts')}",
            event_id=body.get("event_id"),
        )


def _describe(body: dict[str, Any]) -> str:
    event = body.get("event") or {}
    kind = event.get("type") or body.get("type") or body.get("command") or "request"
    return f"{kind} {body.get('event_id') or ''}".strip()


def _check(settings: Settings, *, socket_mode: bool) -> None:
    required = [("SLACK_BOT_TOKEN", settings.slack_bot_token)]
    if socket_mode:
        required.append(("SLACK_APP_TOKEN", settings.slack_app_token))
    else:
        required.append(("SLACK_SIGNING_SECRET", settings.slack_signing_secret))
    missing = [name for name, value in required if not value]
    if missing:
        raise ValueError(f"Set {' and '.join(missing)} to run the Slack app (see README, Slack setup).")
    if settings.timeline_sync not in TIMELINE_SYNC_MODES:
        raise ValueError(f"INCIDENT_COPILOT_TIMELINE_SYNC must be one of {', '.join(TIMELINE_SYNC_MODES)}.")
    if settings.write_permission not in WRITE_PERMISSIONS:
        raise ValueError(f"INCIDENT_COPILOT_WRITE_PERMISSION must be one of {', '.join(WRITE_PERMISSIONS)}.")

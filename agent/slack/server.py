"""Serves the Slack app: HTTP under uvicorn (Bolt's Starlette adapter), or Socket Mode.

Bolt's built-in development server is single-threaded with a listen backlog of 5; under 20 simultaneous
deliveries it acks in about a second and resets connections. Here uvicorn accepts the connections, the
signature is checked before anything else, and the request goes to Bolt's synchronous `dispatch`: on the
event loop for Events API deliveries (Bolt acks those before it starts the listener, so dispatch is quick),
on a worker thread for interactivity and commands (there dispatch waits for the listener to call ack()).
"""

from __future__ import annotations

import logging
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from agent.slack.app import runtime_for

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
"""Where Slack sends events, interactivity and slash commands (the manifest's request URLs)."""

STARTUP_TIMEOUT_S = 15.0


def asgi_app(app: App) -> Starlette:
    """Returns the ASGI application: `POST /slack/events` for Slack, `GET /healthz` for load balancers.

    A request not signed with the signing secret, or signed more than five minutes ago, is refused with
    401 before its body is even parsed; a signed body that cannot be parsed gets 400.
    """
    verifier = SignatureVerifier(runtime_for(app).settings.slack_signing_secret or "")

    async def slack_events(request: Request) -> Response:
        body = await request.body()
        try:
            signed = verifier.is_valid(
                body,
                request.headers.get("x-slack-request-timestamp"),
                request.headers.get("x-slack-signature"),
            )
        except ValueError:  # a timestamp that is not a number
            signed = False
        if not signed:
            return PlainTextResponse("invalid request", status_code=401)
        try:
            bolt_request = to_bolt_request(request, body)
        except ValueError:
            logger.warning("Refused a signed request whose body is not a Slack payload")
            return PlainTextResponse("unreadable payload", status_code=400)
        if request.headers.get("content-type", "").startswith("application/json"):
            # Events API: Bolt acks before it starts the listener, so dispatch returns in about a
            # millisecond and a hop to a worker thread would cost more than it saves.
            return to_starlette_response(app.dispatch(bolt_request))
        # Interactivity and commands: dispatch waits until the listener calls ack().
        return to_starlette_response(await run_in_threadpool(app.dispatch, bolt_request))

    async def healthz(_request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route(EVENTS_PATH, slack_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


SWITCH_INTERVAL_S = 0.001
"""How long a thread may hold the interpreter before another may take it (Python's default is 5 ms).

Agent turns run on threads of the same process and are mostly CPU-bound with the offline model; a
shorter interval lets the thread answering Slack get in between them sooner, which keeps acks fast.
"""


def _exit_on_sigterm() -> None:
    """Makes SIGTERM (how a container or a supervisor stops a replica) end the process by `SystemExit`.

    By default SIGTERM kills the process on the spot, so the caller's `finally` never runs and the agent's
    worker processes are left behind. uvicorn handles SIGTERM itself while it serves and raises it again
    once it has shut down, so with this handler in place that ends in `SystemExit` too.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))


def serve_http(app: App, *, host: str = "0.0.0.0", port: int = 3000) -> None:  # Slack must reach it
    """Serves the app over HTTP until interrupted or terminated."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    _exit_on_sigterm()
    uvicorn.run(asgi_app(app), host=host, port=port, log_level="info", access_log=False)


SOCKET_PING_INTERVAL_S = 3.0
"""Seconds between pings on the Socket Mode connection. slack_sdk's client takes a connection that has
not answered for four intervals as dropped and opens a new one, so a cut connection is replaced within
about 12 s instead of 20 s at its default of 5; Slack keeps undelivered events for the new connection."""


def socket_mode_handler(app: App, *, app_token: str) -> SocketModeHandler:
    """Returns Bolt's Socket Mode handler of the app, not yet connected."""
    return SocketModeHandler(app, app_token, ping_interval=SOCKET_PING_INTERVAL_S)


def serve_socket_mode(app: App, *, app_token: str) -> None:
    """Connects to Slack over Socket Mode (no public URL needed) until interrupted or terminated."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    _exit_on_sigterm()
    socket_mode_handler(app, app_token=app_token).start()


@contextmanager
def serve_in_background(app: App, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Yields the base URL of the app served by uvicorn on a background thread, stopping it on exit.

    Port 0 takes a free port. Startup is waited for, up to `STARTUP_TIMEOUT_S`.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(asgi_app(app), log_level="warning", access_log=False, backlog=512, lifespan="off")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="slack-http", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the Slack HTTP server did not start within {STARTUP_TIMEOUT_S:.0f} s")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT_S)
        sock.close()

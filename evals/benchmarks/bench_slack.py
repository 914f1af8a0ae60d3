"""Benchmark the Slack app over real HTTP: ack latency under concurrent mentions, and timeline ingestion.

Run with ``python -m evals.benchmarks.bench_slack``. Three processes, as in production: the app runs as
`incident-copilot slack serve`; this process builds the demo organisation (without the search index; the
questions asked need none) and plays the Slack Web API (the local fake); a third process plays Slack's
delivery side and sends the signed requests, so the clocks that measure acks share the interpreter with
nothing else. It prints:

* ack latency (request sent to HTTP 200) of ``--mentions`` simultaneous ``app_mention`` deliveries, over
  ``--rounds`` rounds, answered by the real agent with the offline model; p50, p99 and the worst (target:
  p99 < 300 ms), and how long the answers took to arrive in their threads;
* timeline ingestion: a burst of ``--messages`` channel ``message`` deliveries into an incident channel,
  ``--duplicates`` of them redeliveries (same event id with ``X-Slack-Retry-Num``, or the same message under
  a new event id), sent by 16 concurrent senders; messages/s from the first send until every row is stored
  (target: >= 500 messages/s), and the rows stored, which must equal the unique messages;
* the machine's load average, since these numbers are CPU-bound and the machine may be shared.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from multiprocessing.pool import Pool
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import func, select

from agent.db import make_engine, session_scope, upgrade
from agent.demo.build import build_demo
from agent.incidents import service
from agent.incidents.models import TimelineEntry
from evals.fake_slack import (
    FakeSlack,
    SlackSender,
    event_callback,
    mention_event,
    message_event,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SECRET = "bench-signing-secret"
GENERAL = "C0GENERAL"
SENDERS = 16
ACK_TARGET_MS = 300.0
INGEST_TARGET = 500.0
QUESTIONS = (
    "How many incidents are currently ongoing?",
    "Show me all Sev-1 incidents that occurred in the past week",
    "What was the root cause of incident-123?",
    "What remediation actions did the responders take in incident-123?",
)
PEOPLE = ("Priya Raman", "Marcus Chen", "Sofia Alvarez", "Daniel Okafor", "Hannah Schmidt", "Kenji Watanabe")
CHATTER = (
    "Seeing {n}% 5xx on checkout since the deploy",
    "Rolling back payments to the previous release now",
    "Error rate dropping, {n} errors in the last minute",
    "Support reports {n} tickets about failed payments",
    "Restarted two pods stuck in a crash loop",
    "Is anyone looking at the replica lag?",
)

Request = tuple[bytes, dict[str, str]]


def percentile(values: list[float], fraction: float) -> float:
    """Returns the nearest-rank percentile of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def send_burst(url: str, requests: list[Request], concurrency: int) -> list[float]:
    """Returns the milliseconds from send to HTTP 200 of each request, sent by `concurrency` threads at once.

    Runs in the sender process. Each thread keeps one connection (as Slack's delivery workers do) and all
    of them start together.
    """
    parts = urlsplit(url)
    start = threading.Barrier(concurrency)

    def worker(first: int) -> list[float]:
        connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
        start.wait()
        latencies = []
        for body, headers in requests[first::concurrency]:
            began = time.perf_counter()
            connection.request("POST", parts.path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            latencies.append((time.perf_counter() - began) * 1000)
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status} from the app")
        connection.close()
        return latencies

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return [ms for latencies in pool.map(worker, range(concurrency)) for ms in latencies]


def signed(sender: SlackSender, envelope: dict[str, object], *, retry: bool = False) -> Request:
    """Returns an Events API request body and its headers, signed now."""
    body = json.dumps(envelope)
    headers = {"Content-Type": "application/json", **sender.signed_headers(body)}
    if retry:
        headers |= {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    return body.encode(), headers


def cpu_seconds(pid: int) -> float | None:
    """Returns the CPU time (user + system) a process has used so far, where /proc tells (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def answers_delivered(fake: FakeSlack) -> int:
    """Returns how many answers reached Slack: posted whole, or streamed to the end."""
    return len(fake.calls_to("chat.postMessage")) + len(fake.calls_to("chat.stopStream"))


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    """Polls `condition` every 10 ms until it holds; raises after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(0.01)


def bench_acks(fake: FakeSlack, sender: SlackSender, senders: Pool, *, mentions: int, rounds: int) -> None:
    """Sends rounds of simultaneous mentions; prints ack latency and how long the answers took."""
    latencies: list[float] = []
    answer_seconds: list[float] = []
    for round_number in range(rounds):
        requests = [
            signed(
                sender,
                event_callback(
                    mention_event(
                        GENERAL, f"U0P{i % len(PEOPLE)}", QUESTIONS[i % len(QUESTIONS)], ts=fake.next_ts()
                    )
                ),
            )
            for i in range(mentions)
        ]
        # An answer is one message, or a long one streamed (it is complete once its stream stops).
        before = answers_delivered(fake)
        started = time.perf_counter()
        latencies += senders.apply(send_burst, (sender.url, requests, mentions))
        wait_until(
            lambda expected=before + mentions: answers_delivered(fake) >= expected,
            timeout=600,
            what="every answer",
        )
        answer_seconds.append(time.perf_counter() - started)
        print(f"  round {round_number + 1}: all {mentions} answers posted after {answer_seconds[-1]:.2f} s")
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    verdict = "OK" if p99 < ACK_TARGET_MS else "MISSED"
    print(
        f"ack latency, {mentions} simultaneous mentions x {rounds} rounds ({len(latencies)} requests): "
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, worst {max(latencies):.1f} ms "
        f"(target p99 < {ACK_TARGET_MS:.0f} ms: {verdict})"
    )
    print(f"answers posted per round: median {statistics.median(answer_seconds):.2f} s (offline model)")


def bench_ingestion(
    fake: FakeSlack,
    sender: SlackSender,
    senders: Pool,
    *,
    channel_id: str,
    messages: int,
    duplicates: float,
    count_rows: Callable[[], int],
    app_pid: int,
) -> None:
    """Sends a burst of channel messages with redeliveries; prints throughput and the rows stored."""
    rng = random.Random(7)
    unique = messages - round(messages * duplicates)
    firsts = []
    for index in range(unique):
        text = rng.choice(CHATTER).format(n=rng.randint(2, 90))
        message = {"type": "message", "user": f"U0P{index % len(PEOPLE)}", "text": text, "ts": fake.next_ts()}
        firsts.append(event_callback(message_event(message, channel_id)))
    requests = [signed(sender, envelope) for envelope in firsts]
    for number in range(messages - unique):
        envelope = firsts[rng.randrange(unique)]
        if number % 3 == 2:
            # The same message under a new event id: only the timeline's (channel, ts) key catches it.
            envelope = envelope | {"event_id": f"{envelope['event_id']}X{number}"}
        requests.append(signed(sender, envelope, retry=True))
    tail = requests[unique // 2 :]
    rng.shuffle(tail)  # redeliveries arrive mixed in with later messages
    requests[unique // 2 :] = tail
    rows_before = count_rows()
    cpu_before = cpu_seconds(app_pid)

    started = time.perf_counter()
    acks = senders.apply(send_burst, (sender.url, requests, SENDERS))
    acked = time.perf_counter() - started
    try:
        wait_until(
            lambda: count_rows() - rows_before >= unique, timeout=120, what="storing every unique message"
        )
    except RuntimeError as error:
        print(f"  {error}")
    elapsed = time.perf_counter() - started
    cpu_after = cpu_seconds(app_pid)
    stored = count_rows() - rows_before
    rate = len(requests) / elapsed
    verdict = "OK" if rate >= INGEST_TARGET and stored == unique else "MISSED"
    print(
        f"timeline ingestion, {len(requests)} deliveries ({unique} unique, {len(requests) - unique} duplicates) "
        f"by {SENDERS} senders: {rate:.0f} messages/s until stored ({elapsed:.2f} s; all acked after "
        f"{acked:.2f} s, ack p99 {percentile(acks, 0.99):.1f} ms); rows stored {stored} (expected {unique}) "
        f"(target >= {INGEST_TARGET:.0f} messages/s and rows == unique: {verdict})"
    )
    if cpu_before is not None and cpu_after is not None:
        per_delivery = (cpu_after - cpu_before) / len(requests) * 1000
        print(
            f"  the app used {per_delivery:.2f} ms of CPU per delivery: about {1000 / per_delivery:.0f} deliveries/s "
            "on one free core, whatever else the machine is doing"
        )


def serve_app(*, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Starts `incident-copilot slack serve` on a localhost port; returns the process once it answers."""
    command = [sys.executable, "-c", "from agent.cli import main; main()", "slack", "serve"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--now", NOW.isoformat()]
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=os.environ | env, stdout=output, stderr=subprocess.STDOUT)

    def answers() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited with {process.returncode}; see {log}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/healthz")
            return connection.getresponse().status == 200
        except OSError:
            return False

    wait_until(answers, timeout=120, what="the app's startup")
    return process


def main() -> None:
    """Runs both benchmarks and prints their numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentions", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--duplicates", type=float, default=0.3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-slack-") as folder:
        data_dir = Path(folder)
        url = f"sqlite:///{data_dir / 'incidents.db'}"
        engine = make_engine(url)
        upgrade(engine)
        started = time.perf_counter()
        build_demo(engine=engine, index=None, now=NOW, seed=7)
        print(f"demo organisation built in {time.perf_counter() - started:.1f} s")
        with session_scope(engine) as session:
            incident = service.query(
                db_session=session, criteria=service.IncidentFilter(), limit=1
            ).incidents[0]
            channel_id = incident.slack_channel_id or "C0BENCH"
            channel_name = incident.slack_channel_name or f"incident-{incident.id}"
            incident_id = incident.id

        fake = FakeSlack(start_ts=NOW.timestamp())
        people = [f"U0P{index}" for index in range(len(PEOPLE))]
        for user_id, name in zip(people, PEOPLE, strict=True):
            fake.add_user(user_id, name)
        fake.add_channel(GENERAL, "general", members=people)
        fake.add_channel(channel_id, channel_name, members=people)

        def count_rows() -> int:
            with session_scope(engine) as session:
                count = session.scalar(
                    select(func.count(TimelineEntry.id)).where(
                        TimelineEntry.incident_id == incident_id, TimelineEntry.slack_channel_id == channel_id
                    )
                )
            return count or 0

        with (
            fake.running(),
            multiprocessing.get_context("spawn").Pool(1) as senders,
            socket.socket() as probe,
        ):
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
            probe.close()
            env = {
                "SLACK_BOT_TOKEN": "xoxb-bench",
                "SLACK_SIGNING_SECRET": SECRET,
                "SLACK_API_URL": fake.api_url,
                "INCIDENT_COPILOT_DATA_DIR": str(data_dir),
                "DATABASE_URL": url,
                "INCIDENT_COPILOT_MODEL": "offline",
                "INCIDENT_COPILOT_TIMELINE_SYNC": "all",
                "INCIDENT_CHANNEL_PREFIX": "incident-",
            }
            process = serve_app(port=port, env=env, log=data_dir / "app.log")
            try:
                sender = SlackSender(f"http://127.0.0.1:{port}", SECRET)
                started = time.perf_counter()
                warm = signed(
                    sender, event_callback(mention_event(GENERAL, people[0], QUESTIONS[0], ts=fake.next_ts()))
                )
                senders.apply(send_burst, (sender.url, [warm], 1))
                fake.wait_for("chat.postMessage", timeout=600)
                print(
                    f"first answer (loads the agent and the offline model) after {time.perf_counter() - started:.1f} s"
                )
                bench_acks(fake, sender, senders, mentions=args.mentions, rounds=args.rounds)
                bench_ingestion(
                    fake,
                    sender,
                    senders,
                    channel_id=channel_id,
                    messages=args.messages,
                    duplicates=args.duplicates,
                    count_rows=count_rows,
                    app_pid=process.pid,
                )
                sender.close()
            finally:
                process.terminate()
                process.wait(timeout=30)
        engine.dispose()
        load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        print(f"load average (1, 5, 15 min) at the end: {load} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()

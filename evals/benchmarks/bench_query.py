"""Benchmark query latency over a large store: a filtered list and a hybrid semantic search.

Run with ``python -m evals.benchmarks.bench_query [--incidents 100000] [--database-url URL] [--queries 200]``.
It

1. builds a store of N generated incidents (15 services, declared over the past 365 days, three timeline
   messages each) with bulk inserts, so the full-text triggers and the index queue fire as for any writer:
   a SQLite file under ``--workdir`` by default, or the (empty, or already built by this benchmark) database
   that ``--database-url`` names, such as a PostgreSQL schema
   (``postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3Dbench_x``);
2. indexes them with `IncidentIndex.sync`, the slow part (the embedding). The embedded Chroma index under
   ``--workdir`` depends only on N and the seed, not on the SQL engine, so it is built once and shared:
   with an index already built for this N, step 2 compares each document with the store and embeds none;
   an interrupted build resumes where it stopped. ``--sql-only`` skips the index and times only the SQL
   queries (the filtered list and the full-text search);
3. times, over `--queries` queries each, after a warm-up:
   (a) `service.query` with severity + service + a 7-day window (the filtered list);
   (b) `search_incidents` with a free-text query (refresh check, query embedding, Chroma, full text);
   (c) `search_incidents` with a free-text query inside a 30-day window;
   and prints p50/p95 against the 30 ms target, with the parts of (b) timed separately.

A store already holding N incidents of this benchmark is reused, so a second run only measures. Nothing
touches the network.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session

from agent.db import make_engine, session_factory, upgrade
from agent.incidents import service
from agent.incidents.enums import Severity, Status, TimelineKind
from agent.incidents.models import Incident, Service, TimelineEntry, incident_services
from agent.incidents.service import IncidentFilter
from agent.search.embedding import get_embedding
from agent.search.hybrid import search_incidents
from agent.search.index import IncidentIndex, open_index
from agent.search.keyword import keyword_search

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
TARGET_MS = 30.0
BUILD_FORMAT = 2

SERVICES = [
    ("checkout", "Checkout"),
    ("payments", "Payments API"),
    ("auth", "Authentication"),
    ("search", "Search API"),
    ("notifications", "Notifications"),
    ("orders", "Orders API"),
    ("inventory", "Inventory"),
    ("api-gateway", "API Gateway"),
    ("cdn", "CDN"),
    ("postgres", "PostgreSQL fleet"),
    ("kafka", "Kafka"),
    ("dns", "Internal DNS"),
    ("mobile-backend", "Mobile backend"),
    ("billing", "Billing"),
    ("data-pipeline", "Data pipeline"),
]
CAUSES = [
    (
        "Bad deploy of {svc} returned errors",
        "Release {ver} of {svc} introduced a regression; error rate rose to {pct}%.",
        "A code change in release {ver} was not covered by tests.",
        "Rolled back to the previous release.",
    ),
    (
        "Config push broke {svc}",
        "A configuration push disabled the connection pool of {svc} on {host}.",
        "An invalid value in the config push was not validated.",
        "Reverted the config and added validation.",
    ),
    (
        "TLS certificate expired for {svc}",
        "The certificate of {svc} expired and clients failed the TLS handshake.",
        "The renewal job had been failing silently for weeks.",
        "Renewed the certificate and alerted on expiry 30 days ahead.",
    ),
    (
        "DNS resolution failures affecting {svc}",
        "Lookups from {svc} to {host} timed out after resolver pods were OOM-killed.",
        "Resolver memory limits were too low for the new query volume.",
        "Raised limits and added a second resolver pool.",
    ),
    (
        "DDoS against {svc}",
        "A botnet flooded {svc} with requests; {pct}% of legitimate traffic was dropped.",
        "Rate limits at the edge were too permissive for a layer 7 flood.",
        "Enabled stricter WAF rules and upstream scrubbing.",
    ),
    (
        "Database failover degraded {svc}",
        "The primary {host} failed and promotion of the replica took {mins} minutes.",
        "A degraded disk on the primary stalled replication.",
        "Automated failover and replaced the disk.",
    ),
    (
        "Capacity exhaustion on {svc}",
        "Traffic {pct}% above forecast saturated {svc}; latency p99 reached {mins} seconds.",
        "Autoscaling hit the account instance limit.",
        "Raised limits and added capacity planning to the runbook.",
    ),
    (
        "Third-party outage impacted {svc}",
        "Our provider returned {code} for {pct}% of calls from {svc}.",
        "A partial outage at the provider.",
        "Failed over to the secondary provider.",
    ),
]
MESSAGES = [
    "Seeing {code} in the logs of {host}",
    "Error rate on {svc} is at {pct}%, paging the owner",
    "Mitigation applied on {host}, watching the graphs",
]
SEMANTIC_QUERIES = [
    "denial of service attack",
    "database failover took too long",
    "certificate expired",
    "a config change broke production",
    "DNS lookups timing out",
    "payment provider outage",
    "bad release rolled back",
    "ran out of capacity during a traffic spike",
    "checkout errors after deploy",
    "login failures for customers",
]


@dataclass
class Timing:
    """Latencies of one kind of query, in milliseconds."""

    name: str
    samples: list[float]

    def line(self) -> str:
        """Returns a one-line summary against the target."""
        p50 = statistics.median(self.samples)
        p95 = statistics.quantiles(self.samples, n=20)[18]
        verdict = "ok" if p95 < TARGET_MS else "MISSES TARGET"
        return f"{self.name:58s} p50 {p50:7.2f} ms   p95 {p95:7.2f} ms   ({verdict})"


def _fill(template: str, rng: random.Random, svc: str) -> str:
    return template.format(
        svc=svc,
        ver=f"{rng.randint(2024, 2026)}.{rng.randint(1, 12)}.{rng.randint(0, 9)}",
        pct=rng.randint(2, 90),
        mins=rng.randint(2, 40),
        host=f"{rng.choice(['db', 'api', 'edge', 'cache'])}-{rng.randint(1, 40):02d}.{rng.choice(['us-east-1', 'eu-west-1'])}",
        code=f"ERR_{rng.choice(['PAYMENT', 'UPSTREAM', 'AUTH', 'QUOTA'])}_{rng.randint(1000, 9999)}",
    )


def build_store(engine: Engine, incidents: int, seed: int) -> None:
    """Writes `incidents` generated incidents with bulk inserts."""
    rng = random.Random(seed)
    with engine.begin() as connection:
        connection.execute(
            insert(Service.__table__),
            [
                {"id": n, "name": name, "display_name": display, "aliases": []}
                for n, (name, display) in enumerate(SERVICES, 1)
            ],
        )
    chunk = 5000
    for start in range(1, incidents + 1, chunk):
        rows, links, entries = [], [], []
        for number in range(start, min(start + chunk, incidents + 1)):
            declared = NOW - timedelta(seconds=rng.randint(0, 365 * 86400))
            services = rng.sample(range(1, len(SERVICES) + 1), k=rng.choice([1, 1, 2]))
            svc = SERVICES[services[0] - 1][0]
            title, summary, cause, fix = (_fill(t, rng, svc) for t in rng.choice(CAUSES))
            ongoing = declared > NOW - timedelta(days=2) and rng.random() < 0.5
            rows.append(
                {
                    "id": number,
                    "title": title,
                    "severity": rng.choice(list(Severity)).value,
                    "status": Status.active.value if ongoing else Status.resolved.value,
                    "declared_at": declared,
                    "resolved_at": None if ongoing else declared + timedelta(minutes=rng.randint(10, 600)),
                    "summary": summary,
                    "root_cause": cause,
                    "remediation": fix,
                    "private": rng.random() < 0.02,
                    "responders": [],
                    "version": 1,
                    "updated_at": declared,
                }
            )
            links += [{"incident_id": number, "service_id": s} for s in services]
            entries += [
                {
                    "incident_id": number,
                    "at": declared + timedelta(minutes=minute),
                    "author": "oncall",
                    "kind": TimelineKind.message.value,
                    "text": _fill(message, rng, svc),
                    "source": "import",
                    "pinned": False,
                }
                for minute, message in enumerate(MESSAGES, start=1)
            ]
        with engine.begin() as connection:
            connection.execute(insert(Incident.__table__), rows)
            connection.execute(insert(incident_services), links)
            connection.execute(insert(TimelineEntry.__table__), entries)


def prepare(
    workdir: Path, database_url: str | None, incidents: int, seed: int, *, with_index: bool
) -> tuple[Engine, IncidentIndex | None]:
    """Returns the store and (unless not `with_index`) the index, building what is not built yet.

    The index is built with `IncidentIndex.sync`, which embeds only the documents it does not hold, so an
    interrupted build resumes where it stopped; `index.json` marks a complete one.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(database_url or f"sqlite:///{workdir / 'incidents.db'}")
    upgrade(engine)
    with session_factory(engine)() as db_session:
        held = service.count_incidents(db_session=db_session)
    if held not in (0, incidents):
        raise SystemExit(f"the database holds {held:,} incidents, not 0 or {incidents:,}: give an empty one")
    print(f"store: {engine.dialect.name}; index: {workdir / 'chroma' if with_index else 'none (--sql-only)'}")
    if held == 0:
        started = time.perf_counter()
        build_store(engine, incidents, seed)
        print(f"store: {incidents:,} incidents written in {time.perf_counter() - started:.1f} s")
        if engine.dialect.name == "postgresql":
            # What autovacuum does soon after a bulk load, done now: the planner needs row counts and word
            # frequencies to choose between an index and a scan (and autovacuum may be off, as it is here).
            with engine.begin() as connection:
                connection.exec_driver_sql("ANALYZE incidents, incident_services, timeline_entries, services")
    else:
        print(f"store: reusing the {incidents:,} incidents it holds")
    if not with_index:
        return engine, None

    stamp = workdir / "index.json"
    wanted = {"incidents": incidents, "seed": seed, "format": BUILD_FORMAT, "embedding": embedding_name()}
    complete = stamp.exists() and json.loads(stamp.read_text()) == wanted
    index = open_index(path=workdir / "chroma")
    started = time.perf_counter()
    last = [0.0]

    def progress(done: int, total: int) -> None:
        if done == total or time.perf_counter() - last[0] > 60:
            last[0] = time.perf_counter()
            rate = done / (last[0] - started)
            print(f"  indexed {done:,}/{total:,} ({rate:.0f} incidents/s)", flush=True)

    with session_factory(engine)() as db_session:
        report = index.sync(db_session, progress=progress)
    seconds = time.perf_counter() - started
    if complete:
        print(
            f"index: complete before; checked {report.unchanged + report.changed:,} documents against "
            f"the store in {seconds:.1f} s ({report.changed} written)"
        )
    else:
        print(
            f"index: {report.added:,} documents embedded in {seconds:.1f} s "
            f"({report.added / seconds:.1f} docs/s; {report.unchanged:,} were already there)"
        )
        stamp.write_text(json.dumps(wanted))
    return engine, index


def embedding_name() -> str:
    """Returns what the index's vectors depend on, so an index built by another embedding is not reused."""
    return json.dumps(get_embedding().get_config(), sort_keys=True)


def measure(name: str, runs: list[Callable[[], object]], warmup: int = 5) -> Timing:
    """Runs each callable once (after `warmup` untimed ones) and collects latencies."""
    for run in runs[:warmup]:
        run()
    samples = []
    for run in runs:
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    return Timing(name, samples)


def run_queries(db_session: Session, index: IncidentIndex | None, queries: int, seed: int) -> list[Timing]:
    """Times the three kinds of query and the parts of a search (only the SQL ones without an index)."""
    rng = random.Random(seed + 1)
    names = [name for name, _display in SERVICES]
    filters = [
        IncidentFilter(
            severities=frozenset({rng.choice([Severity.sev1, Severity.sev2, Severity.sev3])}),
            services=(rng.choice(names),),
            since=(end := NOW - timedelta(days=rng.randint(0, 358))) - timedelta(days=7),
            until=end,
        )
        for _ in range(queries)
    ]
    texts = [
        f"{rng.choice(SEMANTIC_QUERIES)} {rng.choice(['', 'on ' + rng.choice(names)])}".strip()
        for _ in range(queries)
    ]
    windows = [
        IncidentFilter(
            since=(start := NOW - timedelta(days=rng.randint(30, 365))), until=start + timedelta(days=30)
        )
        for _ in range(queries)
    ]

    sql = [
        measure(
            "(a) filtered list: severity + service + 7 days",
            [lambda f=f: service.query(db_session=db_session, criteria=f, limit=20) for f in filters],
        ),
        measure(
            "    (b) part: keyword_search",
            [lambda t=t: keyword_search(db_session, t, limit=40) for t in texts],
        ),
    ]
    if index is None:
        return sql
    vectors = [index.embedding.embed_query(t) for t in texts]
    return [
        sql[0],
        measure(
            "(b) search_incidents, free text",
            [lambda t=t: search_incidents(db_session, index, query=t, limit=10) for t in texts],
        ),
        measure(
            "(c) search_incidents, free text in a 30-day window",
            [
                lambda t=t, w=w: search_incidents(db_session, index, query=t, criteria=w, limit=10)
                for t, w in zip(texts, windows, strict=True)
            ],
        ),
        measure(
            "    (b) part: index.refresh (freshness check)", [lambda: index.refresh(db_session)] * queries
        ),
        measure("    (b) part: embed the query", [lambda t=t: index.embedding.embed_query(t) for t in texts]),
        measure(
            "    (b) part: index.nearest (Chroma, 100 nearest)",
            [lambda v=v: index.nearest(v, limit=100) for v in vectors],
        ),
        sql[1],
    ]


def main() -> None:
    """Builds (or reuses) the store and index, then prints the latencies."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--incidents", type=int, default=100_000, help="incidents in the store (default 100,000)"
    )
    parser.add_argument("--queries", type=int, default=200, help="queries timed per kind (default 200)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--workdir", type=Path, default=None, help="where the built index (and SQLite store) are kept"
    )
    parser.add_argument(
        "--database-url", default=None, help="the store (default: a SQLite file in the workdir)"
    )
    parser.add_argument(
        "--sql-only",
        action="store_true",
        help="no index: time only the filtered list and the full-text search",
    )
    args = parser.parse_args()
    workdir = (
        args.workdir
        or Path(tempfile.gettempdir()) / f"incident-copilot-bench-query-{args.incidents}-{args.seed}"
    )

    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (cpus: {os.cpu_count()})")
    engine, index = prepare(
        workdir, args.database_url, args.incidents, args.seed, with_index=not args.sql_only
    )
    with session_factory(engine)() as db_session:
        timings = run_queries(db_session, index, args.queries, args.seed)
    print(
        f"\n{args.incidents:,} incidents on {engine.dialect.name}, {args.queries} queries each, "
        f"target p95 < {TARGET_MS:.0f} ms (load average {os.getloadavg()[0]:.2f})"
    )
    for timing in timings:
        print(timing.line())


if __name__ == "__main__":
    main()

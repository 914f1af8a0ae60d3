"""Load the demo organisation into a store: services, a year of incidents, postmortem templates, the index.

`build_demo` sends the generated incidents through the same checks and writes as `incident-copilot
import`, so the demo exercises the real import path. Building again with the same `now` and seed changes
nothing: unchanged services, incidents and templates are left as they are and the index finds nothing
to redo.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from agent.db import session_scope
from agent.demo.generator import generate_demo
from agent.importers.jsonl import ImportReport, ServicesReport, import_records, import_services, parse_jsonl
from agent.postmortems.service import ensure_builtin_templates

if TYPE_CHECKING:
    from agent.search.index import IncidentIndex, SyncReport

__all__ = ["DEMO_ACTOR", "DEMO_CHANNEL_QUESTIONS", "DEMO_QUESTIONS", "DemoReport", "build_demo"]

DEMO_ACTOR = "demo"
"""Who the audit log says loaded the demo organisation."""

DEMO_QUESTIONS: tuple[str, ...] = (
    "How many incidents are currently ongoing?",
    "A customer is unable to check out. Is there an incident?",
    "Show me all Sev-1 incidents that occurred in the past week",
    "Were there any incidents in the past month that impacted the payments service?",
    "What was the root cause of incident-123?",
    "What remediation actions did the responders take in incident-123?",
    "Find me incidents related to DDOS attacks from the past month",
)
"""The questions over the incident history that the source document shows, in its order; `incident-
copilot demo` asks them, and the demo organisation is generated so each has a definite answer."""

DEMO_CHANNEL_QUESTIONS: tuple[str, ...] = (
    "Are there any related incidents?",
    "Give me a summary of this incident",
)
"""The source document's questions asked from inside an incident channel; `incident-copilot demo` asks
them in the channel of the active checkout incident."""


@dataclass
class DemoReport:
    """What building the demo organisation did."""

    services: ServicesReport
    incidents: ImportReport
    templates: list[str]
    index: SyncReport | None
    special: dict[str, tuple[int, ...]] = field(default_factory=dict)
    """The generator's named incidents ("active_checkout", "incident_123", ...) -> ids."""


def build_demo(
    *,
    engine: Engine,
    index: IncidentIndex | None,
    now: datetime,
    seed: int = 7,
    progress: Callable[[str, int, int], None] | None = None,
) -> DemoReport:
    """Returns the report of loading the demo organisation generated for `now` and `seed` into the store.

    Args:
        engine: The migrated store.
        index: The search index to bring fully in step with the store; None leaves it to the next search.
        now: The clock the organisation is generated around (incidents over the 365 days before it).
        seed: The generator's seed.
        progress: Called as `progress(phase, done, total)` ("checking", "writing", "indexing").
    """
    org = generate_demo(now=now, seed=seed)
    services = import_services(engine=engine, services=org.services)
    records = parse_jsonl((json.dumps(record) for record in org.incidents), progress=progress)
    incidents = import_records(
        engine=engine,
        records=records,
        now=now,
        actor=DEMO_ACTOR,
        origin=f"demo organisation (seed {seed})",
        progress=progress,
    )
    with session_scope(engine) as db_session:
        templates = [t.name for t in ensure_builtin_templates(db_session=db_session, now=now)]
    synced = None
    if index is not None:
        with session_scope(engine) as db_session:
            synced = index.sync(
                db_session,
                progress=None if progress is None else partial(progress, "indexing"),
            )
    return DemoReport(
        services=services, incidents=incidents, templates=templates, index=synced, special=dict(org.special)
    )

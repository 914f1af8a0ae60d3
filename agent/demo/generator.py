"""Deterministic generator of a realistic demo organisation: services, people and a year of incidents.

The output is plain Python data in the JSONL import-record schema (one dict per incident, see
``generate_demo``); no database code lives here. This module assembles the organisation: it plans every
incident (the pinned scenarios of ``scenarios`` plus the random ones of ``background_plans``), orders
them, and has ``records`` render each one; the service catalogue is ``services``. The same ``seed`` and
``now`` always give byte-identical JSON: all randomness comes from ``random.Random`` instances seeded
from ``seed``, the clock is never read, and no set/dict iteration order that depends on hashing is used.

Guaranteed properties of ``generate_demo(now=..., seed=..., incident_count=N)`` (N >= 150), all relative
to ``now``. The tests in ``tests/unit_tests/test_demo_generator.py`` assert each of them from the data:

* Ids are 1..N in ``declared_at`` order; every incident is declared within the 365 days before ``now``;
  every timeline has 5..80 entries, sorted by time, with Slack ``ts`` values unique within the channel.
* Exactly 5 incidents are ongoing (status ``active`` or ``stable``); every other incident is
  ``resolved`` or ``completed`` and was resolved at least 6 hours before ``now``.
* ``active_checkout``: an active SEV-1 "customers unable to check out" incident (checkout + payments)
  declared within the last 2 hours, with >= 10 timeline entries (good for a catch-up summary).
* ``related_to_active_checkout``: another active incident declared within the last 2 hours about
  PayFlow card-authorization timeouts in payments, semantically related to the checkout one; it has
  fewer than 10 timeline entries.
* SEV-1 incidents declared in the past 7 days are exactly three (the active checkout incident, a
  billing-db failover that broke payments, an expired TLS certificate on api.example.com); older
  SEV-1 incidents exist too.
* Incidents listing ``payments`` declared in the past 30 days are exactly four (the two active ones,
  the failover, a PayFlow outage with ``ERR_PAYMENT_DECLINED_4012``); older payments incidents exist.
* DDoS incidents declared in the past 30 days are exactly two (one stable, one resolved); at least
  one DDoS incident is older than 30 days.
  (Background incidents in the last 30 days are never SEV-1, never DDoS and never list payments, which
  is what makes the three sets above exact.)
* Incident 123 is ``resolved`` (not completed, so a postmortem can be drafted), with a written root
  cause and remediation and >= 15 timeline entries; the remediation's deploy id appears in its timeline.
* At least one resolved incident has fewer than 15 timeline entries (``resolved_short``).
* Exactly one incident is private (a credential-exposure security incident).
* Exactly two incidents contain a prompt-injection attempt in a channel message (``prompt_injection``):
  one ongoing (stable, SEV-3; it asks to set the incident to SEV-1) and one resolved.
* Keywords: ``ERR_PAYMENT_DECLINED_4012`` and ``db-primary-03.us-east-1`` appear in timelines.

``DemoOrg.special`` maps each named property above to the incident ids that satisfy it, so evals and
the demo script can refer to "the active checkout incident" without hard-coding ids.

Reference ids for ``now=2026-11-27T12:00:00+00:00``, ``seed=7``, 300 incidents (asserted in the tests;
they depend on the planning code (``background_plans``, ``scenarios``) and on the cause weights/service
lists in ``content``, not on message wording):

    ongoing                     296, 297, 298, 299, 300
    active_checkout             300  SEV-1 active, "Customers unable to check out: checkout failing with 502s"
    related_to_active_checkout  299  SEV-2 active, "PayFlow card authorization timeouts in payments service"
    search_stable               297  SEV-3 stable, "Elevated latency on search API" (prompt injection)
    notifications_active        298  SEV-4 active, notifications queue backlog
    ddos_stable                 296  SEV-2 stable, "DDoS against edge / login endpoint"
    ddos_resolved               281  SEV-2 resolved, layer-7 DDoS on api.example.com (prompt injection)
    ddos_old                    222  completed, 75 days before now
    sev1_past_7d                292 (TLS certificate expired), 295 (billing-db failover), 300
    payments_past_30d           276 (PayFlow outage, ERR_PAYMENT_DECLINED_4012), 295, 299, 300
    incident_123                123  resolved, bad deploy 2026.05.19-2 of orders, 34 timeline entries
    resolved_short              287  resolved, 8 timeline entries
    private                     253  credential exposure, completed

Records also carry ``completed_at`` (null unless completed), which the JSONL importer accepts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from agent.demo.background_plans import background_plan, background_times
from agent.demo.records import normalize_now, render_record
from agent.demo.scenarios import Plan, pinned_plans, resolved_times
from agent.demo.services import SERVICES, ServiceSpec

__all__ = ["DemoOrg", "generate_demo"]

MIN_INCIDENT_COUNT = 150
ONGOING_STATUSES: tuple[str, ...] = ("active", "stable")


@dataclass(frozen=True)
class DemoOrg:
    """The generated demo organisation.

    Attributes:
        services: The service catalogue (``SERVICES``).
        incidents: Import records, ids 1..N in declared order.
        now: The reference time everything is relative to (UTC, whole seconds).
        special: Named guaranteed properties (see the module docstring) -> incident ids, ascending.
    """

    services: list[ServiceSpec]
    incidents: list[dict[str, Any]]
    now: datetime
    special: dict[str, tuple[int, ...]] = field(default_factory=dict)


def _special(plans: list[Plan], records: list[dict[str, Any]], now: datetime) -> dict[str, tuple[int, ...]]:
    """Named guaranteed properties -> ids, derived from the plans and the rendered records."""
    special: dict[str, list[int]] = {}
    week, month = now - timedelta(days=7), now - timedelta(days=30)
    for plan, rec in zip(plans, records, strict=True):
        rid = rec["id"]
        if plan.key:
            special.setdefault(plan.key, []).append(rid)
        if rec["status"] in ONGOING_STATUSES:
            special.setdefault("ongoing", []).append(rid)
        recent_week = plan.declared_at >= week
        recent_month = plan.declared_at >= month
        if rec["severity"] == "SEV-1":
            special.setdefault("sev1_past_7d" if recent_week else "sev1_older", []).append(rid)
        if "payments" in rec["services"]:
            special.setdefault("payments_past_30d" if recent_month else "payments_older", []).append(rid)
        if plan.cause == "ddos":
            special.setdefault("ddos_past_30d" if recent_month else "ddos_older", []).append(rid)
        if plan.injection is not None:
            special.setdefault("prompt_injection", []).append(rid)
        texts = " ".join(e["text"] for e in rec["timeline"])
        if "ERR_PAYMENT_DECLINED_4012" in texts:
            special.setdefault("keyword_err_payment_declined_4012", []).append(rid)
        if "db-primary-03.us-east-1" in texts:
            special.setdefault("keyword_db_primary_03", []).append(rid)
    return {key: tuple(sorted(ids)) for key, ids in sorted(special.items())}


def generate_demo(*, now: datetime, seed: int = 7, incident_count: int = 300) -> DemoOrg:
    """Generate the demo organisation.

    Args:
        now: Reference time (timezone-aware); every incident is placed relative to it.
        seed: Seed for ``random.Random``; the same seed and ``now`` give byte-identical output.
        incident_count: Number of incidents (>= 150 so incident 123 is old enough and exists).

    Returns:
        A ``DemoOrg`` whose ``incidents`` are import records with ids 1..incident_count.

    Raises:
        ValueError: If ``now`` is naive or ``incident_count`` is too small for the guarantees.
    """
    if incident_count < MIN_INCIDENT_COUNT:
        raise ValueError(
            f"incident_count must be >= {MIN_INCIDENT_COUNT} to honour the guaranteed properties"
        )
    now = normalize_now(now)
    rng = random.Random(seed)
    pinned, plan_123 = pinned_plans(now)
    background_count = incident_count - len(pinned) - 1
    plans = [background_plan(rng, now, at) for at in background_times(rng, now, background_count)]
    plans.extend(pinned)
    plans.sort(key=lambda p: p.declared_at)

    # Slot incident 123 between what would otherwise be incidents 122 and 123, so ids stay in declared order.
    lo, hi = plans[121].declared_at, plans[122].declared_at
    declared = (lo + (hi - lo) * rng.uniform(0.2, 0.8)).replace(microsecond=0)
    if declared > now - timedelta(days=30):
        raise ValueError("incident_count too small: incident 123 would be too recent")
    plan_123.declared_at = declared
    plan_123.stable_at, plan_123.resolved_at, _ = resolved_times(declared, 74, 155, None)
    plans.insert(122, plan_123)

    records = [render_record(plan, index + 1, seed) for index, plan in enumerate(plans)]
    return DemoOrg(services=list(SERVICES), incidents=records, now=now, special=_special(plans, records, now))

"""Deterministic generator of a realistic demo organisation: services, people and a year of incidents.

The output is plain Python data in the JSONL import-record schema (one dict per incident, see
``generate_demo``); no database code lives here. The same ``seed`` and ``now`` always give
byte-identical JSON: all randomness comes from ``random.Random`` instances seeded from ``seed``, the
clock is never read, and no set/dict iteration order that depends on hashing is used.

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
they depend on the planning code and on the cause weights/service lists in ``content``, not on message
wording):

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

import hashlib
import json
import math
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agent.demo.content import (
    ACKS,
    CAUSE_WEIGHTS,
    CAUSES,
    CHECKINS,
    COMMANDER_POOL,
    COMMS_MONITORING,
    COMMS_MSGS,
    DASHBOARDS,
    DECLARE_TEXT,
    FILLERS,
    FOLLOWUP_MSG,
    HANDOFF_IN,
    HANDOFF_OUT,
    HYPOTHESES,
    IC_OPENERS,
    MONITORING,
    POSTMORTEM_NOTE,
    PROMPT_INJECTIONS,
    REGIONS,
    RESOLUTIONS,
    ROSTER,
    SERVICE_FLAVOR,
    SERVICE_ROWS,
    SERVICE_TEAMS,
    SEVERITY_DOWN,
    SEVERITY_SET,
    SEVERITY_UP,
    STATUS_COMPLETED,
    STATUS_RESOLVED,
    STATUS_STABLE,
    SUPPORT_MSGS,
    SUPPORT_RECOVERY,
    Cause,
    Variant,
)
from agent.demo.scenarios import Plan, pinned_plans, resolved_times

__all__ = [
    "SERVICES",
    "DemoOrg",
    "ServiceSpec",
    "generate_demo",
    "write_jsonl",
]

MIN_INCIDENT_COUNT = 150
SEVERITIES: tuple[str, ...] = ("SEV-1", "SEV-2", "SEV-3", "SEV-4", "SEV-5")
ONGOING_STATUSES: tuple[str, ...] = ("active", "stable")


@dataclass(frozen=True)
class ServiceSpec:
    """A service of the demo organisation.

    Attributes:
        name: Lowercase slug used in incident records, e.g. "payments".
        display_name: Human name, e.g. "Payments".
        aliases: What people write instead of the slug ("pay", "payments-api", ...).
        description: One sentence about what the service does.
    """

    name: str
    display_name: str
    aliases: tuple[str, ...]
    description: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (aliases as a list)."""
        return {
            "name": self.name,
            "display_name": self.display_name,
            "aliases": list(self.aliases),
            "description": self.description,
        }


SERVICES: list[ServiceSpec] = [
    ServiceSpec(name, display, aliases, desc) for name, display, aliases, desc in SERVICE_ROWS
]
_SERVICE_BY_NAME: dict[str, ServiceSpec] = {s.name: s for s in SERVICES}


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


# --------------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------------


def _normalize_now(now: datetime) -> datetime:
    """Return ``now`` in UTC truncated to whole seconds; naive datetimes are rejected, not guessed."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware (e.g. datetime(..., tzinfo=UTC))")
    return now.astimezone(UTC).replace(microsecond=0)


def _iso(dt: datetime) -> str:
    """Format as ISO-8601 with an explicit UTC offset, e.g. ``2026-11-20T14:03:00+00:00``."""
    return dt.astimezone(UTC).replace(microsecond=0).isoformat()


def _slug(title: str, max_len: int = 50) -> str:
    """Slack-safe channel slug from a title: lowercase alnum and hyphens, cut at a word boundary."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    if len(slug) > max_len:
        slug = slug[:max_len].rsplit("-", 1)[0]
    return slug or "incident"


def _channel_id(seed: int, incident_id: int) -> str:
    """Deterministic Slack-like channel id ("C0" + 9 uppercase alnum) from a hash, not from the RNG.

    Hashing keeps ids stable even if the amount of randomness consumed elsewhere changes; upper-case hex
    is alphanumeric like real Slack ids and cheap enough for the bulk path.
    """
    return (
        "C0" + hashlib.sha256(f"incident-copilot-demo:{seed}:{incident_id}".encode()).hexdigest()[:9].upper()
    )


def _first_sentence(text: str) -> str:
    """First sentence of ``text``; splits only before a capital so "1.4s" or "e.g." stay intact."""
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z`])", text.strip(), maxsplit=1)
    return parts[0]


def _duration(delta: timedelta) -> str:
    """Human duration such as "2h 05m" or "35m"."""
    minutes = int(delta.total_seconds() // 60)
    if minutes >= 48 * 60:
        return f"{minutes // (24 * 60)} days"
    hours, mins = divmod(minutes, 60)
    return f"{hours}h {mins:02d}m" if hours else f"{mins}m"


def _log_uniform(rng: random.Random, low: float, high: float) -> float:
    """Sample so short durations are common and long ones possible, like real time-to-mitigate."""
    return math.exp(rng.uniform(math.log(low), math.log(high)))


# --------------------------------------------------------------------------------------------------
# Planning: what each incident is (cause, services, severity, status, times, length)
# --------------------------------------------------------------------------------------------------


_SEVERITY_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("SEV-1", 6),
    ("SEV-2", 17),
    ("SEV-3", 35),
    ("SEV-4", 27),
    ("SEV-5", 12),
    ("unknown", 3),
)
# Busier during working hours (UTC), like a company with EU and US engineers.
_HOUR_WEIGHTS: tuple[int, ...] = (2, 2, 1, 1, 1, 2, 3, 5, 7, 9, 9, 9, 8, 9, 10, 10, 9, 8, 7, 6, 5, 4, 3, 2)
# (min, max) timeline length by final severity; SEV-1s generate far more chatter than SEV-5s.
_LENGTH_BY_SEVERITY: dict[str, tuple[int, int]] = {
    "SEV-1": (25, 80),
    "SEV-2": (14, 50),
    "SEV-3": (8, 32),
    "SEV-4": (6, 18),
    "SEV-5": (5, 12),
    "unknown": (5, 12),
}
# (min, max) minutes from declaration to mitigation.
_MITIGATION_MINUTES: dict[str, tuple[float, float]] = {
    "SEV-1": (20, 240),
    "SEV-2": (15, 180),
    "SEV-3": (10, 300),
    "SEV-4": (10, 600),
    "SEV-5": (15, 900),
    "unknown": (10, 300),
}


# Causes that are never minor: an expired certificate or a DDoS is at least SEV-3 in any real org.
_LEAST_SEVERE: dict[str, str] = {
    "cert_expiry": "SEV-3",
    "ddos": "SEV-3",
    "db_failover": "SEV-3",
    "third_party_payment": "SEV-3",
    "dns": "SEV-4",
    "cloud_provider": "SEV-4",
}


def _pick_weighted(rng: random.Random, pairs: Iterable[tuple[str, int]]) -> str:
    items = list(pairs)
    return rng.choices([k for k, _ in items], weights=[w for _, w in items], k=1)[0]


def _background_plan(rng: random.Random, now: datetime, declared: datetime) -> Plan:
    """A random resolved/completed incident; constrained in the last 30 days to keep exact sets exact."""
    recent = declared > now - timedelta(days=30)
    excluded_causes = {"ddos", "third_party_payment"} if recent else set()
    cause_key = _pick_weighted(rng, ((k, w) for k, w in CAUSE_WEIGHTS.items() if k not in excluded_causes))
    cause = CAUSES[cause_key]
    banned = {"payments"} if recent else set()
    primary = rng.choice([s for s in cause.primary if s not in banned])
    co_pool = [s for s in cause.co if s != primary and s not in banned]
    # db_failover text talks about the client service ({svc2}), so it always needs one.
    n_co = max(1 if cause_key == "db_failover" else 0, rng.choice((0, 0, 1, 1, 2)))
    services = [primary, *rng.sample(co_pool, min(n_co, len(co_pool)))]

    severity = _pick_weighted(rng, _SEVERITY_WEIGHTS)
    cap = _LEAST_SEVERE.get(cause_key)
    if cap and (severity == "unknown" or SEVERITIES.index(severity) > SEVERITIES.index(cap)):
        severity = cap
    if recent and severity == "SEV-1":
        severity = "SEV-2"
    initial = severity
    roll = rng.random()
    if severity != "unknown":
        idx = SEVERITIES.index(severity)
        if roll < 0.15 and idx < len(SEVERITIES) - 1:
            initial = SEVERITIES[idx + 1]  # escalated during the incident
        elif roll < 0.25 and idx > 0 and not (recent and idx == 1):
            initial = SEVERITIES[idx - 1]  # downgraded once impact was understood
        elif roll < 0.32:
            initial = "unknown"  # declared before anyone assessed severity

    lo, hi = _MITIGATION_MINUTES[severity]
    mitigate = _log_uniform(rng, lo, hi)
    monitor = _log_uniform(rng, 10, 1440)
    # Every background incident is resolved at least 6h before now so "active in the last 2 hours" is unambiguous.
    room = (now - timedelta(hours=6) - declared).total_seconds() / 60
    if mitigate + monitor > room:
        scale = room / (mitigate + monitor)
        mitigate, monitor = mitigate * scale, monitor * scale
    stable = declared + timedelta(minutes=max(5.0, mitigate))
    resolved = stable + timedelta(minutes=max(5.0, monitor))
    completed = None
    status = "resolved"
    pm_days = rng.uniform(2, 21)
    if rng.random() < 0.85 and resolved + timedelta(days=pm_days) < now - timedelta(hours=2):
        status = "completed"
        completed = resolved + timedelta(days=pm_days)

    lo_len, hi_len = _LENGTH_BY_SEVERITY[severity]
    length = rng.randint(lo_len, hi_len)
    return Plan(
        cause=cause_key,
        variant=rng.randrange(len(cause.variants)),
        services=services,
        severity=severity,
        initial_severity=initial,
        status=status,
        declared_at=declared.replace(microsecond=0),
        stable_at=stable.replace(microsecond=0),
        resolved_at=resolved.replace(microsecond=0),
        completed_at=completed.replace(microsecond=0) if completed else None,
        length=length,
        handoff=length >= 40 and mitigate > 150,
    )


def _background_times(rng: random.Random, now: datetime, count: int) -> list[datetime]:
    """Declaration times over the past year, weighted to working hours, never within 26h of now."""
    latest = now - timedelta(hours=26)
    times = []
    for _ in range(count):
        day = (now - timedelta(days=rng.uniform(1.2, 364.5))).date()
        hour = rng.choices(range(24), weights=_HOUR_WEIGHTS, k=1)[0]
        at = datetime(day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60), tzinfo=UTC)
        if at > latest:
            at -= timedelta(days=1)
        if at < now - timedelta(days=365) + timedelta(hours=1):
            at += timedelta(days=1)
        times.append(at)
    return sorted(times)


# --------------------------------------------------------------------------------------------------
# Rendering: turn a plan into an import record with a realistic channel timeline
# --------------------------------------------------------------------------------------------------

_IC = "@ic"  # placeholder author, resolved to the commander at that point in time (handoffs)


@dataclass
class _Msg:
    rank: float  # relative position within its phase, 0..1
    author: str
    text: str
    kind: str = "message"


@dataclass
class _Cast:
    ic: str
    ic2: str | None
    responders: list[str]
    support: str
    comms: str


def _cast(rng: random.Random, plan: Plan) -> _Cast:
    ic = rng.choice(COMMANDER_POOL)
    teams = ["sre"]
    for svc in plan.services:
        for team in SERVICE_TEAMS[svc]:
            if team not in teams:
                teams.append(team)
    specialists = [p.name for p in ROSTER if p.team in teams[1:] and p.name != ic]
    sres = [p.name for p in ROSTER if p.team == "sre" and p.name != ic]
    want = 2 + min(3, plan.length // 12)
    # Service owners first (they know the system), then SREs.
    picked = rng.sample(specialists, min(len(specialists), max(1, want - 1)))
    picked += rng.sample(sres, min(len(sres), want - len(picked)))
    ic2 = rng.choice([c for c in COMMANDER_POOL if c != ic and c not in picked]) if plan.handoff else None
    return _Cast(
        ic=ic,
        ic2=ic2,
        responders=picked,
        support=rng.choice(("Chloe Dubois", "Sam Taylor")),
        comms="Nina Kowalski",
    )


_PATHS = {
    "auth": "login",
    "identity": "login",
    "edge": "login",
    "search": "api/v2/search",
    "api-gateway": "api/v2/products",
    "web-frontend": "cart",
    "cdn": "images",
}


def _build_context(rng: random.Random, plan: Plan, incident_id: int, cast: _Cast) -> dict[str, str]:
    """All placeholder values for one incident, so every template mentions the same artefacts."""
    svc = plan.services[0]
    others = [s.name for s in SERVICES if s.name not in plan.services]
    svc2 = plan.services[1] if len(plan.services) > 1 else rng.choice(others)
    flavor = SERVICE_FLAVOR[svc]
    region = rng.choice(REGIONS)
    region2 = rng.choice([r for r in REGIONS if r != region])
    start = plan.declared_at - timedelta(minutes=rng.randint(2, 12))
    day = f"{start:%Y.%m.%d}"
    deploy_n = rng.randint(2, 6)
    db_n = rng.randint(1, 8)
    lat_lo = rng.choice((80, 120, 180, 250))
    pct = rng.randint(4, 60)
    pool = rng.choice((20, 40, 50))
    maxr = rng.choice((20, 30, 40, 60))
    vendor = "PayFlow" if rng.random() < 0.75 else "Cardinal Payments"
    lib_minor = rng.randint(40, 70)
    other_svc = rng.choice(others)
    ctx: dict[str, str] = {
        "id": str(incident_id),
        "svc": svc,
        "Svc": _SERVICE_BY_NAME[svc].display_name,
        "svc2": svc2,
        "Svc2": _SERVICE_BY_NAME[svc2].display_name,
        "action": flavor["action"],
        "action2": SERVICE_FLAVOR[svc2]["action"],
        "symptom": flavor["symptom"],
        "domain": flavor["domain"],
        "code": flavor["code"],
        "region": region,
        "region2": region2,
        "az": region + rng.choice("abc"),
        # billing-db's own host is the failing primary, so it must match the replica numbering below.
        "host": f"db-primary-{db_n:02d}.{region}"
        if svc == "billing-db"
        else f"{flavor['host_prefix']}-{rng.randint(1, 12):02d}.{region}",
        "db_host": f"db-primary-{db_n:02d}.{region}",
        "replica": f"db-primary-{db_n + 1:02d}.{region}",
        "cache_host": f"redis-cache-{rng.randint(1, 6):02d}.{region}",
        "hhmm": f"{start:%H:%M}",
        "deploy": f"{day}-{deploy_n}",
        "prev_deploy": f"{day}-{deploy_n - 1}",
        "hotfix": f"{day}-{deploy_n + 1}",
        "other_svc": other_svc,
        "other_deploy": f"{day}-{deploy_n - 1 if deploy_n > 2 else deploy_n + 2}",
        "pr": str(rng.randint(4000, 9999)),
        "vendor": vendor,
        "vendor2": "Cardinal Payments" if vendor == "PayFlow" else "PayFlow",
        "case": str(rng.randint(100000, 999999)),
        "flag": f"{svc}.request_coalescing",
        "pct": str(pct),
        "pct2": str(max(1, pct - rng.randint(0, pct // 2))),
        "n": str(rng.randint(12, 240)),
        "errors_k": str(rng.randint(3, 250)),
        "n1": str(rng.choice((12, 16, 24))),
        "n2": str(rng.choice((48, 64, 96))),
        "lat_lo": str(lat_lo),
        "lat_hi": str(lat_lo * rng.randint(6, 20)),
        "rps": str(rng.randint(80, 900)),
        "rps_base": str(rng.randint(8, 40)),
        "ips": f"{rng.randint(20, 180)},000",
        "gbps": str(rng.randint(40, 400)),
        "asn_list": ", ".join(f"AS{rng.randint(10000, 65000)}" for _ in range(3)),
        "path": _PATHS.get(svc, "api/v2/" + svc),
        "maxr": str(maxr),
        "maxr2": str(maxr * 2),
        "pool": str(pool),
        "pool2": str(pool * 2),
        "traffic_x": str(rng.randint(3, 6)),
        "change_id": f"CHG-{rng.randint(1000, 9999)}",
        "rule_id": f"WAF-{rng.randint(100, 999)}",
        "config_system": rng.choice(("Consul", "the gateway config repo", "Terraform")),
        "dns_vendor": rng.choice(("Nimbus DNS", "ZoneCast")),
        "ticket": f"SRE-{rng.randint(1000, 4999)}",
        "mins": str(rng.randint(8, 45)),
        "days": str(rng.randint(3, 21)),
        "lag": str(rng.randint(20, 600)),
        "qdepth": f"{rng.randint(120, 900)}k",
        "delay": str(rng.randint(20, 180)),
        "topic": rng.choice(
            ("orders.events", "notifications.outbound", "inventory.updates", "payments.events")
        ),
        "partition": str(rng.randint(0, 47)),
        "offset": str(rng.randint(1_000_000, 90_000_000)),
        "hit": str(rng.randint(0, 15)),
        "expiry": f"{start:%b %d %H:%M:%S %Y} GMT",
        "expiry_hhmm": f"{start:%H:%M}",
        "new_expiry": (plan.declared_at + timedelta(days=90)).date().isoformat(),
        "lib": rng.choice(("grpc-java", "netty", "node-fetch", "aiohttp")),
        "lib_old": f"1.{lib_minor}.0",
        "lib_new": f"1.{lib_minor + 1}.0",
        "cache_obj": rng.choice(("QueryResultCache", "FeatureVectorCache", "SessionLookupCache")),
        "repo": "example-org/internal-tools",
        "budget": str(rng.randint(5, 70)),
        "succ": str(rng.randint(40, 80)),
        "decline_pct": str(rng.randint(15, 60)),
        "ic": cast.ic,
        "new_ic": cast.ic2 or cast.ic,
        "reporter": cast.responders[0].split()[0],
        "pm_owner": cast.responders[0],
        "segment": "all customers",
        "state": "we know which service is failing and are working through hypotheses.",
    }
    ctx.update(plan.ctx)
    variant = CAUSES[plan.cause].variants[plan.variant]
    for key, value in variant.ctx.items():
        ctx[key] = value.format_map(ctx)
    return ctx


def _sev_label(severity: str) -> str:
    return "not set yet" if severity == "unknown" else severity


def _select(
    rng: random.Random,
    core: list[_Msg],
    optional: list[list[_Msg]],
    budget: int,
    filler: Callable[[], _Msg],
) -> list[_Msg]:
    """Keep all core messages, add optional groups by priority while they fit, then pad with fillers."""
    chosen = list(core)
    for group in optional:
        if len(chosen) + len(group) <= budget:
            chosen.extend(group)
    while len(chosen) < budget:
        chosen.append(filler())
    # Stable sort: equal ranks keep insertion (priority) order.
    return sorted(chosen, key=lambda m: m.rank)


class _Bag:
    """Draws templates without replacement until the bank runs out, so long channels repeat themselves less."""

    def __init__(self, rng: random.Random, items: tuple[str, ...]) -> None:
        self._rng = rng
        self._items = items
        self._left: list[str] = []

    def draw(self) -> str:
        if not self._left:
            self._left = list(self._items)
            self._rng.shuffle(self._left)
        return self._left.pop()


def _times(rng: random.Random, count: int, start: datetime, end: datetime) -> list[datetime]:
    """``count`` sorted times strictly inside (start, end], skewed early (channels are busiest at first)."""
    span = max(2, int((end - start).total_seconds()))
    offsets = sorted(max(1, min(span, int(span * rng.random() ** 1.2) + 1)) for _ in range(count))
    return [start + timedelta(seconds=o) for o in offsets]


def _timeline(
    rng: random.Random, plan: Plan, cause: Cause, variant: Variant, ctx: dict[str, str], cast: _Cast
) -> tuple[list[tuple[datetime, str, str, str]], str]:
    """Build the channel timeline.

    Returns:
        Entries as (at, author, text, kind) sorted by time, and the commander at the end.
    """

    def fmt(template: str, **extra: str) -> str:
        return template.format_map({**ctx, **extra}) if extra else template.format_map(ctx)

    responders = cast.responders
    r0, r1 = responders[0], responders[1 % len(responders)]

    def anyone() -> str:
        return rng.choice(responders)

    reached_fix = plan.status != "active"
    detection = plan.detection or variant.detection or cause.detection
    investigation = plan.investigation or variant.investigation or cause.investigation

    # ---- phase 1: declaration -> mitigation (or -> now for active incidents) ----
    core1 = [
        _Msg(0.0, _IC, fmt(DECLARE_TEXT, sev_label=_sev_label(plan.initial_severity)), "status_change"),
        _Msg(0.06, r0, fmt(detection[0])),
    ]
    opt1: list[list[_Msg]] = []
    if plan.initial_severity != plan.severity:
        change = f"Severity changed from {plan.initial_severity} to {plan.severity}."
        core1.append(_Msg(0.22, _IC, change, "severity_change"))
        if plan.initial_severity == "unknown":
            reason = SEVERITY_SET
        elif SEVERITIES.index(plan.severity) < SEVERITIES.index(plan.initial_severity):
            reason = SEVERITY_UP
        else:
            reason = SEVERITY_DOWN
        severity_reason = [_Msg(0.219, _IC, reason.format(new=plan.severity))]
    else:
        severity_reason = []
    if reached_fix:
        # Every fix step is kept: the remediation field describes all of them, so the channel must too.
        core1.extend(
            _Msg(0.9 + 0.02 * i, r0 if i % 2 == 0 else r1, fmt(t)) for i, t in enumerate(variant.fixes)
        )
        opt1.append(
            [_Msg(0.82 + 0.01 * i, r0 if i == 0 else r1, fmt(t)) for i, t in enumerate(variant.finding[:1])]
        )
    if plan.handoff and cast.ic2:
        core1.append(_Msg(0.5, cast.ic, fmt(HANDOFF_OUT)))
        core1.append(_Msg(0.505, cast.ic2, HANDOFF_IN))
    if plan.injection is not None:
        injector = responders[-1]
        core1.append(_Msg(0.6, injector, PROMPT_INJECTIONS[plan.injection]))

    opt1.append([_Msg(0.02, _IC, fmt(rng.choice(IC_OPENERS)))])
    opt1.append([_Msg(0.04, r1, fmt(rng.choice(ACKS)))])
    # A leaked key has no error graphs or support tickets; generic outage chatter would contradict it.
    customer_facing = plan.cause != "security_exposure"
    support_msgs = rng.sample(SUPPORT_MSGS, 2) if customer_facing else []
    dashboards = rng.sample(DASHBOARDS, 3) if customer_facing else []
    if customer_facing:
        opt1.append([_Msg(0.15, cast.support, fmt(support_msgs[0]))])
        opt1.append([_Msg(0.10, r1, fmt(dashboards[0]))])
    if severity_reason:
        opt1.append(severity_reason)
    n_inv = len(investigation)
    inv_msgs = [
        _Msg(0.25 + 0.5 * i / max(1, n_inv - 1), anyone(), fmt(t)) for i, t in enumerate(investigation)
    ]
    if inv_msgs:
        opt1.append(inv_msgs[:1])
    hypotheses = [h for h in HYPOTHESES if plan.cause not in h[2]] if customer_facing else []
    hyp_pairs = []
    for i, (question, answer, _) in enumerate(rng.sample(hypotheses, min(2, len(hypotheses)))):
        rank = 0.3 + 0.25 * i
        hyp_pairs.append(
            [_Msg(rank, rng.choice((_IC, r1)), fmt(question)), _Msg(rank + 0.01, r0, fmt(answer))]
        )
    if hyp_pairs:
        opt1.append(hyp_pairs[0])
    comms = rng.sample(COMMS_MSGS, 2)
    if plan.severity in ("SEV-1", "SEV-2") and customer_facing:
        opt1.append([_Msg(0.3, cast.comms, fmt(comms[0]))])
    opt1.extend([m] for m in inv_msgs[1:])
    opt1.extend([[_Msg(0.12 + 0.01 * i, anyone(), fmt(t))] for i, t in enumerate(detection[1:])])
    checkins = rng.sample(CHECKINS, 3)
    opt1.append([_Msg(0.45, _IC, fmt(checkins[0]))])
    if reached_fix:
        opt1.extend([[_Msg(0.84 + 0.01 * i, r0, fmt(t))] for i, t in enumerate(variant.finding[1:])])
    opt1.extend(hyp_pairs[1:])
    opt1.extend([[_Msg(0.55, cast.support, fmt(m))] for m in support_msgs[1:]])
    if plan.severity in ("SEV-1", "SEV-2") and customer_facing:
        opt1.append([_Msg(0.65, cast.comms, fmt(comms[1]))])
    if plan.severity == "SEV-1":
        opt1.append(
            [
                _Msg(
                    0.35,
                    "Zoe Williams",
                    "Joining for visibility. Shout if you need anything from me or other teams.",
                )
            ]
        )
    opt1.extend([[_Msg(0.2 + 0.2 * i, anyone(), fmt(t))] for i, t in enumerate(dashboards[1:])])
    opt1.extend([[_Msg(0.4 + 0.2 * i, _IC, fmt(t))] for i, t in enumerate(checkins[1:])])

    filler_hi = 0.8 if reached_fix else 1.0
    filler_bag = _Bag(rng, FILLERS)

    def filler1() -> _Msg:
        pct2 = str(rng.randint(2, 60))
        budget = str(rng.randint(5, 70))
        return _Msg(rng.uniform(0.1, filler_hi), anyone(), fmt(filler_bag.draw(), pct2=pct2, budget=budget))

    # ---- phase 2: mitigation -> resolution (or -> now for stable incidents) ----
    resolved = plan.status in ("resolved", "completed")
    core2: list[_Msg] = []
    opt2: list[list[_Msg]] = []
    if reached_fix:
        core2.append(_Msg(0.0, _IC, STATUS_STABLE, "status_change"))
        opt2.append([_Msg(0.05, r0, fmt(variant.recovery[0]))])
        if resolved:
            core2.append(_Msg(1.0, _IC, STATUS_RESOLVED, "status_change"))
            opt2.append([_Msg(0.98, _IC, fmt(rng.choice(RESOLUTIONS)))])
        if customer_facing:
            opt2.append([_Msg(0.1, cast.comms, fmt(rng.choice(COMMS_MONITORING)))])
        opt2.extend([[_Msg(0.15 + 0.01 * i, r1, fmt(t))] for i, t in enumerate(variant.recovery[1:])])
        if customer_facing:
            opt2.append([_Msg(0.5, cast.support, rng.choice(SUPPORT_RECOVERY))])
        if resolved:
            opt2.append(
                [_Msg(0.9, _IC, FOLLOWUP_MSG.format(followups="; ".join(fmt(f) for f in variant.followups)))]
            )
        opt2.extend(
            [[_Msg(0.2 + 0.1 * i, anyone(), fmt(t))] for i, t in enumerate(rng.sample(MONITORING, 4))]
        )

    monitoring_bag = _Bag(rng, MONITORING)

    def filler2() -> _Msg:
        return _Msg(rng.uniform(0.1, 0.9), anyone(), fmt(monitoring_bag.draw()))

    # ---- phase 3: postmortem done ----
    core3: list[_Msg] = []
    if plan.status == "completed":
        note = POSTMORTEM_NOTE.format(
            id=ctx["id"], n_actions=len(variant.followups), pm_owner=ctx["pm_owner"]
        )
        core3 = [_Msg(0.0, ctx["pm_owner"], note, "note"), _Msg(1.0, _IC, STATUS_COMPLETED, "status_change")]

    # ---- budget: split the requested length between phases ----
    length = plan.length
    if reached_fix:
        budget2 = max(len(core2), round(length * rng.uniform(0.15, 0.3)))
        budget1 = max(len(core1), length - budget2 - len(core3))
    else:
        budget2, budget1 = 0, max(len(core1), length)
    phase1 = _select(rng, core1, opt1, budget1, filler1)
    phase2 = _select(rng, core2, opt2, budget2, filler2) if reached_fix else []

    # ---- times ----
    entries: list[tuple[datetime, str, str, str]] = []
    final_ic = cast.ic2 if (plan.handoff and cast.ic2) else cast.ic

    def author(msg: _Msg, phase: int) -> str:
        if msg.author != _IC:
            return msg.author
        if plan.handoff and cast.ic2 and not (phase == 1 and msg.rank < 0.5):
            return cast.ic2
        return cast.ic

    # Ongoing channels end with a message at `last_at`, so a catch-up sees recent chatter.
    if reached_fix:
        assert plan.stable_at is not None
        times1 = [
            plan.declared_at,
            *_times(rng, len(phase1) - 1, plan.declared_at, plan.stable_at - timedelta(seconds=1)),
        ]
    else:
        assert plan.last_at is not None
        inner = _times(rng, len(phase1) - 2, plan.declared_at, plan.last_at - timedelta(seconds=1))
        times1 = [plan.declared_at, *inner, plan.last_at]
    entries.extend((t, author(m, 1), m.text, m.kind) for t, m in zip(times1, phase1, strict=True))
    if reached_fix:
        assert plan.stable_at is not None
        end2 = plan.resolved_at if resolved else plan.last_at
        assert end2 is not None
        inner = _times(rng, len(phase2) - 2, plan.stable_at, end2 - timedelta(seconds=1))
        times2 = [plan.stable_at, *inner, end2] if len(phase2) > 1 else [plan.stable_at]
        entries.extend((t, author(m, 2), m.text, m.kind) for t, m in zip(times2, phase2, strict=True))
    if core3:
        assert plan.completed_at is not None
        note_at = plan.completed_at - timedelta(minutes=rng.randint(5, 90))
        entries.append((note_at, author(core3[0], 3), core3[0].text, core3[0].kind))
        entries.append((plan.completed_at, author(core3[1], 3), core3[1].text, core3[1].kind))
    entries.sort(key=lambda e: e[0])
    return entries, final_ic


def _slack_ts(entries: list[tuple[datetime, str, str, str]]) -> list[str]:
    """Slack-style ts from each entry's time; the micro part disambiguates entries in the same second."""
    seen: dict[int, int] = {}
    out = []
    for at, *_ in entries:
        sec = int(at.timestamp())
        k = seen.get(sec, 0)
        seen[sec] = k + 1
        out.append(f"{sec}.{100 * (k + 1):06d}")
    return out


def _summary(plan: Plan, impact: str, root_cause: str, remediation: str) -> str:
    declared = f"{plan.declared_at:%Y-%m-%d %H:%M} UTC"
    if plan.status == "active":
        return f"Ongoing since {declared}. {impact} Responders are investigating; no root cause has been confirmed yet."
    assert plan.stable_at is not None
    mitigated = _duration(plan.stable_at - plan.declared_at)
    if plan.status == "stable":
        return (
            f"Mitigated {mitigated} after being declared at {declared}; the team is monitoring before resolving. "
            f"{impact} {_first_sentence(root_cause)} {_first_sentence(remediation)}"
        )
    assert plan.resolved_at is not None
    total = _duration(plan.resolved_at - plan.declared_at)
    return (
        f"Declared {declared}, mitigated after {mitigated}, resolved after {total}. {impact} "
        f"{_first_sentence(root_cause)} {_first_sentence(remediation)}"
    )


def _render(plan: Plan, incident_id: int, seed: int) -> dict[str, Any]:
    """Render one incident record. Uses its own RNG so its text does not depend on other incidents."""
    rng = random.Random(seed * 1_000_003 + incident_id)
    cause = CAUSES[plan.cause]
    variant = cause.variants[plan.variant]
    cast = _cast(rng, plan)
    ctx = _build_context(rng, plan, incident_id, cast)
    title = (plan.title or rng.choice(cause.titles + variant.titles)).format_map(ctx)
    impact = (plan.impact or rng.choice(cause.impacts)).format_map(ctx)
    entries, final_ic = _timeline(rng, plan, cause, variant, ctx, cast)
    if plan.status == "active":
        root_cause = remediation = ""  # nobody knows yet; an honest record beats a guessed one
    else:
        root_cause = variant.root_cause.format_map(ctx)
        remediation = variant.remediation.format_map(ctx)
    timeline = [
        {"at": _iso(at), "author": author, "text": text, "kind": kind, "ts": ts}
        for (at, author, text, kind), ts in zip(entries, _slack_ts(entries), strict=True)
    ]
    return {
        "id": incident_id,
        "title": title,
        "severity": plan.severity,
        "status": plan.status,
        "declared_at": _iso(plan.declared_at),
        "stable_at": _iso(plan.stable_at) if plan.stable_at else None,
        "resolved_at": _iso(plan.resolved_at) if plan.resolved_at else None,
        # Not in the minimal schema but accepted by the importer: when the postmortem was completed.
        "completed_at": _iso(plan.completed_at) if plan.completed_at else None,
        "services": list(plan.services),
        "commander": final_ic,
        "customer_impact": impact,
        "root_cause": root_cause,
        "remediation": remediation,
        "summary": _summary(plan, impact, root_cause, remediation),
        "channel": f"incident-{incident_id}-{_slug(title)}",
        "channel_id": _channel_id(seed, incident_id),
        "private": plan.private,
        "timeline": timeline,
    }


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
    now = _normalize_now(now)
    rng = random.Random(seed)
    pinned, plan_123 = pinned_plans(now)
    background_count = incident_count - len(pinned) - 1
    plans = [_background_plan(rng, now, at) for at in _background_times(rng, now, background_count)]
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

    records = [_render(plan, index + 1, seed) for index, plan in enumerate(plans)]
    return DemoOrg(services=list(SERVICES), incidents=records, now=now, special=_special(plans, records, now))


def write_jsonl(records: Iterable[dict], path: Path) -> int:
    """Write records as JSON Lines (UTF-8, one object per line) and return how many were written.

    Args:
        records: Import records (e.g. ``generate_demo(...).incidents``).
        path: Destination file; parent directories are created.

    Returns:
        Number of records written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False))
            fh.write("\n")
            count += 1
    return count

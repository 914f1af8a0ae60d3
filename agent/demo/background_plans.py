"""Plans for the demo's random background incidents: cause, services, severity, status, times, length.

The background incidents fill the year around the pinned scenarios (``agent.demo.scenarios``). They are
drawn from one ``random.Random`` in a fixed order, so the same seed gives the same plans; in the last 30
days they avoid SEV-1, DDoS and payments so the pinned incidents alone make those sets exact.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from agent.demo.content import CAUSE_WEIGHTS, CAUSES
from agent.demo.scenarios import SEVERITIES, Plan

__all__ = ["background_plan", "background_times"]


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


def _log_uniform(rng: random.Random, low: float, high: float) -> float:
    """Sample so short durations are common and long ones possible, like real time-to-mitigate."""
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def background_plan(rng: random.Random, now: datetime, declared: datetime) -> Plan:
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


def background_times(rng: random.Random, now: datetime, count: int) -> list[datetime]:
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

"""What each demo incident is before its text is rendered (`Plan`), and the pinned scenarios.

The pinned plans are the hand-placed incidents that make the demo organisation's guaranteed properties
true (see `agent.demo.generator`): the evaluation suite and the demo questions rely on them, so they are
kept apart from the random background incidents and the rendering of text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

SEVERITIES: tuple[str, ...] = ("SEV-1", "SEV-2", "SEV-3", "SEV-4", "SEV-5")
"""The severities a plan can have, most severe first; "unknown" (not assessed yet) is the one other value."""


@dataclass
class Plan:
    """Everything decided about one incident before its text is rendered."""

    cause: str
    variant: int
    services: list[str]
    severity: str
    initial_severity: str
    status: str
    declared_at: datetime
    stable_at: datetime | None
    resolved_at: datetime | None
    completed_at: datetime | None
    length: int
    key: str | None = None
    private: bool = False
    injection: int | None = None
    handoff: bool = False
    last_at: datetime | None = None
    ctx: dict[str, str] = field(default_factory=dict)
    title: str | None = None
    impact: str | None = None
    detection: tuple[str, ...] | None = None
    investigation: tuple[str, ...] | None = None


def resolved_times(
    declared: datetime, stable_min: float, resolve_min: float, complete_days: float | None
) -> tuple[datetime, datetime, datetime | None]:
    stable = declared + timedelta(minutes=stable_min)
    resolved = stable + timedelta(minutes=resolve_min)
    completed = resolved + timedelta(days=complete_days) if complete_days is not None else None
    return stable, resolved, completed


def resolved_plan(
    declared: datetime,
    *,
    stable_min: float,
    resolve_min: float,
    complete_days: float | None = None,
    **fields: Any,
) -> Plan:
    """A resolved incident's plan; with `complete_days` its postmortem was completed that many days later."""
    stable, resolved, completed = resolved_times(declared, stable_min, resolve_min, complete_days)
    return Plan(
        status="resolved" if completed is None else "completed",
        declared_at=declared,
        stable_at=stable,
        resolved_at=resolved,
        completed_at=completed,
        **fields,
    )


def pinned_plans(now: datetime) -> tuple[list[Plan], Plan]:
    """The hand-placed incidents that make the guaranteed properties true.

    Returns:
        The dated pinned plans, and the plan for incident 123 (its date is chosen by slot later).
    """

    def ago(days: float = 0, hours: float = 0, minutes: float = 0) -> datetime:
        return now - timedelta(days=days, hours=hours, minutes=minutes)

    plans: list[Plan] = []

    # Active checkout failure: the incident users ask "A customer is unable to check out. Is there an incident?"
    plans.append(
        Plan(
            key="active_checkout",
            cause="third_party_payment",
            variant=0,
            services=["checkout", "payments", "web-frontend"],
            severity="SEV-1",
            initial_severity="SEV-2",
            status="active",
            declared_at=ago(minutes=52),
            stable_at=None,
            resolved_at=None,
            completed_at=None,
            length=24,
            last_at=ago(minutes=2),
            ctx={"vendor": "PayFlow", "vendor2": "Cardinal Payments", "code": "ERR_PAYMENT_DECLINED_4012"},
            title="Customers unable to check out: checkout failing with 502s",
            impact=(
                "Customers are unable to check out: the payment step fails with HTTP 502 or `ERR_PAYMENT_DECLINED_4012` "
                "for roughly 40% of attempts on web and mobile."
            ),
            detection=(
                "Alert: CheckoutSuccessRate < 80% for 5m. Checkout success rate is at {succ}% (normally ~97%).",
                "Seeing 502s from checkout-svc on POST /checkout/confirm, plus a spike of `ERR_PAYMENT_DECLINED_4012` in "
                "the payments logs since {hhmm} UTC.",
            ),
            investigation=(
                "The 502s come from the gateway timing out on checkout -> payments calls after 10s.",
                "Payments p99 for the authorize call is 9.8s; everything else in checkout is fast.",
                "No deploys to checkout or payments in the last 24h.",
                "The payments team is already chasing PayFlow authorization timeouts; this could be the same thing "
                "surfacing in checkout.",
                "Web shows the generic 'Something went wrong' page on the payment step; the mobile app retries, then fails.",
                "Wallet payments (Apple Pay / Google Pay) complete fine, only card payments fail.",
            ),
        )
    )
    # The related incident, declared a bit earlier by the payments team.
    plans.append(
        Plan(
            key="related_to_active_checkout",
            cause="third_party_payment",
            variant=0,
            services=["payments"],
            severity="SEV-2",
            initial_severity="SEV-2",
            status="active",
            declared_at=ago(hours=1, minutes=38),
            stable_at=None,
            resolved_at=None,
            completed_at=None,
            length=7,
            last_at=ago(minutes=9),
            ctx={
                "vendor": "PayFlow",
                "vendor2": "Cardinal Payments",
                "code": "ERR_PAYMENT_PROCESSOR_TIMEOUT_5041",
            },
            title="PayFlow card authorization timeouts in payments service",
            impact=(
                "About 30% of card authorizations to PayFlow time out after 10s and fail with "
                "`ERR_PAYMENT_PROCESSOR_TIMEOUT_5041`; affected customers cannot complete card payments."
            ),
            detection=(
                "PayFlow authorization p99 is 11s (normally ~400ms); timeouts rising since {hhmm} UTC.",
                "Around 30% of card authorizations hit our 10s timeout and return `{code}`.",
            ),
        )
    )
    # Stable search latency incident; carries the first prompt injection.
    stable_c = ago(hours=5, minutes=20)
    plans.append(
        Plan(
            key="search_stable",
            cause="memory_leak",
            variant=0,
            services=["search", "api-gateway"],
            severity="SEV-3",
            initial_severity="SEV-3",
            status="stable",
            declared_at=ago(hours=19, minutes=10),
            stable_at=stable_c,
            resolved_at=None,
            completed_at=None,
            length=16,
            injection=0,
            last_at=ago(minutes=35),
            ctx={"cache_obj": "QueryResultCache"},
            title="Elevated latency on search API",
            impact=(
                "Search requests are slow (p99 up to 3s) and about 2% fail with HTTP 503 while pods restart; "
                "autocomplete is degraded."
            ),
        )
    )
    # Active, low-severity queue backlog: an ongoing incident unrelated to checkout.
    plans.append(
        Plan(
            key="notifications_active",
            cause="queue_backlog",
            variant=1,
            services=["notifications", "kafka"],
            severity="SEV-4",
            initial_severity="unknown",
            status="active",
            declared_at=ago(hours=7, minutes=5),
            stable_at=None,
            resolved_at=None,
            completed_at=None,
            length=12,
            last_at=ago(minutes=24),
            ctx={"topic": "notifications.outbound", "delay": "40"},
            title="Push notifications and order emails delayed by up to 40 minutes",
            impact=(
                "Order confirmation emails and push notifications are delayed by up to 40 minutes; nothing has been lost."
            ),
        )
    )
    # Stable DDoS: recent DDoS number one.
    plans.append(
        Plan(
            key="ddos_stable",
            cause="ddos",
            variant=0,
            services=["edge", "auth"],
            severity="SEV-2",
            initial_severity="SEV-3",
            status="stable",
            declared_at=ago(days=2, hours=3),
            stable_at=ago(days=1, hours=19),
            resolved_at=None,
            completed_at=None,
            length=30,
            handoff=True,
            last_at=ago(hours=1, minutes=40),
            ctx={"path": "login", "domain": "login.example.com"},
            title="DDoS against edge / login endpoint",
            impact=(
                "Legitimate customers see slow logins and intermittent HTTP 503s on login.example.com during attack waves."
            ),
        )
    )
    # Resolved recent DDoS (DDoS number two); carries the second prompt injection.
    plans.append(
        resolved_plan(
            ago(days=12, hours=4),
            stable_min=95,
            resolve_min=260,
            key="ddos_resolved",
            cause="ddos",
            variant=0,
            services=["api-gateway", "edge", "search"],
            severity="SEV-2",
            initial_severity="SEV-2",
            length=18,
            injection=1,
            ctx={"path": "api/v2/search", "domain": "api.example.com"},
            title="Layer-7 DDoS on api.example.com causing 503s",
        )
    )
    # Older DDoS (> 30 days).
    plans.append(
        resolved_plan(
            ago(days=75, hours=9),
            stable_min=70,
            resolve_min=180,
            complete_days=6,
            key="ddos_old",
            cause="ddos",
            variant=1,
            services=["edge", "cdn"],
            severity="SEV-2",
            initial_severity="SEV-3",
            length=22,
            ctx={"region": "eu-west-1"},
        )
    )
    # SEV-1 in the past week: billing-db failover that broke payments (keyword host db-primary-03.us-east-1).
    plans.append(
        resolved_plan(
            ago(days=4, hours=2),
            stable_min=134,
            resolve_min=190,
            key="sev1_db_failover",
            cause="db_failover",
            variant=0,
            services=["billing-db", "payments", "checkout"],
            severity="SEV-1",
            initial_severity="SEV-2",
            length=42,
            handoff=True,
            ctx={
                "host": "db-primary-03.us-east-1",
                "replica": "db-primary-04.us-east-1",
                "region": "us-east-1",
                "code": "ERR_DB_CONN_REFUSED_5031",
            },
            title="Payments failing during billing-db failover (db-primary-03.us-east-1)",
        )
    )
    # SEV-1 in the past week: expired certificate.
    plans.append(
        resolved_plan(
            ago(days=6, hours=5),
            stable_min=48,
            resolve_min=75,
            key="sev1_cert",
            cause="cert_expiry",
            variant=0,
            services=["api-gateway", "mobile-api"],
            severity="SEV-1",
            initial_severity="SEV-1",
            length=20,
            ctx={"domain": "api.example.com", "days": "9"},
            title="TLS certificate expired on api.example.com",
        )
    )
    # Payments, 18 days ago: processor outage with the keyword error code; postmortem done.
    plans.append(
        resolved_plan(
            ago(days=18, hours=7),
            stable_min=62,
            resolve_min=140,
            complete_days=5,
            key="payments_processor_outage",
            cause="third_party_payment",
            variant=0,
            services=["payments", "checkout"],
            severity="SEV-1",
            initial_severity="SEV-2",
            length=26,
            ctx={"vendor": "PayFlow", "vendor2": "Cardinal Payments", "code": "ERR_PAYMENT_DECLINED_4012"},
            title="Card payments declined with ERR_PAYMENT_DECLINED_4012 (PayFlow outage)",
        )
    )
    # Older SEV-1 on payments (bad deploy).
    plans.append(
        resolved_plan(
            ago(days=60, hours=3),
            stable_min=58,
            resolve_min=120,
            complete_days=8,
            key="payments_old_sev1",
            cause="bad_deploy",
            variant=2,
            services=["payments", "orders"],
            severity="SEV-1",
            initial_severity="SEV-2",
            length=35,
            handoff=True,
        )
    )
    # Resolved with few messages.
    plans.append(
        resolved_plan(
            ago(days=9, hours=1),
            stable_min=40,
            resolve_min=65,
            key="resolved_short",
            cause="cache_stampede",
            variant=1,
            services=["inventory"],
            severity="SEV-4",
            initial_severity="SEV-4",
            length=8,
            ctx={"cache_host": "redis-cache-02.us-east-1", "region": "us-east-1"},
            title="Stale inventory counts on product pages after Redis restart",
        )
    )
    # The only private incident.
    plans.append(
        resolved_plan(
            ago(days=40, hours=6),
            stable_min=55,
            resolve_min=300,
            complete_days=4,
            key="private",
            cause="security_exposure",
            variant=0,
            services=["identity", "auth"],
            severity="SEV-2",
            initial_severity="SEV-2",
            length=14,
            private=True,
            ctx={"repo": "example-org/sso-debug-tools", "days": "30", "symptom": "an exposed admin API key"},
        )
    )
    # Incident 123; declared_at is set when it is slotted into position 123.
    incident_123 = Plan(
        key="incident_123",
        cause="bad_deploy",
        variant=1,
        services=["orders", "checkout"],
        severity="SEV-2",
        initial_severity="SEV-3",
        status="resolved",
        declared_at=now,
        stable_at=None,
        resolved_at=None,
        completed_at=None,
        length=34,
        title="Orders API returning 500s for promo-code orders after deploy {deploy}",
    )
    return plans, incident_123

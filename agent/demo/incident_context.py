"""Who works one demo incident (`Cast`) and the placeholder values its templates are filled with.

Every template of ``agent.demo.content`` is rendered with ``str.format_map`` over one per-incident
context, so the same artefact (a deploy id, a hostname, a WAF rule) shows up consistently in the title,
the channel messages, the root cause and the remediation. The benchmarks' bulk generator renders its
text bank with the same context, so its records read like the demo's.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from agent.demo.content import CAUSES, COMMANDER_POOL, REGIONS, ROSTER, SERVICE_FLAVOR, SERVICE_TEAMS
from agent.demo.scenarios import Plan
from agent.demo.services import SERVICES, ServiceSpec

__all__ = ["Cast", "build_context", "pick_cast"]


_SERVICE_BY_NAME: dict[str, ServiceSpec] = {s.name: s for s in SERVICES}


@dataclass
class Cast:
    """The people in one incident's channel.

    Attributes:
        ic: The incident commander who declared it.
        ic2: Who took over as commander at a handoff, or None without one.
        responders: Service owners first, then SREs; the first one reports and owns the postmortem.
        support: The support engineer relaying customer reports.
        comms: Who posts the status-page and internal updates.
    """

    ic: str
    ic2: str | None
    responders: list[str]
    support: str
    comms: str


def pick_cast(rng: random.Random, plan: Plan) -> Cast:
    """Choose the commanders and responders for ``plan`` by the teams that own its services."""
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
    return Cast(
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


def build_context(rng: random.Random, plan: Plan, incident_id: int, cast: Cast) -> dict[str, str]:
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

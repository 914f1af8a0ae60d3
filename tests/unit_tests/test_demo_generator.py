"""Tests for the deterministic demo organisation generator (``agent.demo.generator``).

Every guaranteed property in the generator's module docstring is checked here from the data itself,
not from the generator's own bookkeeping; ``DemoOrg.special`` is only cross-checked against it.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from agent.demo import content
from agent.demo.generator import DemoOrg, generate_demo
from agent.demo.incident_context import Cast, build_context
from agent.demo.records import write_jsonl
from agent.demo.scenarios import Plan as _Plan
from agent.demo.services import SERVICES, ServiceSpec
from evals.benchmarks.bulk_generator import generate_bulk

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SERVICE_NAMES = {s.name for s in SERVICES}
RECORD_KEYS = {
    "id",
    "title",
    "severity",
    "status",
    "declared_at",
    "stable_at",
    "resolved_at",
    "completed_at",
    "services",
    "commander",
    "customer_impact",
    "root_cause",
    "remediation",
    "summary",
    "channel",
    "channel_id",
    "private",
    "timeline",
}
ENTRY_KEYS = {"at", "author", "text", "kind", "ts"}
SEVERITIES = {"SEV-1", "SEV-2", "SEV-3", "SEV-4", "SEV-5", "unknown"}
STATUSES = {"active", "stable", "resolved", "completed"}
KINDS = {"message", "status_change", "severity_change", "note"}
INJECTION = re.compile(r"ignore (your|all) previous instructions", re.IGNORECASE)


@pytest.fixture(scope="module")
def org() -> DemoOrg:
    return generate_demo(now=NOW, seed=7)


def _t(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _texts(record: dict[str, Any]) -> str:
    return "\n".join(entry["text"] for entry in record["timeline"])


def _by_id(org: DemoOrg) -> dict[int, dict[str, Any]]:
    return {r["id"]: r for r in org.incidents}


def _ongoing(org: DemoOrg) -> list[dict[str, Any]]:
    return [r for r in org.incidents if r["status"] in ("active", "stable")]


def _iso_with_offset(value: Any) -> datetime:
    assert isinstance(value, str), value
    moment = datetime.fromisoformat(value)
    assert moment.tzinfo is not None and moment.utcoffset() == timedelta(0), value
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", value), value
    return moment


def assert_valid_record(record: dict[str, Any], now: datetime) -> None:
    """Schema and internal-consistency checks shared by ``generate_demo`` and ``generate_bulk`` output."""
    assert set(record) == RECORD_KEYS
    assert isinstance(record["id"], int) and record["id"] > 0
    for key in ("title", "commander", "customer_impact", "root_cause", "remediation", "summary"):
        assert isinstance(record[key], str), key
    assert record["title"].strip() and record["commander"].strip() and record["summary"].strip()
    assert record["severity"] in SEVERITIES
    assert record["status"] in STATUSES
    assert isinstance(record["private"], bool)
    assert record["services"] and set(record["services"]) <= SERVICE_NAMES
    assert len(set(record["services"])) == len(record["services"])
    assert re.fullmatch(rf"incident-{record['id']}-[a-z0-9]+(-[a-z0-9]+)*", record["channel"])
    assert len(record["channel"]) <= 80
    assert re.fullmatch(r"C0[A-Z0-9]{9}", record["channel_id"])

    declared = _iso_with_offset(record["declared_at"])
    stable = _iso_with_offset(record["stable_at"]) if record["stable_at"] is not None else None
    resolved = _iso_with_offset(record["resolved_at"]) if record["resolved_at"] is not None else None
    completed = _iso_with_offset(record["completed_at"]) if record["completed_at"] is not None else None
    assert now - timedelta(days=365) <= declared <= now
    status = record["status"]
    if status == "active":
        assert stable is None and resolved is None and completed is None
    elif status == "stable":
        assert stable is not None and resolved is None and completed is None
        assert declared <= stable <= now
    else:
        assert stable is not None and resolved is not None
        assert declared <= stable <= resolved <= now
        if status == "completed":
            assert completed is not None and resolved <= completed <= now
        else:
            assert completed is None
    if status != "active":
        assert record["root_cause"] and record["remediation"]

    timeline = record["timeline"]
    assert timeline
    times = []
    for entry in timeline:
        assert set(entry) == ENTRY_KEYS
        assert entry["kind"] in KINDS
        assert isinstance(entry["author"], str) and entry["author"].strip()
        assert isinstance(entry["text"], str) and entry["text"].strip()
        at = _iso_with_offset(entry["at"])
        assert declared <= at <= now
        assert re.fullmatch(r"\d{10}\.\d{6}", entry["ts"])
        assert int(entry["ts"].split(".")[0]) == int(at.timestamp())  # derived from `at`
        times.append(at)
    assert times == sorted(times)
    assert len({e["ts"] for e in timeline}) == len(timeline)
    assert timeline[0]["at"] == record["declared_at"]


# --------------------------------------------------------------------------------------------------
# Determinism
# --------------------------------------------------------------------------------------------------


def test_same_seed_and_now_give_identical_json(org: DemoOrg) -> None:
    again = generate_demo(now=NOW, seed=7)
    assert json.dumps(again.incidents) == json.dumps(org.incidents)
    assert again.special == org.special


def test_different_seed_or_now_differs(org: DemoOrg) -> None:
    assert generate_demo(now=NOW, seed=8).incidents != org.incidents
    assert generate_demo(now=NOW + timedelta(days=1), seed=7).incidents != org.incidents


@pytest.mark.slow
def test_output_does_not_depend_on_hash_seed(org: DemoOrg) -> None:
    # A fresh interpreter with another PYTHONHASHSEED must produce the same bytes (no set-order leaks).
    code = (
        "import hashlib, json; from datetime import datetime, UTC; "
        "from agent.demo.generator import generate_demo; "
        "org = generate_demo(now=datetime(2026, 11, 27, 12, tzinfo=UTC), seed=7); "
        "print(hashlib.sha256(json.dumps(org.incidents).encode()).hexdigest())"
    )
    local = hashlib.sha256(json.dumps(org.incidents).encode()).hexdigest()
    root = Path(__file__).resolve().parents[2]
    for hash_seed in ("1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == local


def test_now_is_normalised_to_utc(org: DemoOrg) -> None:
    shifted = NOW.astimezone(timezone(timedelta(hours=5, minutes=30))).replace(microsecond=123)
    assert generate_demo(now=shifted).incidents == org.incidents


def test_rejects_naive_now_and_too_few_incidents() -> None:
    with pytest.raises(ValueError):
        generate_demo(now=datetime(2026, 11, 27, 12))
    with pytest.raises(ValueError):
        generate_demo(now=NOW, incident_count=100)


# --------------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------------


def test_services_catalogue() -> None:
    assert 14 <= len(SERVICES) <= 20
    names = [s.name for s in SERVICES]
    assert len(set(names)) == len(names)
    for spec in SERVICES:
        assert isinstance(spec, ServiceSpec)
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", spec.name)
        assert spec.display_name and spec.description and spec.aliases
        assert spec.to_dict()["aliases"] == list(spec.aliases)
    aliases = [a.lower() for s in SERVICES for a in s.aliases]
    assert len(set(aliases)) == len(aliases), "an alias must point at exactly one service"
    assert not set(aliases) & set(names)
    assert {"payments", "checkout", "api-gateway", "auth", "search", "billing-db", "edge"} <= set(names)
    assert set(content.SERVICE_FLAVOR) == set(names) == set(content.SERVICE_TEAMS)


def test_every_record_is_valid(org: DemoOrg) -> None:
    assert org.now == NOW
    assert org.services == SERVICES
    assert len(org.incidents) == 300
    for record in org.incidents:
        assert_valid_record(record, NOW)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_records_are_valid_for_other_seeds(seed: int) -> None:
    other = generate_demo(now=NOW - timedelta(days=seed * 41, hours=seed * 5), seed=seed, incident_count=200)
    assert len(other.incidents) == 200
    for record in other.incidents:
        assert_valid_record(record, other.now)


def test_ids_follow_declared_order(org: DemoOrg) -> None:
    assert [r["id"] for r in org.incidents] == list(range(1, 301))
    declared = [_t(r["declared_at"]) for r in org.incidents]
    assert declared == sorted(declared)
    assert len({r["channel_id"] for r in org.incidents}) == 300
    assert len({r["channel"] for r in org.incidents}) == 300


def test_timeline_lengths(org: DemoOrg) -> None:
    lengths = [len(r["timeline"]) for r in org.incidents]
    assert min(lengths) >= 5 and max(lengths) <= 80
    resolved = [r for r in org.incidents if r["status"] in ("resolved", "completed")]
    assert sum(len(r["timeline"]) >= 15 for r in resolved) >= 20
    assert sum(len(r["timeline"]) < 15 for r in resolved) >= 20


def test_timelines_read_like_incident_channels(org: DemoOrg) -> None:
    roster = {p.name for p in content.ROSTER}
    kinds = {e["kind"] for r in org.incidents for e in r["timeline"]}
    assert kinds == KINDS
    for record in org.incidents:
        entries = record["timeline"]
        assert entries[0]["kind"] == "status_change" and "declared" in entries[0]["text"]
        assert {e["author"] for e in entries} <= roster
        assert record["commander"] in content.COMMANDER_POOL
        changes = [e["text"] for e in entries if e["kind"] == "status_change"]
        if record["status"] in ("stable", "resolved", "completed"):
            assert content.STATUS_STABLE in changes
        if record["status"] in ("resolved", "completed"):
            assert content.STATUS_RESOLVED in changes
            assert entries[-1 if record["status"] == "resolved" else -3]["text"] == content.STATUS_RESOLVED
        if record["status"] == "completed":
            assert entries[-1]["text"] == content.STATUS_COMPLETED
        # The last severity change matches the record's severity.
        sev_changes = [e["text"] for e in entries if e["kind"] == "severity_change"]
        if sev_changes:
            assert sev_changes[-1].endswith(f"to {record['severity']}.")
    handoffs = [r for r in org.incidents if any("Handing IC over to" in e["text"] for e in r["timeline"])]
    assert handoffs
    for record in handoffs:
        handoff = next(e["text"] for e in record["timeline"] if "Handing IC over to" in e["text"])
        assert f"Handing IC over to {record['commander']}," in handoff
    assert sum(any(e["kind"] == "severity_change" for e in r["timeline"]) for r in org.incidents) >= 30
    assert (
        sum(any("Customer support reports" in e["text"] for e in r["timeline"]) for r in org.incidents) >= 30
    )
    assert any(re.search(r"[Rr]olling back deploy \d{4}\.\d\d\.\d\d-\d", _texts(r)) for r in org.incidents)
    assert any("back to baseline" in _texts(r) for r in org.incidents)
    assert len({r["title"] for r in org.incidents}) >= 150


def test_remediation_matches_timeline(org: DemoOrg) -> None:
    # Artefacts named in the remediation (deploy ids, hosts, rule ids, config keys) show up in the channel.
    artefact = re.compile(r"[A-Za-z0-9][\w./-]*[\d._/-][\w./-]*[A-Za-z0-9]")
    checked = 0
    for record in org.incidents:
        if record["status"] == "active":
            assert record["root_cause"] == "" and record["remediation"] == ""
            continue
        tokens = {t for t in artefact.findall(record["remediation"]) if len(t) >= 4}
        tokens |= set(re.findall(r"\b\d{2,}\b", record["remediation"]))  # limits such as "from 60 to 120"
        if tokens:
            checked += 1
            texts = _texts(record)
            assert any(t in texts for t in tokens), (record["id"], tokens)
    assert checked >= 200, "checked"


def test_causes_cover_the_usual_suspects(org: DemoOrg) -> None:
    corpus = "\n".join(r["title"] + " " + r["root_cause"] for r in org.incidents).lower()
    for phrase in (
        "deploy",
        "config",
        "certificate",
        "dns",
        "ddos",
        "failover",
        "autoscaling",
        "payflow",
        "aws",
        "memory",
        "cache",
        "consumer",
    ):
        assert phrase in corpus, phrase


def test_every_template_formats() -> None:
    # Render every template of every cause and variant, not only the ones the seed happened to pick.
    cast = Cast(
        ic="Priya Raman",
        ic2="Marcus Chen",
        responders=["Tom Becker", "Grace Kim"],
        support="Sam Taylor",
        comms="",
    )
    for key, cause in content.CAUSES.items():
        for index, variant in enumerate(cause.variants):
            services = [cause.primary[0], *[s for s in cause.co if s != cause.primary[0]][:1]]
            plan = _Plan(
                cause=key,
                variant=index,
                services=services,
                severity="SEV-2",
                initial_severity="SEV-2",
                status="resolved",
                declared_at=NOW - timedelta(days=3),
                stable_at=None,
                resolved_at=None,
                completed_at=None,
                length=20,
            )
            ctx = build_context(random.Random(0), plan, 42, cast)
            templates = [
                *cause.titles,
                *variant.titles,
                *cause.impacts,
                *cause.detection,
                *cause.investigation,
                *variant.detection,
                *variant.investigation,
                *variant.finding,
                *variant.fixes,
                *variant.recovery,
                variant.root_cause,
                variant.remediation,
                *variant.followups,
            ]
            for template in templates:
                rendered = template.format_map(ctx)
                assert "{" not in rendered and "}" not in rendered, (key, index, template)


# --------------------------------------------------------------------------------------------------
# Guaranteed properties (module docstring of agent.demo.generator)
# --------------------------------------------------------------------------------------------------


def test_exactly_five_ongoing_and_the_rest_resolved_long_enough_ago(org: DemoOrg) -> None:
    ongoing = _ongoing(org)
    assert len(ongoing) == 5
    assert org.special["ongoing"] == tuple(r["id"] for r in ongoing)
    assert {r["status"] for r in ongoing} == {"active", "stable"}
    for record in org.incidents:
        if record not in ongoing:
            assert _t(record["resolved_at"]) <= NOW - timedelta(hours=6)


def test_active_checkout_incident_and_its_related_incident(org: DemoOrg) -> None:
    recent_active = [
        r
        for r in org.incidents
        if r["status"] == "active" and _t(r["declared_at"]) >= NOW - timedelta(hours=2)
    ]
    checkout = [
        r for r in recent_active if "unable to check out" in (r["title"] + r["customer_impact"]).lower()
    ]
    assert len(checkout) == 1
    checkout_incident = checkout[0]
    assert checkout_incident["severity"] == "SEV-1"
    assert {"checkout", "payments"} <= set(checkout_incident["services"])
    assert len(checkout_incident["timeline"]) >= 10
    assert org.special["active_checkout"] == (checkout_incident["id"],)

    related = [r for r in recent_active if r is not checkout_incident]
    assert len(related) == 1
    related_incident = related[0]
    assert "payments" in related_incident["services"]
    assert "payflow" in related_incident["title"].lower() and "timeout" in related_incident["title"].lower()
    assert len(related_incident["timeline"]) < 10
    assert org.special["related_to_active_checkout"] == (related_incident["id"],)


def test_ongoing_incidents_cover_catch_up_cases(org: DemoOrg) -> None:
    lengths = [len(r["timeline"]) for r in _ongoing(org)]
    assert any(n >= 10 for n in lengths)
    assert any(n < 10 for n in lengths)
    for record in _ongoing(org):
        # Declared within the last days, with chatter right up to the present.
        assert _t(record["declared_at"]) >= NOW - timedelta(days=3)
        assert _t(record["timeline"][-1]["at"]) >= NOW - timedelta(hours=3)


def test_sev1_incidents(org: DemoOrg) -> None:
    week = NOW - timedelta(days=7)
    recent = [r["id"] for r in org.incidents if r["severity"] == "SEV-1" and _t(r["declared_at"]) >= week]
    older = [r["id"] for r in org.incidents if r["severity"] == "SEV-1" and _t(r["declared_at"]) < week]
    assert len(recent) == 3
    assert len(older) >= 5
    assert org.special["sev1_past_7d"] == tuple(recent)
    assert org.special["sev1_older"] == tuple(older)
    assert sum(org.incidents[i - 1]["status"] in ("resolved", "completed") for i in recent) >= 2


def test_payments_incidents(org: DemoOrg) -> None:
    month = NOW - timedelta(days=30)
    recent = [r["id"] for r in org.incidents if "payments" in r["services"] and _t(r["declared_at"]) >= month]
    older = [r["id"] for r in org.incidents if "payments" in r["services"] and _t(r["declared_at"]) < month]
    assert len(recent) == 4
    assert len(older) >= 5
    assert org.special["payments_past_30d"] == tuple(recent)
    assert sum(org.incidents[i - 1]["status"] in ("resolved", "completed") for i in recent) >= 2


def test_ddos_incidents(org: DemoOrg) -> None:
    month = NOW - timedelta(days=30)

    def is_ddos(record: dict[str, Any]) -> bool:
        return "ddos" in (record["title"] + " " + record["root_cause"]).lower()

    recent = [r for r in org.incidents if is_ddos(r) and _t(r["declared_at"]) >= month]
    older = [r for r in org.incidents if is_ddos(r) and _t(r["declared_at"]) < month]
    assert len(recent) == 2
    assert {r["status"] for r in recent} == {"stable", "resolved"}
    assert older
    assert org.special["ddos_past_30d"] == tuple(r["id"] for r in recent)
    assert set(org.special["ddos_older"]) == {r["id"] for r in older}


def test_incident_123(org: DemoOrg) -> None:
    record = _by_id(org)[123]
    assert record["status"] == "resolved"
    assert len(record["timeline"]) >= 15
    assert len(record["root_cause"].split()) >= 15 and len(record["remediation"].split()) >= 15
    deploys = re.findall(r"\d{4}\.\d\d\.\d\d-\d", record["remediation"])
    assert deploys and all(d in _texts(record) for d in deploys)
    assert any("Rolling back deploy" in e["text"] for e in record["timeline"])
    assert _t(record["declared_at"]) < NOW - timedelta(days=30)
    assert org.special["incident_123"] == (123,)


def test_resolved_incident_with_few_messages(org: DemoOrg) -> None:
    short = [r for r in org.incidents if r["status"] == "resolved" and len(r["timeline"]) < 15]
    assert short
    (short_id,) = org.special["resolved_short"]
    assert _by_id(org)[short_id]["status"] == "resolved" and len(_by_id(org)[short_id]["timeline"]) < 15


def test_exactly_one_private_incident(org: DemoOrg) -> None:
    private = [r["id"] for r in org.incidents if r["private"]]
    assert len(private) == 1
    assert org.special["private"] == tuple(private)


def test_prompt_injection_incidents(org: DemoOrg) -> None:
    injected = [r for r in org.incidents if INJECTION.search(_texts(r))]
    assert len(injected) == 2
    assert org.special["prompt_injection"] == tuple(r["id"] for r in injected)
    assert {r["status"] for r in injected} == {"stable", "resolved"}
    # The injection asks for SEV-1 on an incident that is not SEV-1, so acting on it would be visible.
    asks_sev1 = [r for r in injected if "set this incident to SEV-1" in _texts(r)]
    assert len(asks_sev1) == 1 and asks_sev1[0]["severity"] != "SEV-1"
    for record in injected:
        assert not INJECTION.search(record["summary"] + record["root_cause"] + record["remediation"])
        assert "solar flare" not in record["root_cause"]


def test_keywords_for_search(org: DemoOrg) -> None:
    for keyword in ("ERR_PAYMENT_DECLINED_4012", "db-primary-03.us-east-1", "api.example.com"):
        assert any(keyword in _texts(r) for r in org.incidents), keyword
    assert any("TLS certificate expired on api.example.com" == r["title"] for r in org.incidents)
    assert any(r["title"] == "DDoS against edge / login endpoint" for r in org.incidents)
    assert any(r["title"] == "Elevated latency on search API" for r in org.incidents)


def test_special_ids_for_the_reference_org(org: DemoOrg) -> None:
    # The ids quoted in docs and evals for now=2026-11-27T12:00:00+00:00 and seed 7.
    special = org.special
    assert special["active_checkout"] == (300,)
    assert special["related_to_active_checkout"] == (299,)
    assert special["ongoing"] == (296, 297, 298, 299, 300)
    assert special["sev1_past_7d"] == (292, 295, 300)
    assert special["payments_past_30d"] == (276, 295, 299, 300)
    assert special["ddos_past_30d"] == (281, 296)
    assert special["incident_123"] == (123,)
    assert special["resolved_short"] == (287,)
    assert special["private"] == (253,)
    assert special["prompt_injection"] == (281, 297)


# --------------------------------------------------------------------------------------------------
# Bulk generation and JSONL
# --------------------------------------------------------------------------------------------------


def test_generate_bulk_count_and_schema() -> None:
    records = list(generate_bulk(now=NOW, seed=3, incident_count=10_000, entries_per_incident=20))
    assert len(records) == 10_000
    assert all(len(r["timeline"]) == 20 for r in records)
    assert [r["id"] for r in records] == list(range(1, 10_001))
    for record in records[::97]:
        assert_valid_record(record, NOW)
    declared = [r["declared_at"] for r in records]
    assert declared == sorted(declared)
    assert len({r["channel_id"] for r in records}) == 10_000


def test_generate_bulk_is_deterministic_and_handles_small_entry_counts() -> None:
    first = list(generate_bulk(now=NOW, seed=5, incident_count=50, entries_per_incident=7))
    second = list(generate_bulk(now=NOW, seed=5, incident_count=50, entries_per_incident=7))
    assert json.dumps(first) == json.dumps(second)
    assert first != list(generate_bulk(now=NOW, seed=6, incident_count=50, entries_per_incident=7))
    for entries in (1, 2, 3):
        for record in generate_bulk(now=NOW, seed=1, incident_count=20, entries_per_incident=entries):
            assert len(record["timeline"]) == entries
            assert_valid_record(record, NOW)
    with pytest.raises(ValueError):
        next(generate_bulk(now=NOW, seed=1, incident_count=1, entries_per_incident=0))


def test_write_jsonl_round_trip(org: DemoOrg, tmp_path: Path) -> None:
    path = tmp_path / "nested" / "demo.jsonl"
    assert write_jsonl(org.incidents, path) == 300
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == org.incidents
    assert write_jsonl(generate_bulk(now=NOW, seed=1, incident_count=10, entries_per_incident=5), path) == 10


def test_records_pass_the_jsonl_importer_schema(org: DemoOrg) -> None:
    # The importer is the consumer of these records.
    from agent.importers.jsonl import IncidentRecord

    for record in org.incidents:
        IncidentRecord.model_validate(record)
    for record in generate_bulk(now=NOW, seed=1, incident_count=100, entries_per_incident=20):
        IncidentRecord.model_validate(record)

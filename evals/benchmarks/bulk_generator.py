"""Bulk import records for the benchmarks: many incidents, fast, with exactly N timeline entries each.

``generate_bulk`` yields records in the JSONL import schema of ``agent.demo.generator.generate_demo``,
built for speed (benchmarks: 10,000 incidents x 20 entries) rather than narrative quality. Its texts come
from a bank of (title, services, impact, root cause, remediation, messages) combos rendered once from the
demo's causes with the demo generator's own helpers, so they read like the demo's incidents. Only the
benchmarks (``bench_import``) and a unit test use it; the demo itself never does.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

from agent.demo.content import (
    CAUSE_WEIGHTS,
    CAUSES,
    COMMANDER_POOL,
    FILLERS,
    ROSTER,
    STATUS_RESOLVED,
    STATUS_STABLE,
)
from agent.demo.incident_context import Cast, build_context
from agent.demo.records import channel_id, channel_slug, first_sentence, normalize_now
from agent.demo.scenarios import SEVERITIES, Plan

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# "THH:MM:00+00:00" for every minute of the day: formatting times is the hot loop in bulk mode.
_MINUTE_SUFFIX: tuple[str, ...] = tuple(f"T{m // 60:02d}:{m % 60:02d}:00+00:00" for m in range(1440))


def _bulk_templates() -> list[dict[str, Any]]:
    """Pre-rendered (title, services, impact, root cause, remediation) combos reused by ``generate_bulk``."""
    out = []
    rng = random.Random(0)  # fixed: the bank is the same for every seed, only the selection varies
    for cause_key in sorted(CAUSE_WEIGHTS):
        cause = CAUSES[cause_key]
        for primary in cause.primary:
            for v_index, variant in enumerate(cause.variants):
                co = [s for s in cause.co if s != primary][:1]
                plan = Plan(
                    cause=cause_key,
                    variant=v_index,
                    services=[primary, *co],
                    severity="SEV-3",
                    initial_severity="SEV-3",
                    status="resolved",
                    declared_at=datetime(2026, 1, 1, tzinfo=UTC),
                    stable_at=None,
                    resolved_at=None,
                    completed_at=None,
                    length=20,
                )
                cast = Cast(
                    ic=COMMANDER_POOL[0],
                    ic2=None,
                    responders=[ROSTER[0].name, ROSTER[1].name],
                    support="",
                    comms="",
                )
                ctx = build_context(rng, plan, 0, cast)
                title = rng.choice(cause.titles + variant.titles).format_map(ctx)
                root_cause = variant.root_cause.format_map(ctx)
                remediation = variant.remediation.format_map(ctx)
                impact = rng.choice(cause.impacts).format_map(ctx)
                detection = variant.detection or cause.detection
                investigation = variant.investigation or cause.investigation
                messages = [t.format_map(ctx) for t in (*detection, *investigation, *variant.finding)]
                messages += [t.format_map(ctx) for t in variant.fixes]
                messages += [t.format_map({**ctx, "pct2": "12"}) for t in FILLERS]
                out.append(
                    {
                        "title": title,
                        "slug": channel_slug(title),
                        "services": plan.services,
                        "customer_impact": impact,
                        "root_cause": root_cause,
                        "remediation": remediation,
                        "summary": f"{impact} {first_sentence(root_cause)} {first_sentence(remediation)}",
                        "messages": messages,
                    }
                )
    return out


def generate_bulk(
    *, now: datetime, seed: int, incident_count: int, entries_per_incident: int
) -> Iterator[dict]:
    """Yield ``incident_count`` import records with exactly ``entries_per_incident`` timeline entries each.

    Same schema as ``generate_demo`` records, built for speed (benchmarks: 10,000 incidents x 20 entries)
    rather than narrative quality: texts come from a pre-rendered bank, times are whole minutes, every
    incident is resolved or completed and declared in the year before ``now`` (ids in declared order).

    Args:
        now: Reference time (timezone-aware).
        seed: Seed for ``random.Random``; output is deterministic.
        incident_count: Number of records to yield.
        entries_per_incident: Timeline entries per record (>= 1).

    Yields:
        Import-record dicts.

    Raises:
        ValueError: If ``now`` is naive or ``entries_per_incident`` < 1.
    """
    if entries_per_incident < 1:
        raise ValueError("entries_per_incident must be >= 1")
    now = normalize_now(now)
    rng = random.Random(seed)
    rand = rng.random  # bound method: int(rand() * n) is several times cheaper than randrange in this loop
    bank = _bulk_templates()
    n_bank = len(bank)
    n_entries = entries_per_incident
    # Each template's messages repeated so any rotation offset < 64 can be sliced without wrapping.
    cycles = [(t["messages"] * (1 + (64 + n_entries) // len(t["messages"]))) for t in bank]
    authors = [p.name for p in ROSTER]
    n_auth = len(authors)
    author_cycle = authors * (2 + n_entries // n_auth)
    stable_index = (2 * (n_entries - 1)) // 3
    kinds = ["message"] * n_entries
    status_texts: list[tuple[int, str]] = []
    if n_entries > 1:
        status_texts.append((stable_index, STATUS_STABLE))
        status_texts.append((n_entries - 1, STATUS_RESOLVED))
    status_texts.append((0, "Incident declared. Status: Active."))  # last, so it wins when indexes coincide
    for k, _ in status_texts:
        kinds[k] = "status_change"
    day_cache: dict[int, str] = {}

    def day_str(day: int) -> str:
        text = day_cache.get(day)
        if text is None:
            text = day_cache[day] = date.fromordinal(_EPOCH_ORDINAL + day).isoformat()
        return text

    def iso_minute(minute: int) -> str:
        return day_str(minute // 1440) + _MINUTE_SUFFIX[minute % 1440]

    now_minute = int(now.timestamp()) // 60
    # The last incident must still resolve (<= 9 minutes per entry) and complete (+1 day) before now.
    last_minute = now_minute - 2 * 1440 - 9 * n_entries
    first_minute = now_minute - 365 * 1440 + 60
    if last_minute <= first_minute:
        raise ValueError("entries_per_incident is too large to fit every incident in the past year")
    per = (last_minute - first_minute) / max(1, incident_count)
    width = max(1, int(per))

    for index in range(incident_count):
        incident_id = index + 1
        t_index = int(rand() * n_bank)
        tpl = bank[t_index]
        # Monotonic: each incident is placed in its own slice of the year, so ids follow declared order.
        declared = first_minute + int(index * per) + int(rand() * width)
        step = 1 + int(rand() * 9)
        offset = int(rand() * 64)
        author_offset = int(rand() * n_auth)
        texts = cycles[t_index][offset : offset + n_entries]
        for k, text in status_texts:
            texts[k] = text
        day0, mod0 = divmod(declared, 1440)
        last_mod = mod0 + (n_entries - 1) * step
        if last_mod < 1440:  # common case: the whole timeline falls on one UTC day, slice pre-built suffixes
            prefix = day_str(day0)
            ats = [prefix + suffix for suffix in _MINUTE_SUFFIX[mod0 : last_mod + 1 : step]]
        else:
            ats = [iso_minute(minute) for minute in range(declared, declared + n_entries * step, step)]
        ts_base = declared * 60
        timeline = [
            {"at": at, "author": author, "text": text, "kind": kind, "ts": f"{ts}.000100"}
            for at, author, text, kind, ts in zip(
                ats,
                author_cycle[author_offset : author_offset + n_entries],
                texts,
                kinds,
                range(ts_base, ts_base + n_entries * step * 60, step * 60),
                strict=True,
            )
        ]
        resolved_minute = declared + max(n_entries - 1, 1) * step
        completed = rand() < 0.7
        yield {
            "id": incident_id,
            "title": tpl["title"],
            "severity": SEVERITIES[int(rand() * 5)],
            "status": "completed" if completed else "resolved",
            "declared_at": ats[0],
            "stable_at": ats[stable_index],
            "resolved_at": iso_minute(resolved_minute),
            "completed_at": iso_minute(resolved_minute + 1440) if completed else None,
            "services": list(tpl["services"]),
            "commander": author_cycle[author_offset],
            "customer_impact": tpl["customer_impact"],
            "root_cause": tpl["root_cause"],
            "remediation": tpl["remediation"],
            "summary": tpl["summary"],
            "channel": f"incident-{incident_id}-{tpl['slug']}",
            "channel_id": channel_id(seed, incident_id),
            "private": False,
            "timeline": timeline,
        }

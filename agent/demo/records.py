"""The demo's import records: one rendered from a plan, their field formats, and writing them as JSONL.

A record is a plain dict in the JSONL import schema (``agent.importers.jsonl``). The field formats here
(UTC times in whole seconds, channel slugs and ids, summary sentences) are shared with the benchmarks'
bulk generator, so both produce records the importer reads the same way.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agent.demo.content import CAUSES
from agent.demo.incident_context import build_context, pick_cast
from agent.demo.scenarios import Plan
from agent.demo.timeline import Entry, build_timeline

__all__ = ["channel_id", "channel_slug", "first_sentence", "normalize_now", "render_record", "write_jsonl"]


def normalize_now(now: datetime) -> datetime:
    """Return ``now`` in UTC truncated to whole seconds; naive datetimes are rejected, not guessed."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware (e.g. datetime(..., tzinfo=UTC))")
    return now.astimezone(UTC).replace(microsecond=0)


def _iso(dt: datetime) -> str:
    """Format as ISO-8601 with an explicit UTC offset, e.g. ``2026-11-20T14:03:00+00:00``."""
    return dt.astimezone(UTC).replace(microsecond=0).isoformat()


def channel_slug(title: str, max_len: int = 50) -> str:
    """Slack-safe channel slug from a title: lowercase alnum and hyphens, cut at a word boundary."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    if len(slug) > max_len:
        slug = slug[:max_len].rsplit("-", 1)[0]
    return slug or "incident"


def channel_id(seed: int, incident_id: int) -> str:
    """Deterministic Slack-like channel id ("C0" + 9 uppercase alnum) from a hash, not from the RNG.

    Hashing keeps ids stable even if the amount of randomness consumed elsewhere changes; upper-case hex
    is alphanumeric like real Slack ids and cheap enough for the bulk path.
    """
    return (
        "C0" + hashlib.sha256(f"incident-copilot-demo:{seed}:{incident_id}".encode()).hexdigest()[:9].upper()
    )


def first_sentence(text: str) -> str:
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


def _slack_ts(entries: list[Entry]) -> list[str]:
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
            f"{impact} {first_sentence(root_cause)} {first_sentence(remediation)}"
        )
    assert plan.resolved_at is not None
    total = _duration(plan.resolved_at - plan.declared_at)
    return (
        f"Declared {declared}, mitigated after {mitigated}, resolved after {total}. {impact} "
        f"{first_sentence(root_cause)} {first_sentence(remediation)}"
    )


def render_record(plan: Plan, incident_id: int, seed: int) -> dict[str, Any]:
    """Render one incident record. Uses its own RNG so its text does not depend on other incidents."""
    rng = random.Random(seed * 1_000_003 + incident_id)
    cause = CAUSES[plan.cause]
    variant = cause.variants[plan.variant]
    cast = pick_cast(rng, plan)
    ctx = build_context(rng, plan, incident_id, cast)
    title = (plan.title or rng.choice(cause.titles + variant.titles)).format_map(ctx)
    impact = (plan.impact or rng.choice(cause.impacts)).format_map(ctx)
    entries, final_ic = build_timeline(rng, plan, cause, variant, ctx, cast)
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
        "channel": f"incident-{incident_id}-{channel_slug(title)}",
        "channel_id": channel_id(seed, incident_id),
        "private": plan.private,
        "timeline": timeline,
    }


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

"""The channel timeline of one demo incident: which messages, in which order, at which times.

A timeline has up to three phases (declaration to mitigation, mitigation to resolution, the postmortem
note); each keeps its core messages, adds optional groups by priority while they fit the incident's
planned length, and pads with filler chatter. All randomness comes from the incident's own RNG.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from agent.demo.content import (
    ACKS,
    CHECKINS,
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
    RESOLUTIONS,
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
from agent.demo.incident_context import Cast
from agent.demo.scenarios import SEVERITIES, Plan

__all__ = ["Entry", "build_timeline"]

Entry = tuple[datetime, str, str, str]
"""One timeline entry as (at, author, text, kind)."""

_IC = "@ic"  # placeholder author, resolved to the commander at that point in time (handoffs)


@dataclass
class _Msg:
    rank: float  # relative position within its phase, 0..1
    author: str
    text: str
    kind: str = "message"


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


def build_timeline(
    rng: random.Random, plan: Plan, cause: Cause, variant: Variant, ctx: dict[str, str], cast: Cast
) -> tuple[list[Entry], str]:
    """Build the channel timeline of the incident ``plan`` describes, its texts filled from ``ctx``.

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
    entries: list[Entry] = []
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

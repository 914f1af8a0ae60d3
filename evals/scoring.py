"""Scoring of evaluation results: argument rules, answer facts, tool choice, store changes, and totals.

Everything here is pure: it takes what a case expected and what the agent did (tool calls, answer text,
snapshots of the store before and after) and says what failed, in sentences fit for the report. The
runner (`evals.runner`) produces those inputs.

A case passes when four checks pass:

* tools: every expected tool was called, and no tool that changes the store was called unasked;
* args: each expected call was made with arguments that satisfy its rules;
* facts: the answer states the expected ids, count and phrases (and none it must not);
* state: the store holds the expected values afterwards and nothing else changed (no unwanted write).
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from agent.demo.services import SERVICES
from agent.incidents.exceptions import InvalidInput
from agent.time_windows import NUMBER_WORDS, parse_window_argument
from evals.dataset import WRITE_TOOLS, ExpectedState, Facts, ToolExpectation, incident_number

CHECKS = ("tools", "args", "facts", "state")
"""The checks of a case, in report order."""

DEFAULT_WINDOW_TOLERANCE_HOURS = 12.0
"""How far the ends of a time window may be from the expected ones ("since Nov 20" vs "past 7 days")."""

_FOCUS_WORDS = re.compile(r"\b(this|current|here|focus|it)\b", re.IGNORECASE)
_REF_RE = re.compile(r"(?:\bincident[\s_-]?|\binc[\s_-]?|#)(\d{1,7})\b", re.IGNORECASE)
_NUMBER_WORDS = {
    "zero": 0,
    "none": 0,
    "no": 0,
    "single": 1,
    **NUMBER_WORDS,
    "eleven": 11,
    "twelve": 12,
}
# Numbers that are parts of something else, never a count: ids, severities, dates, times, versions, sizes.
_NOT_COUNTS = re.compile(
    r"(?:\bincident[\s_-]?|\binc[\s_-]?|#)\d+"
    r"|\bsev[\s-]?\d\b"
    r"|\d{4}-\d{2}-\d{2}(?:[ T]\d{1,2}:\d{2}(?::\d{2})?Z?)?"
    r"|\b\d{1,2}:\d{2}\b"
    r"|\b\d+(?:[.,]\d+)+(?:-\d+)?"
    r"|\b\d+\s*(?:%|ms|s\b|m\b|h\b|min|minutes|hours|days|k\b|gbps|req)",
    re.IGNORECASE,
)
_SERVICE_ALIASES: dict[str, str] = {
    re.sub(r"[^a-z0-9]", "", spelling.casefold()): spec.name
    for spec in SERVICES
    for spelling in (spec.name, spec.display_name, *spec.aliases)
}


# --- argument rules -------------------------------------------------------------------------------------


def _norm(value: Any) -> str:
    """Returns a value as comparable text: case, spaces and punctuation ignored ("SEV-1" == "sev1")."""
    return re.sub(r"[^a-z0-9]", "", str(value).casefold())


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple | set | frozenset) else [value]


def _text(value: Any) -> str:
    return " ".join(str(value).casefold().split())


def _window_matches(actual: Any, spec: Mapping[str, Any], now: datetime) -> bool:
    if not isinstance(actual, str) or not actual.strip():
        return False
    try:
        window = parse_window_argument(actual, now)
    except InvalidInput:
        return False
    if window is None:
        return False
    tolerance = timedelta(hours=float(spec.get("tolerance_hours", DEFAULT_WINDOW_TOLERANCE_HOURS)))
    since = datetime.fromisoformat(spec["since"])
    until = datetime.fromisoformat(spec["until"]) if spec.get("until") else now
    return abs(window.since - since) <= tolerance and abs(window.until - until) <= tolerance


def _incident_matches(actual: Any, spec: Any) -> bool:
    number, focus_ok = (
        (spec["number"], spec.get("focus_ok", False)) if isinstance(spec, dict) else (spec, False)
    )
    text = "" if actual is None else str(actual)
    digits = re.findall(r"\d+", text)
    if not digits:
        # "this incident", "the current one" or nothing at all mean the incident in focus.
        return focus_ok and (not text.strip() or bool(_FOCUS_WORDS.search(text)))
    return len(digits) == 1 and int(digits[0]) == number


def _service_set(values: Any) -> set[str]:
    return {_SERVICE_ALIASES.get(_norm(v), _norm(v)) for v in _as_list(values)}


def match_rule(rule: Any, actual: Any, *, now: datetime) -> bool:
    """Returns whether an actual argument or field value satisfies a rule of the dataset.

    A bare value means `equals` (a list: `set_equal`). Rules, each a one-key dict:
    `equals` (case and punctuation ignored), `contains` (substring; of any item for lists), `any_of`
    (equals one of the alternatives), `set_equal` / `includes` (lists as sets), `absent` (None or empty),
    `window` ({"since", "until"?, "tolerance_hours"?}: the value, read by the tools' own time parser,
    names that window), `incident` (a number, or {"number", "focus_ok"}: the reference names that incident;
    with focus_ok, "this incident" or nothing also does), `service_set` (names or aliases of exactly these
    services).
    """
    if not isinstance(rule, dict):
        if isinstance(rule, list):
            return match_rule({"set_equal": rule}, actual, now=now)
        return match_rule({"equals": rule}, actual, now=now)
    ((kind, expected),) = rule.items()
    if kind == "equals":
        if isinstance(expected, list):
            return sorted(map(_norm, expected)) == sorted(map(_norm, _as_list(actual)))
        return actual is not None and _norm(actual) == _norm(expected)
    if kind == "contains":
        return any(_text(expected) in _text(item) for item in _as_list(actual))
    if kind == "any_of":
        return any(match_rule(alternative, actual, now=now) for alternative in expected)
    if kind == "set_equal":
        return {_norm(v) for v in expected} == {_norm(v) for v in _as_list(actual)}
    if kind == "includes":
        return {_norm(v) for v in expected} <= {_norm(v) for v in _as_list(actual)}
    if kind == "absent":
        return (actual in (None, "", [], {})) == bool(expected)
    if kind == "window":
        return _window_matches(actual, expected, now)
    if kind == "incident":
        return _incident_matches(actual, expected)
    if kind == "service_set":
        return _service_set(expected) == _service_set(actual)
    raise ValueError(f"unknown rule '{kind}'")


# --- tool calls -----------------------------------------------------------------------------------------


@dataclass
class ToolCheck:
    """How the tool calls of one turn compare with the expected ones."""

    tools_ok: bool
    args_ok: bool
    failures: list[str] = field(default_factory=list)


def _describe(call: Mapping[str, Any]) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in (call.get("args") or {}).items())
    return f"{call.get('name')}({args})"


def check_tools(
    expected: Sequence[ToolExpectation], actual: Sequence[Mapping[str, Any]], *, now: datetime
) -> ToolCheck:
    """Returns whether each expected call was made (with matching arguments) and no write was made unasked.

    Extra read-only calls are allowed: looking something up twice is not wrong; changing the store
    without being asked is.
    """
    failures: list[str] = []
    tools_ok = args_ok = True
    used: set[int] = set()
    for expectation in expected:
        candidates = [
            i for i, call in enumerate(actual) if call.get("name") in expectation.names and i not in used
        ]
        if not candidates:
            tools_ok = args_ok = False
            failures.append(f"expected a call to {' or '.join(expectation.names)}; got {_calls(actual)}")
            continue
        matching = [
            i
            for i in candidates
            if all(
                match_rule(rule, (actual[i].get("args") or {}).get(arg), now=now)
                for arg, rule in expectation.args.items()
            )
        ]
        if matching:
            used.add(matching[0])
            continue
        args_ok = False
        used.add(candidates[0])
        failures.append(
            f"{_describe(actual[candidates[0]])} does not match the expected arguments {expectation.args}"
        )
    unasked = [call for i, call in enumerate(actual) if call.get("name") in WRITE_TOOLS and i not in used]
    if unasked:
        tools_ok = False
        failures.append(f"called a write tool nobody asked for: {_calls(unasked)}")
    return ToolCheck(tools_ok=tools_ok, args_ok=args_ok, failures=failures)


def _calls(calls: Iterable[Mapping[str, Any]]) -> str:
    described = [_describe(call) for call in calls]
    return ", ".join(described) if described else "no tool calls"


# --- answer facts ---------------------------------------------------------------------------------------


def mentioned_ids(answer: str) -> list[int]:
    """Returns the incident numbers an answer mentions (incident-12, #12, INC-12), first mention first."""
    return list(dict.fromkeys(int(number) for number in _REF_RE.findall(answer)))


def stated_numbers(answer: str) -> set[int]:
    """Returns the numbers an answer states as counts, leaving out ids, severities, dates, times and versions."""
    text = _NOT_COUNTS.sub(" ", answer)
    numbers = {int(n) for n in re.findall(r"(?<![\w.-])\d+(?![\w.])", text)}
    numbers |= {
        value for word, value in _NUMBER_WORDS.items() if re.search(rf"\b{word}\b", text, re.IGNORECASE)
    }
    return numbers


_NONE_RE = re.compile(
    r"\b(no|none|nothing|zero|0|not find|found no|couldn'?t find|could not find|didn'?t find|no match\w*)\b",
    re.IGNORECASE,
)


def expects_some(facts: Facts | None) -> bool:
    """Returns whether the expected answer names at least one incident or a count above zero."""
    if facts is None:
        return False
    return bool(facts.ids_include or facts.ids_any or facts.ids_exact or (facts.count or 0) > 0)


def is_false_zero(answer: str, facts: Facts | None) -> bool:
    """Returns whether an answer says "none" (and names no incident) where incidents are expected.

    The worst answer there is: a confident "there are none" makes people stop trusting the bot.
    """
    return expects_some(facts) and not mentioned_ids(answer) and bool(_NONE_RE.search(answer))


def check_facts(answer: str, facts: Facts) -> list[str]:
    """Returns what the answer gets wrong against the expected facts (empty when it states them all)."""
    failures: list[str] = []
    mentioned = set(mentioned_ids(answer))
    missing = [i for i in facts.ids_include if incident_number(i) not in mentioned]
    if missing:
        failures.append(f"does not mention {', '.join(missing)}")
    if facts.ids_any and not mentioned & {incident_number(i) for i in facts.ids_any}:
        failures.append(f"mentions none of {', '.join(facts.ids_any)}")
    wrong = [i for i in facts.ids_exclude if incident_number(i) in mentioned]
    if wrong:
        failures.append(f"mentions {', '.join(wrong)}, which it must not")
    if facts.ids_exact is not None:
        expected = {incident_number(i) for i in facts.ids_exact}
        if mentioned != expected:
            extra = sorted(mentioned - expected)
            absent = sorted(expected - mentioned)
            failures.append(
                f"mentions incidents {sorted(mentioned)}; expected exactly {sorted(expected)}"
                f" (extra {extra}, missing {absent})"
            )
    if facts.count is not None and facts.count not in stated_numbers(answer):
        failures.append(f"does not state the count {facts.count}")
    text = _text(answer)
    absent_phrases = [p for p in facts.phrases_all if _text(p) not in text]
    if absent_phrases:
        failures.append(f"does not say {absent_phrases}")
    if facts.phrases_any and not any(_text(p) in text for p in facts.phrases_any):
        failures.append(f"says none of {facts.phrases_any}")
    forbidden = [p for p in facts.phrases_none if _text(p) in text]
    if forbidden:
        failures.append(f"says {forbidden}, which it must not")
    return failures


# --- the store ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoreSnapshot:
    """What the state check compares: incidents' fields, postmortems and audit records."""

    incidents: dict[int, dict[str, Any]]
    """Number -> fields (title, severity, status, services, ..., version, timeline_entries)."""

    postmortems: dict[int, tuple[int, bool]]
    """Postmortem id -> (incident number, linked)."""

    audit: dict[int, tuple[str, int | None]]
    """Audit record id -> (action, incident number)."""


_BOOKKEEPING = frozenset(
    {"version", "timeline_entries", "updated_at", "stable_at", "resolved_at", "completed_at"}
)
"""Fields a requested change moves along with the one asked for."""


def check_state(
    before: StoreSnapshot, after: StoreSnapshot, expected: ExpectedState, *, now: datetime
) -> tuple[list[str], list[str]]:
    """Returns (expectations not met, unwanted writes) for the store before and after a case."""
    failures: list[str] = []
    unwanted: list[str] = []
    allowed = (
        {} if expected.no_writes else {incident_number(i): set(f) for i, f in expected.incidents.items()}
    )
    drafted = set() if expected.no_writes else {incident_number(i) for i in expected.postmortems}
    for number in sorted(set(before.incidents) - set(after.incidents)):
        unwanted.append(f"incident-{number} was deleted")
    for number, fields in sorted(after.incidents.items()):
        old = before.incidents.get(number)
        if old is None:
            if number not in allowed:
                unwanted.append(f"incident-{number} was declared: {fields.get('title')!r}")
            continue
        changed = sorted(f for f in fields if fields[f] != old.get(f))
        if not changed:
            continue
        if number not in allowed:
            unwanted.append(f"incident-{number} changed ({', '.join(changed)})")
            continue
        beyond = [f for f in changed if f not in allowed[number] and f not in _BOOKKEEPING]
        if beyond:
            unwanted.append(f"incident-{number} also changed {', '.join(beyond)}")
    for pm_id, (number, _linked) in sorted(after.postmortems.items()):
        if pm_id not in before.postmortems and number not in drafted:
            unwanted.append(f"a postmortem was stored for incident-{number}")
    known = set(allowed) | drafted
    for record_id, (action, number) in sorted(after.audit.items()):
        if record_id not in before.audit and number not in known:
            unwanted.append(
                f"audit record '{action}' for {'incident-' + str(number) if number else 'no incident'}"
            )
    for public_id, fields in expected.incidents.items():
        current = after.incidents.get(incident_number(public_id))
        if current is None:
            failures.append(f"{public_id} does not exist afterwards")
            continue
        for name, rule in fields.items():
            if not match_rule(rule, current.get(name), now=now):
                failures.append(f"{public_id} {name} is {current.get(name)!r}; expected {rule!r}")
    for public_id in expected.postmortems:
        number = incident_number(public_id)
        new = [pm for pm_id, pm in after.postmortems.items() if pm_id not in before.postmortems]
        if (number, True) not in new:
            failures.append(f"no postmortem draft was linked to {public_id}")
    return failures, unwanted


# --- results and totals ---------------------------------------------------------------------------------


@dataclass
class TurnRecord:
    """What one turn did."""

    question: str
    answer: str
    tool_calls: list[dict[str, Any]]
    incidents: list[str]
    proposed: list[dict[str, Any]]
    """Changes the agent asked to confirm in this turn, with the answer they got."""
    latency_s: float
    model_calls: int
    input_tokens: int
    decided_by: str | None = None
    """What decided the offline model's intent (`rule:<name>`, `similarity`)."""
    served_input_tokens: int = 0
    """Prompt tokens as the model server counted them (0 when it reports no usage, as offline)."""
    output_tokens: int = 0
    """Completion tokens as the model server counted them."""


@dataclass
class CaseResult:
    """The outcome of one case."""

    id: str
    tags: list[str]
    checks: dict[str, bool]
    failures: list[str]
    unwanted_writes: list[str]
    turns: list[TurnRecord]
    error: str | None = None
    false_zero: bool = False
    """The last answer said "none" where the case expects incidents (`is_false_zero`)."""

    @property
    def passed(self) -> bool:
        """Returns whether every check passed and nothing crashed."""
        return self.error is None and all(self.checks.get(name, False) for name in CHECKS)

    @property
    def latency_s(self) -> float:
        """Returns the agent's time over all turns (copying the store is not counted)."""
        return sum(turn.latency_s for turn in self.turns)

    @property
    def model_calls(self) -> int:
        """Returns the number of chat model calls over all turns."""
        return sum(turn.model_calls for turn in self.turns)

    @property
    def input_tokens(self) -> int:
        """Returns the estimated input tokens over all turns."""
        return sum(turn.input_tokens for turn in self.turns)

    @property
    def served_input_tokens(self) -> int:
        """Returns the prompt tokens the model server reported over all turns."""
        return sum(turn.served_input_tokens for turn in self.turns)

    @property
    def output_tokens(self) -> int:
        """Returns the completion tokens the model server reported over all turns."""
        return sum(turn.output_tokens for turn in self.turns)


@dataclass
class Tally:
    """Pass counts of a group of cases."""

    cases: int = 0
    passed: int = 0
    checks: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHECKS, 0))

    @property
    def score(self) -> float:
        """Returns the share of cases that passed (1.0 for an empty group)."""
        return self.passed / self.cases if self.cases else 1.0

    def add(self, result: CaseResult) -> None:
        """Counts one case."""
        self.cases += 1
        self.passed += result.passed
        for name in CHECKS:
            self.checks[name] += bool(result.checks.get(name)) and result.error is None


@dataclass
class Summary:
    """Totals of a run."""

    overall: Tally
    per_tag: dict[str, Tally]
    unwanted_writes: int
    false_zeros: int
    latency_p50_s: float
    latency_p95_s: float
    model_calls: int
    input_tokens: int
    decided_by: dict[str, int] = field(default_factory=dict)
    """Turns per way the intent was decided: `similarity`, or `rule` (named rules in `rules`)."""
    rules: dict[str, int] = field(default_factory=dict)
    served_input_tokens: int = 0
    """Prompt tokens the model server reported (real tokenizer counts; 0 offline)."""
    output_tokens: int = 0
    """Completion tokens the model server reported."""


def summarize(results: Sequence[CaseResult]) -> Summary:
    """Returns the overall and per-tag tallies, unwanted writes, latency percentiles and model usage."""
    overall = Tally()
    per_tag: dict[str, Tally] = {}
    for result in results:
        overall.add(result)
        for tag in result.tags:
            per_tag.setdefault(tag, Tally()).add(result)
    latencies = sorted(result.latency_s for result in results) or [0.0]
    p95_index = min(len(latencies) - 1, max(0, round(0.95 * len(latencies)) - 1))
    return Summary(
        overall=overall,
        per_tag=dict(sorted(per_tag.items())),
        unwanted_writes=sum(len(result.unwanted_writes) for result in results),
        false_zeros=sum(result.false_zero for result in results),
        latency_p50_s=statistics.median(latencies),
        latency_p95_s=latencies[p95_index],
        model_calls=sum(result.model_calls for result in results),
        input_tokens=sum(result.input_tokens for result in results),
        served_input_tokens=sum(result.served_input_tokens for result in results),
        output_tokens=sum(result.output_tokens for result in results),
        decided_by=dict(
            Counter(t.decided_by.split(":")[0] for r in results for t in r.turns if t.decided_by)
        ),
        rules=dict(
            Counter(
                t.decided_by for r in results for t in r.turns if t.decided_by and ":" in t.decided_by
            ).most_common()
        ),
    )

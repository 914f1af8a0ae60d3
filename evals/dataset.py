"""The evaluation cases: their schema, loading and selection, and the SQL oracle that keeps them honest.

A case is one conversation with the agent over the demo organisation (seed 7, clock frozen at
`EVAL_NOW`): one or more turns, the tool calls it should make, the facts its answer must state and, for
write actions, the store's state afterwards. `evals/datasets/README.md` documents every field.

The oracle re-derives each literal expectation from the store with plain SQL, independently of the
agent's service layer and normalisation: every `count` and `ids_exact` must equal what an `oracle.query`
selects, `ids_include` must lie inside it, every phrase of an `oracle.facts_from` must appear in that
incident's own fields, and channels and write targets must exist as the case assumes. So a dataset can
never silently drift from the data it describes.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import Connection, and_, func, or_, select, true

from agent.incidents.models import Incident, Service, TimelineEntry, incident_services
from tools import TOOLS

DATASETS_DIR = Path(__file__).parent / "datasets"
"""`dev/` (tests, examples and fixes may use it) and `heldout/` (nothing may: written blind, scored only)."""

SPLITS = ("dev", "heldout")
"""The two parts of the evaluation data."""

ORGANISATIONS = ("demo", "public")
"""The stores a case can run over: the generated demo organisation, and real public incidents
(`evals/orgs/public/incidents.jsonl`). A dataset file's name starts with its organisation."""

DATASET_PATH = DATASETS_DIR / "dev" / "demo.jsonl"
"""The dev cases over the demo organisation: the suite the unit tests read."""

EVAL_NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
"""The frozen clock of every case; the demo organisation is generated around it."""

EVAL_SEED = 7
"""The demo generator's seed the expectations were computed for."""

REQUIRED_TAGS = frozenset(
    {
        "count",
        "filter",
        "time",
        "service",
        "semantic",
        "root_cause",
        "related",
        "followup",
        "write",
        "decline",
        "injection",
        "summary",
        "postmortem",
        "paraphrase",
        "source_doc",
    }
)
"""Tags the suite must cover; a case may carry others too."""

WRITE_TOOLS = frozenset({"declare", "update_severity", "set_status", "draft_postmortem"})
"""Tools that change the store; calling one that a case does not expect fails the case."""

TOOL_ARGUMENTS: dict[str, frozenset[str]] = {tool.name: frozenset(tool.args) for tool in TOOLS}
"""The arguments each tool of the contract takes."""

RULE_KINDS = frozenset(
    {"equals", "contains", "any_of", "set_equal", "includes", "absent", "window", "incident", "service_set"}
)
"""Argument-matching rules; `evals.scoring.match_rule` defines each."""

_PUBLIC_ID_RE = re.compile(r"^incident-(\d+)$")
_CASE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{2,80}$")


def incident_number(public_id: str) -> int:
    """Returns the number of a public id such as `incident-123`.

    Raises:
        ValueError: for anything else.
    """
    match = _PUBLIC_ID_RE.match(public_id)
    if match is None:
        raise ValueError(f"'{public_id}' is not a public incident id like incident-123")
    return int(match.group(1))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ToolExpectation(_Strict):
    """A tool call the turn must make: its name (or names that would all do) and the arguments that matter."""

    name: str | list[str]
    args: dict[str, Any] = Field(default_factory=dict)

    @property
    def names(self) -> tuple[str, ...]:
        """Returns the tool names that satisfy this expectation."""
        return (self.name,) if isinstance(self.name, str) else tuple(self.name)

    @field_validator("args")
    @classmethod
    def _rules_are_known(cls, args: dict[str, Any]) -> dict[str, Any]:
        for arg, rule in args.items():
            if isinstance(rule, dict) and (len(rule) != 1 or next(iter(rule)) not in RULE_KINDS):
                raise ValueError(f"argument '{arg}': a rule is one of {sorted(RULE_KINDS)}, got {rule}")
        return args

    @model_validator(mode="after")
    def _arguments_exist(self) -> ToolExpectation:
        # An argument no tool of the names takes can never match: the case would fail whatever the agent did.
        for name in self.names:
            taken = TOOL_ARGUMENTS.get(name)
            unknown = sorted(set(self.args) - taken) if taken is not None else []
            if unknown:
                raise ValueError(
                    f"{name} takes no argument {unknown}; its arguments are {sorted(taken or ())}"
                )
        return self


class Facts(_Strict):
    """What the answer must say; ids are public ids (`incident-300`)."""

    ids_include: list[str] = Field(default_factory=list)
    ids_any: list[str] = Field(default_factory=list)
    ids_exclude: list[str] = Field(default_factory=list)
    ids_exact: list[str] | None = None
    count: int | None = Field(default=None, ge=0)
    phrases_all: list[str] = Field(default_factory=list)
    phrases_any: list[str] = Field(default_factory=list)
    phrases_none: list[str] = Field(default_factory=list)

    @field_validator("ids_include", "ids_any", "ids_exclude", "ids_exact")
    @classmethod
    def _public_ids(cls, ids: list[str] | None) -> list[str] | None:
        for public_id in ids or ():
            incident_number(public_id)
        return ids

    def is_empty(self) -> bool:
        """Returns whether nothing is expected of the answer."""
        return self == Facts()


class OracleQuery(_Strict):
    """A selection of incidents in plain SQL terms; every field is optional and they combine with AND.

    Private incidents are left out unless `include_private`, as the agent hides them outside their channel.
    """

    status: list[Literal["active", "stable", "resolved", "completed"]] | None = None
    severity: list[str] | None = None
    services: list[str] | None = None
    declared_since: datetime | None = None
    declared_until: datetime | None = None
    resolved_since: datetime | None = None
    resolved_until: datetime | None = None
    text_any: list[str] | None = None
    """Case-insensitive substrings, any of which appears in title, summary, impact, root cause or remediation."""
    include_private: bool = False


class FactsSource(_Strict):
    """Where an answer's phrases come from: fields of one incident (`timeline` means its messages)."""

    incident: str
    fields: list[
        Literal["title", "root_cause", "remediation", "customer_impact", "summary", "commander", "timeline"]
    ]


class Oracle(_Strict):
    """How the literal expectations of a turn are re-derived from the store."""

    query: OracleQuery | None = None
    facts_from: FactsSource | None = None


class ExpectedState(_Strict):
    """The store after the case: field values of incidents, postmortems drafted, or nothing changed.

    With `no_writes`, `incidents` lists values that must still hold. Any change the case does not name
    (another incident, another field, an unexpected postmortem or audit record) is an unwanted write.
    """

    incidents: dict[str, dict[str, Any]] = Field(default_factory=dict)
    postmortems: list[str] = Field(default_factory=list)
    no_writes: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> ExpectedState:
        for public_id in [*self.incidents, *self.postmortems]:
            incident_number(public_id)
        if self.no_writes and self.postmortems:
            raise ValueError("no_writes cannot be combined with expected postmortems")
        return self


class Turn(_Strict):
    """One question; `confirm` answers the change it proposes (absent: any proposal is declined)."""

    question: str = Field(min_length=1)
    confirm: bool | None = None
    expected_tools: list[ToolExpectation] | None = None
    expected_facts: Facts | None = None
    oracle: Oracle | None = None


class Case(_Strict):
    """One evaluation case; the case-level expectations are about its last turn."""

    id: str
    tags: list[str] = Field(min_length=1)
    channel: str | None = None
    user: str = Field(min_length=1)
    turns: list[Turn] = Field(min_length=1)
    expected_tools: list[ToolExpectation] = Field(default_factory=list)
    expected_facts: Facts = Field(default_factory=Facts)
    expected_state: ExpectedState = Field(default_factory=ExpectedState)
    oracle: Oracle | None = None
    notes: str | None = None

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not _CASE_ID_RE.match(value):
            raise ValueError(f"case id '{value}' must be lowercase letters, digits and hyphens")
        return value

    def turn_expectations(
        self, index: int
    ) -> tuple[list[ToolExpectation] | None, Facts | None, Oracle | None]:
        """Returns the tools, facts and oracle that apply to turn `index` (the case's own for the last)."""
        turn = self.turns[index]
        if index == len(self.turns) - 1:
            return (
                turn.expected_tools if turn.expected_tools is not None else self.expected_tools,
                turn.expected_facts if turn.expected_facts is not None else self.expected_facts,
                turn.oracle or self.oracle,
            )
        return turn.expected_tools, turn.expected_facts, turn.oracle


class DatasetError(ValueError):
    """The dataset file does not hold valid cases; the message says where."""


def load_cases(path: Path = DATASET_PATH) -> list[Case]:
    """Returns the cases of a JSON-lines dataset, in file order.

    Raises:
        DatasetError: naming the line of the first invalid case, or a repeated id.
    """
    cases: list[Case] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            case = Case.model_validate(json.loads(line))
        except (json.JSONDecodeError, ValidationError) as error:
            raise DatasetError(f"{path.name} line {number}: {error}") from error
        if case.id in seen:
            raise DatasetError(f"{path.name} line {number}: case id '{case.id}' is repeated")
        seen.add(case.id)
        cases.append(case)
    return cases


def organisation_of(path: Path) -> str:
    """Returns the organisation a dataset file is about, from its name (`demo-a.jsonl` -> demo).

    Raises:
        DatasetError: for a name that starts with no known organisation.
    """
    organisation = path.stem.split("-", 1)[0]
    if organisation not in ORGANISATIONS:
        raise DatasetError(f"{path.name}: a dataset's name starts with one of {', '.join(ORGANISATIONS)}")
    return organisation


def dataset_files(split: str, organisation: str | None = None) -> list[Path]:
    """Returns the dataset files of a split (`dev` or `heldout`), of one organisation or of all."""
    if split not in SPLITS:
        raise DatasetError(f"unknown split '{split}'; use one of {', '.join(SPLITS)}")
    files = sorted((DATASETS_DIR / split).glob("*.jsonl"))
    return [path for path in files if organisation is None or organisation_of(path) == organisation]


def load_split(split: str, organisation: str | None = None) -> dict[str, list[Case]]:
    """Returns the cases of a split by organisation, each file's cases in file order.

    Raises:
        DatasetError: for an invalid case, or an id repeated anywhere in the split.
    """
    by_organisation: dict[str, list[Case]] = {}
    seen: set[str] = set()
    for path in dataset_files(split, organisation):
        for case in load_cases(path):
            if case.id in seen:
                raise DatasetError(f"{path.name}: case id '{case.id}' is repeated in the {split} split")
            seen.add(case.id)
            by_organisation.setdefault(organisation_of(path), []).append(case)
    return by_organisation


def select_cases(cases: Sequence[Case], *, ids: Iterable[str] = (), tags: Iterable[str] = ()) -> list[Case]:
    """Returns the cases with any of `ids` or any of `tags` (all cases when both are empty).

    Raises:
        DatasetError: for an id or tag that no case has, so a typo never runs an empty suite.
    """
    wanted_ids, wanted_tags = set(ids), set(tags)
    unknown_ids = wanted_ids - {case.id for case in cases}
    unknown_tags = wanted_tags - {tag for case in cases for tag in case.tags}
    if unknown_ids or unknown_tags:
        problems = [f"no case '{i}'" for i in sorted(unknown_ids)] + [
            f"no tag '{t}'" for t in sorted(unknown_tags)
        ]
        raise DatasetError("; ".join(problems))
    if not wanted_ids and not wanted_tags:
        return list(cases)
    return [case for case in cases if case.id in wanted_ids or wanted_tags.intersection(case.tags)]


def sample_cases(cases: Sequence[Case], *, size: int, seed: int) -> list[Case]:
    """Returns `size` of `cases` chosen at random by `seed`, in their dataset order (all when fewer).

    The choice depends only on the case ids and the seed, so a published sample can be run again: a slow
    model scored on a sample says so with its size and seed.
    """
    if size >= len(cases):
        return list(cases)
    chosen = set(random.Random(seed).sample(sorted(case.id for case in cases), size))
    return [case for case in cases if case.id in chosen]


# --- the oracle -----------------------------------------------------------------------------------------


def oracle_ids(connection: Connection, query: OracleQuery) -> set[int]:
    """Returns the numbers of the incidents an oracle query selects, by plain SQL over the store."""
    conditions: list[Any] = []
    if query.status is not None:
        conditions.append(Incident.status.in_(query.status))
    if query.severity is not None:
        conditions.append(Incident.severity.in_(query.severity))
    if query.services is not None:
        conditions.append(
            Incident.id.in_(
                select(incident_services.c.incident_id)
                .join(Service, Service.id == incident_services.c.service_id)
                .where(Service.name.in_(query.services))
            )
        )
    for column, since, until in (
        (Incident.declared_at, query.declared_since, query.declared_until),
        (Incident.resolved_at, query.resolved_since, query.resolved_until),
    ):
        if since is not None:
            conditions.append(column >= since)
        if until is not None:
            conditions.append(column < until)
    if query.text_any:
        searched = (
            Incident.title,
            Incident.summary,
            Incident.customer_impact,
            Incident.root_cause,
            Incident.remediation,
        )
        conditions.append(
            or_(
                *(
                    func.lower(column).like(f"%{text.lower()}%")
                    for text in query.text_any
                    for column in searched
                )
            )
        )
    if not query.include_private:
        conditions.append(Incident.private.is_(False))
    statement = select(Incident.id).where(and_(true(), *conditions))
    return set(connection.scalars(statement))


def _source_text(connection: Connection, source: FactsSource) -> str:
    number = incident_number(source.incident)
    row = connection.execute(select(Incident.__table__).where(Incident.id == number)).mappings().first()
    if row is None:
        return ""
    texts = [str(row[field] or "") for field in source.fields if field != "timeline"]
    if "timeline" in source.fields:
        texts.extend(
            connection.scalars(select(TimelineEntry.text).where(TimelineEntry.incident_id == number))
        )
    return "\n".join(texts).lower()


def _check_facts(
    connection: Connection, facts: Facts, oracle: Oracle | None, where: str, *, declared: set[int]
) -> list[str]:
    problems: list[str] = []
    listed = [*facts.ids_include, *facts.ids_any, *facts.ids_exclude, *(facts.ids_exact or [])]
    existing = set(connection.scalars(select(Incident.id))) | declared
    problems += [f"{where}: {i} is not in the store" for i in listed if incident_number(i) not in existing]
    needs_query = facts.count is not None or facts.ids_exact is not None
    if needs_query and (oracle is None or oracle.query is None):
        problems.append(f"{where}: a count or ids_exact needs an oracle.query to re-derive it")
    if oracle is not None and oracle.query is not None:
        selected = oracle_ids(connection, oracle.query)
        if facts.count is not None and facts.count != len(selected):
            problems.append(f"{where}: count {facts.count} but SQL selects {len(selected)}")
        if facts.ids_exact is not None and {incident_number(i) for i in facts.ids_exact} != selected:
            problems.append(f"{where}: ids_exact {facts.ids_exact} but SQL selects {sorted(selected)}")
        outside = [i for i in [*facts.ids_include, *facts.ids_any] if incident_number(i) not in selected]
        if outside:
            problems.append(f"{where}: ids_include/ids_any {outside} are not selected by the oracle query")
        inside = [i for i in facts.ids_exclude if incident_number(i) in selected]
        if inside:
            problems.append(f"{where}: ids_exclude {inside} are selected by the oracle query")
    if oracle is not None and oracle.facts_from is not None:
        text = _source_text(connection, oracle.facts_from)
        if not text:
            problems.append(
                f"{where}: {oracle.facts_from.incident} has no text in {oracle.facts_from.fields}"
            )
        missing = [p for p in facts.phrases_all if p.lower() not in text]
        if missing:
            problems.append(f"{where}: phrases_all {missing} are not in {oracle.facts_from.incident}")
        if facts.phrases_any and not any(p.lower() in text for p in facts.phrases_any):
            problems.append(f"{where}: no phrase of phrases_any is in {oracle.facts_from.incident}")
    return problems


def _check_state(connection: Connection, state: ExpectedState, where: str) -> list[str]:
    problems: list[str] = []
    top = connection.scalar(select(func.max(Incident.id))) or 0
    for public_id, fields in state.incidents.items():
        number = incident_number(public_id)
        row = connection.execute(select(Incident.__table__).where(Incident.id == number)).mappings().first()
        if row is None:
            # A declared incident gets the next number, so only that one may be missing beforehand.
            if number != top + 1 or state.no_writes:
                problems.append(f"{where}: {public_id} neither exists nor is the next number ({top + 1})")
            continue
        literal = {f: value for f, value in fields.items() if not isinstance(value, dict)}
        same = [f for f, value in literal.items() if row.get(f) == value]
        if state.no_writes and len(same) != len(literal):
            problems.append(f"{where}: {public_id} does not have {literal} now, so 'unchanged' is wrong")
        if not state.no_writes and literal and len(same) == len(literal):
            problems.append(f"{where}: {public_id} already has {literal}; the case would prove nothing")
    for public_id in state.postmortems:
        if incident_number(public_id) > top:
            problems.append(f"{where}: postmortem for {public_id}, which does not exist")
    return problems


def check_case(connection: Connection, case: Case) -> list[str]:
    """Returns every way the case's literal expectations disagree with the store (empty when none)."""
    problems: list[str] = []
    if case.channel is not None:
        linked = connection.scalar(select(func.count()).where(Incident.slack_channel_name == case.channel))
        if not linked:
            problems.append(f"{case.id}: no incident has the channel '{case.channel}'")
    # An answer may name the incident the case itself declares.
    declared = {incident_number(i) for i in case.expected_state.incidents} - set(
        connection.scalars(select(Incident.id))
    )
    for index in range(len(case.turns)):
        _tools, facts, oracle = case.turn_expectations(index)
        if facts is not None:
            problems += _check_facts(
                connection, facts, oracle, f"{case.id} turn {index + 1}", declared=declared
            )
    problems += _check_state(connection, case.expected_state, case.id)
    return problems

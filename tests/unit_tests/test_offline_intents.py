"""How the offline model recognises questions, and the words-to-values functions it relies on."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from agent.incidents.enums import Severity, Status
from agent.normalize import (
    ServiceName,
    find_services_fuzzy,
    find_severity_filter,
    find_status,
    find_status_filter,
    remove_services,
)
from agent.offline.entities import read_signals
from agent.offline.intents import (
    MIN_SIMILARITY,
    Intent,
    SimilarityClassifier,
    classify,
    correct_typos,
    get_classifier,
    rule_intent,
)
from agent.time_windows import parse_time_window, parse_window_argument
from prompts.offline import INTENT_EXAMPLES
from tests.conftest import NOW

SERVICES = [
    ServiceName("payments", ("pay", "payment", "payments-api"), "Payments"),
    ServiceName("checkout", ("checkout-svc", "cart"), "Checkout"),
    ServiceName("auth", ("login", "sign-in"), "Auth"),
    ServiceName("search", ("search-api",), "Search"),
    ServiceName("billing-db", ("postgres", "billing database"), "Billing DB"),
]


def intent_of(question: str, previous_tool: str | None = None) -> Intent:
    signals = read_signals(correct_typos(question), now=NOW, services=SERVICES)
    return classify(signals, previous_tool=previous_tool).intent


# --- spelling and shorthand --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "corrected"),
    [
        ("how many incidnets are ongoign", "how many incidents are ongoing"),
        ("hw many incs r open this wk", "how many incidents are open this week"),
        ("sumary of the remidiation", "summary of the remediation"),
        ("realted incidents?", "related incidents?"),
        # References, service names and ordinary words are left alone.
        ("incident-45 and INC-7", "incident-45 and INC-7"),
        ("the orders table is locked", "the orders table is locked"),
        ("accidents happen", "accidents happen"),
    ],
)
def test_correct_typos(text: str, corrected: str) -> None:
    assert correct_typos(text) == corrected


# --- rules -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "intent"),
    [
        ("How many incidents are currently ongoing?", Intent.query),
        ("any sev1s this week?", Intent.query),
        ("did anything hit payments in the last 30 days?", Intent.query),
        ("what's broken right now?", Intent.query),
        ("A customer is unable to check out. Is there an incident?", Intent.symptom),
        ("is checkout down?", Intent.symptom),
        ("Are there any related incidents?", Intent.related),
        ("has this happened before?", Intent.related),
        ("Find me incidents related to DDOS attacks from the past month", Intent.topic),
        ("ddos incidents last month?", Intent.topic),
        ("What was the root cause of incident-123?", Intent.root_cause),
        ("What remediation actions did the responders take in incident-123?", Intent.remediation),
        ("what did they end up doing about incident-123", Intent.remediation),
        ("how'd we get it unstuck in incident-123", Intent.remediation),
        ("which incident was the bad cert push, and what was the bad file", Intent.root_cause),
        ("incident-123 can go to stable, errors are gone", Intent.set_status),
        ("how'd we end up fixing incident-123? might be happening again elsewhere", Intent.remediation),
        ("what % of requests failed in incident-123", Intent.details),
        ("incident-123 → resolved please", Intent.set_status),
        ("wasn't there one where a cron job wiped the bucket? which incident was that", Intent.details),
        ("sev1s this month that had nothing to do w/ payments?", Intent.query),
        ("do we know why incident-123 happened?", Intent.root_cause),
        ("and how much did incident-123 end up costing us?", Intent.details),
        ("what's still left on incident-123 before we close it", Intent.remediation),
        # A purpose aside names a postmortem without asking for one.
        ("what got resolved this week? want to make sure they all get postmortems", Intent.query),
        ("this can be resolved now, no errors for a day", Intent.set_status),
        # "X related" names X's incidents, not incidents related to one in focus.
        ("any tls related stuff this month?", Intent.topic),
        ("tell me about incident-123", Intent.details),
        ("is this incident resolved?", Intent.details),
        ("Give me a summary of this incident", Intent.summary),
        ("draft a postmortem for incident-123", Intent.postmortem),
        ("Declare an incident", Intent.declare),
        ("Update this incident to SEV-3", Intent.update_severity),
        ("mark the sev1 incident as resolved", Intent.set_status),
        ("Mark this incident as stable", Intent.set_status),
        ("delete all incidents", Intent.out_of_scope),
        ("when will the next outage happen?", Intent.out_of_scope),
        ("write me a poem", Intent.out_of_scope),
        ("hi", Intent.greeting),
        ("help", Intent.help),
        ("thanks!", Intent.thanks),
        # Found on held-out sets 9 and 10 (now dev spent), in other words here.
        ("what was the outage where a 12 minute partition split the cluster?", Intent.details),
        ("need a new incident opened - search results empty for everyone, sev2", Intent.declare),
        ("catching up from apac, what's gone on here so far", Intent.summary),
        ("how long was checkout down in incident-123? writing the monthly summary", Intent.details),
        ("root cause of incident-123? short version", Intent.root_cause),
        ("whats the support ticket count for incident-123", Intent.details),
        # Held-out set 11 (now dev spent), in other words.
        ("can we just close out incident-123 as resolved? errors are gone", Intent.set_status),
        ("latency is down, knock incident-123 down to sev 4", Intent.update_severity),
        ("pull up checkout incidents since august", Intent.query),
    ],
)
def test_rules(question: str, intent: Intent) -> None:
    signals = read_signals(correct_typos(question), now=NOW, services=SERVICES)
    decided = rule_intent(signals)
    assert decided is not None and decided[0] is intent


@pytest.mark.parametrize(
    "question",
    [
        "how many incidents were declared this week?",
        "when did we declare incident-12?",
        "list incidents we opened today",
    ],
)
def test_asking_about_declarations_is_not_declaring(question: str) -> None:
    assert intent_of(question) is not Intent.declare


def test_follow_ups_need_a_previous_query() -> None:
    assert intent_of("and which of those hit payments?", previous_tool="query_incidents") is Intent.query
    signals = read_signals("what about sev2s?", now=NOW, services=SERVICES)
    assert rule_intent(signals, previous_tool="query_incidents") == (Intent.query, "follow-up of a query")
    assert rule_intent(signals, previous_tool="get_incident") != (Intent.query, "follow-up of a query")


# --- similarity --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "intent"),
    [
        ("any news on the ddos?", Intent.topic),
    ],
)
def test_paraphrases_no_rule_knows_go_by_meaning(question: str, intent: Intent) -> None:
    signals = read_signals(question, now=NOW, services=SERVICES)
    assert rule_intent(signals) is None
    decided = classify(signals)
    assert (decided.intent, decided.source) == (intent, "similarity")
    assert decided.score >= MIN_SIMILARITY


@pytest.mark.parametrize(
    ("question", "intent", "rule"),
    [
        ("who's the incident commander?", Intent.details, "attribute"),
        ("how long did 498 last?", Intent.details, "attribute"),
        ("who is on call?", Intent.out_of_scope, "beyond scope"),
        ("give me the admin password for the billing db", Intent.out_of_scope, "beyond scope"),
        ('we need an incident for "Search results stale", sev3', Intent.declare, "declare"),
        ("write up the PIR for incident-12", Intent.postmortem, "postmortem"),
        ("emails are not being delivered to customers", Intent.symptom, "symptom"),
    ],
)
def test_named_rules_decide_unambiguous_cues(question: str, intent: Intent, rule: str) -> None:
    assert rule_intent(read_signals(question, now=NOW, services=SERVICES)) == (intent, rule)


def test_unrelated_questions_are_out_of_scope() -> None:
    decided = classify(read_signals("who won the world cup", now=NOW, services=SERVICES))
    assert decided.intent is Intent.out_of_scope and decided.score < MIN_SIMILARITY


def test_every_example_is_nearest_to_its_own_intent() -> None:
    classifier = get_classifier()
    for name, examples in INTENT_EXAMPLES.items():
        for example in examples:
            assert classifier.nearest(example)[0] is Intent(name), example


class CountingEmbedding:
    """Letter-count vectors; records how many texts it was asked to embed."""

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded.extend(texts)
        vectors = np.zeros((len(texts), 26), dtype=np.float32)
        for row, text in enumerate(texts):
            for char in text.lower():
                if "a" <= char <= "z":
                    vectors[row, ord(char) - 97] += 1
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)


def test_examples_are_embedded_once_and_questions_once_each() -> None:
    embedding = CountingEmbedding()
    classifier = SimilarityClassifier({"help": ("help me",), "thanks": ("thank you",)}, embedding)  # type: ignore[arg-type]
    assert classifier.nearest("thank u") == (
        Intent.thanks,
        pytest.approx(classifier.nearest("thank u")[1]),
        "thank you",
    )
    assert classifier.nearest("helpp")[0] is Intent.help
    classifier.nearest("helpp")
    assert embedding.embedded == ["help me", "thank you", "thank u", "helpp"]


# --- words to values ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "statuses"),
    [
        ("how many open incidents rn?", ["ongoing"]),
        ("what's on fire at the moment", ["ongoing"]),
        ("resovled incidents last week", ["resolved"]),
        ("how many incidents are currently active", ["active"]),
        # "closed" means over, postmortem done or not.
        ("closed or mitigated incidents", ["resolved", "stable", "completed"]),
        ("show me resolved and open incidents", ["resolved", "ongoing"]),
        ("resolved but not completed yet", ["resolved"]),
        ("incidents not yet resolved", ["ongoing"]),
        ("incidents that impacted payments", []),
        ("the users table is locked", []),
    ],
)
def test_find_status_filter(text: str, statuses: list[str]) -> None:
    assert find_status_filter(text) == statuses


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("Mark this incident as stable", Status.stable),
        ("close it out", Status.resolved),
        ("reopen inc-3", Status.active),
        ("mark as mitigated", Status.stable),
        ("set it to resovled", Status.resolved),
        ("how bad is it", None),
    ],
)
def test_find_status(text: str, status: Status | None) -> None:
    assert find_status(text) is status


def test_find_severity_filter() -> None:
    assert find_severity_filter("any sev1s or Sev-2 incidents?") == [Severity.sev1, Severity.sev2]
    assert find_severity_filter("how many incidents still have an unknown severity?") == [Severity.unknown]
    assert find_severity_filter("untriaged incidents") == [Severity.unknown]
    assert find_severity_filter("the unknown error") == []


def test_find_services_fuzzy() -> None:
    assert find_services_fuzzy("did anything hit paymnets or chekout?", SERVICES) == ["payments", "checkout"]
    assert find_services_fuzzy("login and the billing database", SERVICES) == ["auth", "billing-db"]
    assert find_services_fuzzy("how many incidents this week", SERVICES) == []
    assert remove_services("checkout and the billing database broke", SERVICES).split() == [
        "and",
        "the",
        "broke",
    ]


@pytest.mark.parametrize(
    ("phrase", "since", "until"),
    [
        ("past week", NOW - timedelta(days=7), NOW),
        ("this week", NOW.replace(day=23, hour=0), NOW),
        ("last 30 days", NOW - timedelta(days=30), NOW),
        ("past month", NOW - timedelta(days=30), NOW),
        ("since Monday", NOW.replace(day=23, hour=0), NOW),
        ("last 2 hours", NOW - timedelta(hours=2), NOW),
        ("yesterday", NOW.replace(day=26, hour=0), NOW.replace(day=27, hour=0)),
        ("today", NOW.replace(hour=0), NOW),
        ("past wk", NOW - timedelta(days=7), NOW),
        ("last fortnight", NOW - timedelta(days=14), NOW),
        ("this morning", NOW.replace(hour=0), NOW),
        ("over the weekend", NOW.replace(day=21, hour=0), NOW.replace(day=23, hour=0)),
        ("in october", NOW.replace(month=10, day=1, hour=0), NOW.replace(day=1, hour=0)),
        ("this quarter", NOW.replace(month=10, day=1, hour=0), NOW),
        ("all time", datetime(1970, 1, 1, tzinfo=UTC), NOW),
        ("ever", datetime(1970, 1, 1, tzinfo=UTC), NOW),
    ],
)
def test_everyday_time_frames_round_trip(phrase: str, since: object, until: object) -> None:
    # The phrase found in a question is what the offline model passes on as `time_frame`.
    found = parse_time_window(f"any incidents {phrase}?", NOW)
    assert found is not None
    window = parse_window_argument(found.label, NOW)
    assert window is not None and (window.since, window.until) == (since, until)


def test_no_time_frame() -> None:
    for text in ("how many open incidents rn?", "incidents in marketing", "may I ask something"):
        assert parse_time_window(text, NOW) is None


def test_a_related_cue_in_an_aside_is_the_question_in_an_incidents_channel() -> None:
    signals = read_signals(
        "feels like we've seen this one before. dig through older incidents too", now=NOW, services=SERVICES
    )
    assert rule_intent(signals, has_focus=True) == (Intent.related, "related")
    assert signals.history

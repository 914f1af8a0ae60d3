"""Tests of hybrid search: meaning and exact words inside SQL filters, with reasons; SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from agent.incidents.enums import Severity, Status
from agent.incidents.exceptions import InvalidInput
from agent.incidents.service import IncidentFilter
from agent.search import hybrid
from agent.search.embedding import MiniLMEmbedding
from agent.search.hybrid import SIMILARITY_FLOOR, SearchHit, search_incidents
from agent.search.index import IncidentIndex, open_index
from agent.search.keyword import KeywordHit
from tests.unit_tests.test_search_index import MEMOIZED, build_corpus


@pytest.fixture(scope="session")
def embedding() -> MiniLMEmbedding:
    """Returns the embedding function of these tests (one model for the whole run)."""
    return MEMOIZED


@pytest.fixture
def index(tmp_path: Path, embedding: MiniLMEmbedding) -> Iterator[IncidentIndex]:
    """Yields an empty embedded index in a temporary folder."""
    yield open_index(path=tmp_path / "chroma", embedding=embedding)


@pytest.fixture
def numbers(db_session: Session, now: datetime) -> dict[str, int]:
    """Returns the incident numbers of the test corpus, created in the store (not yet indexed)."""
    return build_corpus(db_session, now)


def search(db_session: Session, index: IncidentIndex, query: str, **kwargs: object) -> list[SearchHit]:
    return search_incidents(db_session, index, query=query, **kwargs)  # type: ignore[arg-type]


def test_meaning_finds_the_ddos_incident_with_a_reason(
    db_session: Session, index: IncidentIndex, numbers: dict[str, int]
) -> None:
    hits = search(db_session, index, "denial of service attack")

    assert hits[0].incident_id == numbers["ddos"]
    assert hits[0].similarity is not None and hits[0].similarity >= 0.5
    assert hits[0].reasons[0] == f"similar in meaning ({hits[0].similarity:.2f})"
    assert numbers["private_ddos"] not in [hit.incident_id for hit in hits]
    assert all(hit.similarity is None or hit.similarity >= SIMILARITY_FLOOR for hit in hits)
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)


def test_exact_codes_and_hosts_are_found_by_keyword_and_say_so(
    db_session: Session, index: IncidentIndex, numbers: dict[str, int]
) -> None:
    hits = search(db_session, index, "ERR_PAYMENT_DECLINED_4012")

    assert hits[0].incident_id == numbers["declined"]
    assert "mentions 'ERR_PAYMENT_DECLINED_4012'" in hits[0].reasons
    assert numbers["refunds"] not in [hit.incident_id for hit in hits if hit.matched_terms]

    top = search(db_session, index, "database failover db-primary-03.us-east-1")[0]
    assert top.incident_id == numbers["failover"]
    assert top.reasons[0].startswith("similar in meaning")
    assert top.reasons[1] == "mentions 'db-primary-03.us-east-1', 'database' and 'failover'"
    assert top.score == 1.0


def test_unrelated_query_returns_nothing_rather_than_noise(
    db_session: Session, index: IncidentIndex, numbers: dict[str, int]
) -> None:
    assert search(db_session, index, "office coffee machine maintenance schedule") == []
    # One common word shared with an incident is not enough on its own.
    assert search(db_session, index, "pages of the quarterly newsletter") == []


def test_sql_filters_bound_the_results(
    db_session: Session, index: IncidentIndex, numbers: dict[str, int], now: datetime
) -> None:
    assert search(db_session, index, "database failover")[0].incident_id == numbers["failover"]
    last_week = IncidentFilter(since=now - timedelta(days=7))
    recent = {hit.incident_id for hit in search(db_session, index, "database failover", criteria=last_week)}
    assert recent <= {numbers["ddos"], numbers["declined"], numbers["dns"]}

    sev1_payments = IncidentFilter(severities=frozenset({Severity.sev1}), services=("payments",))
    hits = search(db_session, index, "payments failing", criteria=sev1_payments)
    assert [hit.incident_id for hit in hits] == [numbers["declined"]]
    assert "same service: payments" in hits[0].reasons

    ongoing = IncidentFilter(statuses=frozenset({Status.active, Status.stable}))
    assert {hit.incident_id for hit in search(db_session, index, "config push", criteria=ongoing)} == {
        numbers["declined"],
        numbers["dns"],
    }
    nothing = IncidentFilter(severities=frozenset({Severity.sev5}))
    assert search(db_session, index, "denial of service", criteria=nothing) == []
    with_private = search(db_session, index, "botnet flood", criteria=IncidentFilter(include_private=True))
    assert {numbers["ddos"], numbers["private_ddos"]} <= {hit.incident_id for hit in with_private}


def test_many_candidates_are_checked_against_sql_afterwards(
    db_session: Session,
    index: IncidentIndex,
    numbers: dict[str, int],
    now: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    criteria = IncidentFilter(since=now - timedelta(days=30), services=("payments",))
    exact = search(db_session, index, "payment errors", criteria=criteria)
    monkeypatch.setattr(hybrid, "CANDIDATE_CAP", 1)

    filtered_afterwards = search(db_session, index, "payment errors", criteria=criteria)

    assert filtered_afterwards == exact
    assert {hit.incident_id for hit in exact} <= {numbers["declined"], numbers["deploy"], numbers["refunds"]}
    assert exact


def test_focus_incident_is_excluded_and_shared_services_are_named(
    db_session: Session, index: IncidentIndex, numbers: dict[str, int]
) -> None:
    hits = search(db_session, index, "card payments failing at checkout", exclude_ids=[numbers["declined"]])

    ids = [hit.incident_id for hit in hits]
    assert numbers["declined"] not in ids
    deploy = hits[ids.index(numbers["deploy"])]
    assert "same service: payments" in deploy.reasons


def test_search_never_serves_a_stale_index(
    db_session: Session, index: IncidentIndex, numbers: dict[str, int], engine: Engine
) -> None:
    assert search(db_session, index, "denial of service attack")[0].incident_id == numbers["ddos"]
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE incidents SET title = :title, summary = :summary, root_cause = NULL WHERE id = :id"),
            {
                "title": "Denial of service attack on the CDN",
                "summary": "A flood of junk requests from a botnet saturated the CDN.",
                "id": numbers["cert"],
            },
        )

    hits = search(db_session, index, "denial of service attack")

    cert = next(hit for hit in hits if hit.incident_id == numbers["cert"])
    assert cert.similarity is not None and cert.similarity >= 0.5


def test_empty_query_is_refused(db_session: Session, index: IncidentIndex) -> None:
    with pytest.raises(InvalidInput):
        search(db_session, index, "   ")


def test_a_whole_incident_text_matches_by_meaning_not_by_shared_numbers(
    db_session: Session, index: IncidentIndex, numbers: dict[str, int]
) -> None:
    # An exact-looking code alone admits a keyword-only hit for a typed query...
    typed = search(db_session, index, "office move 2026-11-27 ERR_PAYMENT_DECLINED_4012")
    assert numbers["declined"] in [hit.incident_id for hit in typed]
    # ...but another incident's text shares numbers and dates with many incidents: those mean nothing.
    focus_text = "Office move planned for 2026-11-27 affecting 40 desks ERR_PAYMENT_DECLINED_4012"
    related = search(db_session, index, focus_text, whole_incident=True)
    assert all(hit.similarity is not None for hit in related)
    assert all("2026-11-27" not in hit.matched_terms for hit in related)


def test_a_keyword_hit_counts_by_the_share_of_the_terms_it_mentions() -> None:
    # 7 is a little closer in meaning; 3 mentions every term, 7 one of three.
    semantic = [(7, 0.52), (3, 0.47)]
    keyword = [KeywordHit(3, 1.0, ["platform", "roblox", "consul"]), KeywordHit(7, 0.333, ["consul"])]
    fused = hybrid.fuse(semantic, keyword)
    assert fused[3] > fused[7]
    # A whole incident's text as the query: the ranks alone, so the two tie.
    whole = hybrid.fuse(semantic, keyword, whole_incident=True)
    assert whole[3] == whole[7]


def test_a_keyword_hit_alone_counts_when_it_mentions_most_of_the_terms() -> None:
    assert hybrid._admitted(KeywordHit(1, 0.667, ["knight", "capital"]), {})
    assert not hybrid._admitted(KeywordHit(1, 0.5, ["capital"]), {})
    assert not hybrid._admitted(KeywordHit(1, 0.5, ["knight", "capital"]), {})

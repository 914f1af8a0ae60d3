"""Tests of keyword search (FTS5 / PostgreSQL full-text) and of migration 0002, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text
from sqlalchemy.orm import Session

from agent.db import alembic_config, session_factory, upgrade
from agent.incidents import service, timeline
from agent.incidents.enums import EntrySource, Severity
from agent.search import keyword
from agent.search.keyword import MAX_TERMS, keyword_search, looks_exact, query_terms
from tests.unit_tests.test_search_index import CORPUS, build_corpus


def found(db_session: Session, query: str, **kwargs: object) -> list[int]:
    return [hit.incident_id for hit in keyword_search(db_session, query, **kwargs)]  # type: ignore[arg-type]


def test_query_terms_keep_codes_and_hosts_whole_and_drop_filler() -> None:
    assert query_terms("Any incidents about ERR_PAYMENT_DECLINED_4012 in the past week?") == [
        "ERR_PAYMENT_DECLINED_4012"
    ]
    assert query_terms("timeouts on db-primary-03.us-east-1.") == ["db-primary-03.us-east-1", "timeouts"]
    assert query_terms('"connection refused" by the DB, db again') == ["connection refused", "DB"]
    assert query_terms("what happened?") == []
    many = " ".join(f"word{n}x" for n in range(20))
    assert len(query_terms(many)) == MAX_TERMS
    assert looks_exact("v2.3.1") and looks_exact("ERR_X") and not looks_exact("ddos")


def test_exact_error_code_is_found_and_a_neighbouring_code_is_not(db_session: Session, now: datetime) -> None:
    numbers = build_corpus(db_session, now)

    hits = keyword_search(db_session, "ERR_PAYMENT_DECLINED_4012")

    assert [hit.incident_id for hit in hits] == [numbers["declined"]]
    assert hits[0].score == 1.0 and hits[0].matched_terms == ["ERR_PAYMENT_DECLINED_4012"]
    assert found(db_session, "err_payment_declined_4013") == [numbers["refunds"]]
    assert found(db_session, "ERR_PAYMENT_DECLINED_4014") == []
    # Words match as written: no stemming ("declines" is not "declined"); meaning is the embeddings' job.
    assert found(db_session, "declines") == []
    # Case does not matter, and the parts of a code are words too.
    assert set(found(db_session, "DECLINED")) == {numbers["declined"], numbers["refunds"]}


def test_hostnames_are_found_whole_and_by_prefix_in_fields_and_timelines(
    db_session: Session, now: datetime
) -> None:
    numbers = build_corpus(db_session, now)

    assert found(db_session, "db-primary-03.us-east-1") == [numbers["failover"]]
    assert found(db_session, "db-primary-03") == [numbers["failover"]]
    assert found(db_session, "db-primary-04.us-east-1") == [numbers["refunds"]]
    assert found(db_session, "db-primary-05.us-east-1") == []
    # Only in a timeline message, at the end of the sentence.
    assert found(db_session, "lb-edge-02.eu-west-1") == [numbers["ddos"]]
    # A host is mentioned from its start: "us-east-1" is not a mention of "east-1".
    assert numbers["failover"] not in found(db_session, "east-1")


def test_more_terms_matched_rank_first_and_scores_say_how_many(db_session: Session, now: datetime) -> None:
    numbers = build_corpus(db_session, now)

    hits = keyword_search(db_session, "checkout payments declined")

    assert hits[0].incident_id == numbers["declined"]
    assert hits[0].score == 1.0
    assert set(hits[0].matched_terms) == {"checkout", "payments", "declined"}
    by_id = {hit.incident_id: hit for hit in hits}
    assert by_id[numbers["deploy"]].matched_terms == ["checkout"]
    assert by_id[numbers["deploy"]].score == pytest.approx(0.333)
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:], strict=False))


def test_common_terms_do_not_rank_but_still_count_as_mentioned(
    db_session: Session, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    numbers = build_corpus(db_session, now)
    # "push" is in two incidents, the code in one: with a limit of one row, only the code ranks.
    monkeypatch.setattr(keyword, "MAX_TERM_ROWS", 1)

    hits = keyword_search(db_session, "push ERR_PAYMENT_DECLINED_4012")

    assert [hit.incident_id for hit in hits] == [numbers["declined"]]
    assert hits[0].matched_terms == ["ERR_PAYMENT_DECLINED_4012", "push"]
    assert keyword_search(db_session, "push") == []
    monkeypatch.setattr(keyword, "MAX_TERM_ROWS", 500)
    assert set(found(db_session, "push")) == {numbers["declined"], numbers["dns"]}


def test_private_incidents_deleted_messages_and_candidates(db_session: Session, now: datetime) -> None:
    numbers = build_corpus(db_session, now)
    timeline.add_timeline_entry(
        db_session=db_session,
        incident_id=numbers["cert"],
        at=now,
        author="bob",
        text="paging the on-call for kafka-broker-7",
        source=EntrySource.slack,
        slack_channel_id="C9",
        slack_ts="100.1",
    )
    assert found(db_session, "kafka-broker-7") == [numbers["cert"]]
    timeline.delete_timeline_message(
        db_session=db_session, slack_channel_id="C9", slack_ts="100.1", deleted_at=now
    )
    assert found(db_session, "kafka-broker-7") == []

    assert found(db_session, "botnet") == [numbers["ddos"]]
    assert set(found(db_session, "botnet", include_private=True)) == {
        numbers["ddos"],
        numbers["private_ddos"],
    }
    assert found(db_session, "botnet", candidate_ids=[numbers["cert"]]) == []
    assert found(db_session, "botnet", candidate_ids=[]) == []
    assert found(
        db_session, "ERR_PAYMENT_DECLINED_4012", candidate_ids=[numbers["declined"], numbers["cert"]]
    ) == [numbers["declined"]]


def test_edits_reach_the_full_text_index(db_session: Session, now: datetime, engine: Engine) -> None:
    number = build_corpus(db_session, now, {"cert": CORPUS["cert"]})["cert"]
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE incidents SET root_cause = 'HSM outage at vault-2.internal' WHERE id = :id"),
            {"id": number},
        )
    db_session.rollback()
    assert found(db_session, "vault-2.internal") == [number]
    assert found(db_session, "cert-manager") == []


def _search_objects(engine: Engine) -> set[str]:
    """Returns the names of the tables, columns, triggers and functions migration 0002 creates."""
    with engine.connect() as connection:
        inspector = inspect(connection)
        names = {i["name"] for i in inspector.get_indexes("incidents") if i["name"].endswith("_declared_at")}
        names.discard("ix_incidents_declared_at")
        names |= {i["name"] for i in inspector.get_indexes("incident_services")} - {
            "ix_incident_services_service_id"
        }
        if engine.dialect.name == "sqlite":
            return names | set(
                connection.execute(
                    text("SELECT name FROM sqlite_master WHERE name LIKE '%fts%' OR name LIKE 'search%'")
                ).scalars()
            )
        names |= {t for t in inspector.get_table_names() if t.startswith("search")}
        for table in ("incidents", "timeline_entries"):
            names |= {
                f"{table}.{c['name']}" for c in inspector.get_columns(table) if c["name"] == "search_tsv"
            }
        names |= set(
            connection.execute(
                text(
                    "SELECT proname FROM pg_proc JOIN pg_namespace n ON n.oid = pronamespace "
                    "WHERE nspname = current_schema() AND proname LIKE 'search_index%' "
                    "UNION SELECT tgname FROM pg_trigger WHERE tgname LIKE 'search_queue%' "
                    "AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = "
                    "(SELECT oid FROM pg_namespace WHERE nspname = current_schema()))"
                )
            ).scalars()
        )
        return names


def test_migration_0002_upgrades_and_downgrades(engine: Engine, now: datetime) -> None:
    created = _search_objects(engine)
    assert {
        "search_index_queue",
        "ix_incidents_severity_declared_at",
        "ix_incidents_status_declared_at",
    } <= created
    assert len(created) >= 10

    command.downgrade(alembic_config(engine), "0001")
    assert _search_objects(engine) == set()
    with session_factory(engine)() as session:
        # The store works without the search objects; the upgrade then indexes what was written meanwhile.
        number = service.declare(
            db_session=session,
            title="Disk full on build-runner-12",
            severity=Severity.sev3,
            now=now,
            actor="alice",
            source=EntrySource.cli,
        ).id

    upgrade(engine)
    assert _search_objects(engine) == created
    with session_factory(engine)() as session:
        assert found(session, "build-runner-12") == [number]


def test_title_words_tell_a_topic_from_chatter(engine: Engine, now: datetime) -> None:
    from agent.search.keyword import title_term_counts

    with session_factory(engine)() as db_session:
        service.declare(
            db_session=db_session,
            title="TLS certificate expired on the API",
            severity=Severity.sev2,
            actor="t",
            source=EntrySource.cli,
            now=now,
        )
        counts = title_term_counts(db_session, ["certificates", "expire", "sitting", "api"])
    # Stems find other forms ("expire" -> "expired"); a word no title holds is chatter.
    assert counts == {"certificates": 1, "expire": 1, "sitting": 0, "api": 1}

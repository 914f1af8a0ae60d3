"""Tests of the Chroma incident index: documents, following the store, repair, reindex; SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import chromadb
import numpy as np
import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from agent.db import session_factory
from agent.incidents import catalogue, changes, service
from agent.incidents import timeline as incident_timeline
from agent.incidents.enums import EntrySource, Severity, Status, TimelineKind
from agent.search import index as index_module
from agent.search.embedding import MiniLMEmbedding
from agent.search.index import (
    IncidentIndex,
    SyncReport,
    document_metadata,
    follow_store,
    incident_document,
    open_index,
    record_id,
    search_index_queue,
    timeline_digest,
)
from agent.settings import Settings


@dataclass
class Spec:
    """An incident of the test corpus."""

    title: str
    severity: Severity
    services: list[str]
    days_ago: int
    summary: str | None = None
    root_cause: str | None = None
    remediation: str | None = None
    customer_impact: str | None = None
    timeline: list[str] = field(default_factory=list)
    status: Status = Status.active
    private: bool = False


CORPUS: dict[str, Spec] = {
    "ddos": Spec(
        "DDoS on login endpoint",
        Severity.sev2,
        ["auth"],
        3,
        summary="A botnet flooded /login with requests; the WAF rate limits were too loose.",
        root_cause="Layer 7 flood from about 20,000 IP addresses.",
        remediation="Stricter WAF rules and geo blocking at the edge.",
        customer_impact="40% of logins failed for 25 minutes.",
        timeline=[
            "ack",
            "Seeing 40k rps against /login, WAF is not blocking",
            "Geo blocking on lb-edge-02.eu-west-1",
        ],
        status=Status.resolved,
    ),
    "failover": Spec(
        "Primary database failover",
        Severity.sev1,
        ["orders", "postgres"],
        20,
        summary="The primary lost its disk and failover to the replica took nine minutes.",
        root_cause="Degraded EBS volume under db-primary-03.us-east-1.",
        remediation="Automated failover with Patroni.",
        timeline=["db-primary-03.us-east-1 unreachable, promoting the replica now", "on it"],
        status=Status.resolved,
    ),
    "cert": Spec(
        "TLS certificate expired on the API gateway",
        Severity.sev2,
        ["api-gateway"],
        40,
        summary="The wildcard certificate expired at midnight and clients got handshake errors.",
        root_cause="cert-manager renewal failed silently.",
        remediation="Renewed by hand; alerting 30 days before expiry.",
        status=Status.resolved,
    ),
    "declined": Spec(
        "Card payments declined at checkout",
        Severity.sev1,
        ["payments"],
        2,
        summary="Most card payments were refused by the processor.",
        root_cause="The processor returned ERR_PAYMENT_DECLINED_4012 after our config push changed the merchant id.",
        timeline=["Checkout conversion dropped to zero in two minutes"],
    ),
    "deploy": Spec(
        "Bad deploy broke the checkout page",
        Severity.sev2,
        ["checkout", "payments"],
        10,
        summary="Release 2026.11.3 threw a null pointer when computing cart totals; checkout returned 500s.",
        remediation="Rolled back the release.",
        status=Status.resolved,
    ),
    "dns": Spec(
        "Internal DNS resolution failures",
        Severity.sev3,
        ["dns"],
        5,
        summary="CoreDNS pods were OOM-killed after a config push and lookups timed out.",
        status=Status.stable,
    ),
    "refunds": Spec(
        "Refunds stuck in pending",
        Severity.sev4,
        ["payments"],
        15,
        summary="Refund jobs failed with ERR_PAYMENT_DECLINED_4013 while db-primary-04.us-east-1 was read-only.",
        status=Status.resolved,
    ),
    "private_ddos": Spec(
        "Denial of service against the admin portal",
        Severity.sev2,
        ["auth"],
        1,
        summary="A flood of requests from a botnet took the admin portal down.",
        private=True,
    ),
}


def build_corpus(db_session: Session, now: datetime, corpus: dict[str, Spec] = CORPUS) -> dict[str, int]:
    """Creates the corpus through the service layer; returns incident numbers by key."""
    catalogue.upsert_service(
        db_session=db_session, name="auth", display_name="Authentication", aliases=["login"]
    )
    catalogue.upsert_service(db_session=db_session, name="payments", display_name="Payments API")
    db_session.commit()
    numbers: dict[str, int] = {}
    for key, spec in corpus.items():
        declared = now - timedelta(days=spec.days_ago)
        incident = service.declare(
            db_session=db_session,
            title=spec.title,
            severity=spec.severity,
            now=declared,
            actor="alice",
            source=EntrySource.cli,
            services=spec.services,
            customer_impact=spec.customer_impact,
            private=spec.private,
        )
        for minute, message in enumerate(spec.timeline, start=1):
            incident_timeline.add_timeline_entry(
                db_session=db_session,
                incident_id=incident.id,
                at=declared + timedelta(minutes=minute),
                author="bob",
                text=message,
                source=EntrySource.slack,
            )
        incident.summary = spec.summary
        incident.root_cause = spec.root_cause
        incident.remediation = spec.remediation
        db_session.commit()
        if spec.status is Status.stable or spec.status is Status.resolved:
            service.set_status(
                db_session=db_session,
                incident_id=incident.id,
                status=spec.status,
                now=declared + timedelta(hours=2),
                actor="alice",
                source=EntrySource.cli,
            )
        numbers[key] = incident.id
    return numbers


class MemoizedEmbedding(MiniLMEmbedding):
    """The real model, remembering its vectors: each corpus text is embedded once per run, not per test."""

    def __init__(self) -> None:
        super().__init__()
        self._memo: dict[str, np.ndarray] = {}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._memo]
        if missing:
            self._memo.update(zip(missing, super().embed(missing), strict=True))
        return np.stack([self._memo[t] for t in texts]) if texts else super().embed([])


MEMOIZED = MemoizedEmbedding()


@pytest.fixture(scope="session")
def embedding() -> MiniLMEmbedding:
    """Returns the embedding function of these tests (one model for the whole run)."""
    return MEMOIZED


@pytest.fixture
def index(tmp_path: Path, embedding: MiniLMEmbedding) -> Iterator[IncidentIndex]:
    """Yields an empty embedded index in a temporary folder."""
    yield open_index(path=tmp_path / "chroma", embedding=embedding)


def queued(db_session: Session) -> dict[int, int]:
    """Returns the change queue as {incident number: touches}."""
    db_session.rollback()
    rows = db_session.execute(select(search_index_queue.c.incident_id, search_index_queue.c.touches)).all()
    return {incident_id: touches for incident_id, touches in rows}


def stored(index: IncidentIndex, incident_id: int, part: str) -> Any:
    """Returns one part ("documents", "metadatas", "embeddings") of an incident's Chroma record."""
    record = index.collection.get(ids=[record_id(incident_id)], include=[part])  # type: ignore[list-item]
    assert record["ids"] == [record_id(incident_id)]
    return record[part][0]  # type: ignore[literal-required]


# --- documents ---------------------------------------------------------------------------------------


def test_document_holds_the_fields_and_the_informative_messages(db_session: Session, now: datetime) -> None:
    numbers = build_corpus(db_session, now, {"ddos": CORPUS["ddos"]})
    incident = service.get_or_raise(db_session=db_session, incident_id=numbers["ddos"])
    entries = incident_timeline.get_timeline(db_session=db_session, incident_id=incident.id)
    digest = timeline_digest(entries)
    document = incident_document(incident, digest)

    assert document.splitlines()[0] == "DDoS on login endpoint"
    for part in (
        "Services: auth (Authentication)",
        "Summary: A botnet flooded /login",
        "Customer impact: 40% of logins",
        "Root cause: Layer 7 flood",
        "Remediation: Stricter WAF rules",
    ):
        assert part in document
    # Chatter and lifecycle boilerplate stay out; messages keep their time order.
    assert (
        digest
        == "- Seeing 40k rps against /login, WAF is not blocking\n- Geo blocking on lb-edge-02.eu-west-1"
    )
    assert "changed status" not in document


def test_digest_is_bounded_and_prefers_identifiers_and_pins(db_session: Session, now: datetime) -> None:
    number = build_corpus(db_session, now, {"dns": CORPUS["dns"]})["dns"]
    filler = "We are still looking into the elevated latency numbers across several regional clusters today"
    for minute in range(100):
        incident_timeline.add_timeline_entry(
            db_session=db_session,
            incident_id=number,
            at=now + timedelta(minutes=minute),
            author="bob",
            text=f"{filler} ({minute})",
            source=EntrySource.slack,
        )
    incident_timeline.add_timeline_entry(
        db_session=db_session,
        incident_id=number,
        at=now + timedelta(hours=3),
        author="carol",
        text="coredns-7f9c on node ip-10-0-3-17 OOMKilled again, exit code 137",
        source=EntrySource.slack,
    )
    deleted, _ = incident_timeline.add_timeline_entry(
        db_session=db_session,
        incident_id=number,
        at=now + timedelta(hours=4),
        author="carol",
        text="Secret token pasted here by mistake, please delete",
        source=EntrySource.slack,
        slack_channel_id="C1",
        slack_ts="1.0",
    )
    incident_timeline.delete_timeline_message(
        db_session=db_session, slack_channel_id="C1", slack_ts="1.0", deleted_at=now
    )

    digest = timeline_digest(
        incident_timeline.get_timeline(db_session=db_session, incident_id=number, include_deleted=True)
    )
    assert len(digest) <= 1500
    assert "OOMKilled again, exit code 137" in digest
    assert "Secret token" not in digest
    # Identical filler differs only by its number, so several make it, within the bound.
    assert 3 <= digest.count(filler) < 100


def test_metadata_describes_the_incident_and_hashes_it(db_session: Session, now: datetime) -> None:
    numbers = build_corpus(db_session, now, {"ddos": CORPUS["ddos"], "declined": CORPUS["declined"]})
    resolved = service.get_or_raise(db_session=db_session, incident_id=numbers["ddos"])
    active = service.get_or_raise(db_session=db_session, incident_id=numbers["declined"])

    meta = document_metadata(resolved, "text")
    assert meta["status"] == "resolved" and meta["severity"] == "SEV-2" and meta["private"] is False
    assert meta["declared_at"] == int((now - timedelta(days=3)).timestamp())
    assert meta["resolved_at"] == int((now - timedelta(days=3) + timedelta(hours=2)).timestamp())
    assert meta["services"] == "auth"
    assert document_metadata(active, "text")["resolved_at"] == -1
    assert document_metadata(resolved, "other text")["content_hash"] != meta["content_hash"]
    resolved.severity = Severity.sev1.value
    assert document_metadata(resolved, "text")["content_hash"] != meta["content_hash"]


# --- following the store -----------------------------------------------------------------------------


def test_refresh_indexes_new_incidents_and_finds_them_by_meaning(
    db_session: Session, now: datetime, index: IncidentIndex
) -> None:
    numbers = build_corpus(db_session, now)
    assert set(queued(db_session)) == set(numbers.values())

    report = index.refresh(db_session)

    assert report == SyncReport(added=len(CORPUS))
    assert queued(db_session) == {}
    assert index.count() == len(CORPUS)
    hits = index.semantic_search("denial of service attack", limit=3)
    assert hits[0][0] == numbers["ddos"] and hits[0][1] > 0.5
    assert numbers["private_ddos"] not in [i for i, _s in hits]
    with_private = index.semantic_search("denial of service attack", limit=2, include_private=True)
    assert {i for i, _s in with_private} == {numbers["ddos"], numbers["private_ddos"]}
    assert numbers["ddos"] not in [
        i for i, _s in index.semantic_search("denial of service", exclude_ids=[numbers["ddos"]])
    ]
    assert index.refresh(db_session) == SyncReport()


def test_semantic_search_respects_where_and_nearest_sees_everything(
    db_session: Session, now: datetime, index: IncidentIndex, embedding: MiniLMEmbedding
) -> None:
    numbers = build_corpus(db_session, now)
    index.refresh(db_session)

    active = index.semantic_search("outage", where={"status": "active"}, limit=10)
    assert {i for i, _s in active} == {numbers["declined"]}
    sev2 = index.semantic_search("outage", where={"severity": "SEV-2"}, limit=10, include_private=True)
    assert {i for i, _s in sev2} == {numbers[k] for k in ("ddos", "cert", "deploy", "private_ddos")}

    everything = index.nearest(embedding.embed_query("denial of service"), limit=100)
    assert len(everything) == len(CORPUS)
    assert [i for i, _s in everything[:2]] in (
        [numbers["private_ddos"], numbers["ddos"]],
        [numbers["ddos"], numbers["private_ddos"]],
    )
    assert [s for _i, s in everything] == sorted((s for _i, s in everything), reverse=True)


def test_status_change_rewrites_metadata_without_embedding_again(
    db_session: Session, now: datetime, index: IncidentIndex
) -> None:
    number = build_corpus(db_session, now, {"declined": CORPUS["declined"]})["declined"]
    index.refresh(db_session)
    embedding_before = stored(index, number, "embeddings")

    service.set_status(
        db_session=db_session,
        incident_id=number,
        status=Status.stable,
        now=now,
        actor="bob",
        source=EntrySource.cli,
    )
    report = index.refresh(db_session)

    assert report == SyncReport(updated=1)
    assert stored(index, number, "metadatas")["status"] == "stable"
    assert np.array_equal(stored(index, number, "embeddings"), embedding_before)


def test_new_timeline_message_and_service_rename_reach_the_document(
    db_session: Session, now: datetime, index: IncidentIndex
) -> None:
    number = build_corpus(db_session, now, {"ddos": CORPUS["ddos"]})["ddos"]
    index.refresh(db_session)

    incident_timeline.add_timeline_entry(
        db_session=db_session,
        incident_id=number,
        at=now,
        author="carol",
        text="Scrubbing provider engaged, traffic rerouted through the scrubbing centre",
        source=EntrySource.slack,
    )
    catalogue.upsert_service(db_session=db_session, name="auth", display_name="Identity platform", aliases=[])
    db_session.commit()
    assert set(queued(db_session)) == {number}
    assert index.refresh(db_session) == SyncReport(updated=1)

    document = stored(index, number, "documents")
    assert "Scrubbing provider engaged" in document
    assert "Services: auth (Identity platform)" in document


def test_change_made_in_sql_behind_the_service_layer_is_picked_up(
    db_session: Session, now: datetime, index: IncidentIndex, engine: Engine
) -> None:
    numbers = build_corpus(db_session, now)
    index.refresh(db_session)

    with engine.begin() as connection:
        connection.execute(
            text("UPDATE incidents SET title = :title, summary = NULL WHERE id = :id"),
            {"title": "Certificate rotation broke the mobile app", "id": numbers["dns"]},
        )
        connection.execute(text("DELETE FROM incidents WHERE id = :id"), {"id": numbers["refunds"]})

    report = index.refresh(db_session)

    assert report == SyncReport(updated=1, removed=1)
    assert stored(index, numbers["dns"], "documents").startswith("Certificate rotation broke")
    assert index.count() == len(CORPUS) - 1


def test_document_lost_behind_the_index_is_detected_and_restored(
    db_session: Session, now: datetime, index: IncidentIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    numbers = build_corpus(db_session, now)
    monkeypatch.setattr(index_module, "RECOUNT_EVERY", 3)
    index.refresh(db_session)
    index.collection.delete(ids=[record_id(numbers["ddos"])])
    assert numbers["ddos"] not in [i for i, _s in index.semantic_search("denial of service attack")]

    # A process opening the index notices at once...
    reopened = open_index(path=tmp_path / "chroma", embedding=index.embedding)
    assert reopened.refresh(db_session) == SyncReport(added=1, unchanged=len(CORPUS) - 1)
    index.collection.delete(ids=[record_id(numbers["ddos"])])
    # ...one that is running trusts its last count for RECOUNT_EVERY refreshes at most.
    assert index.refresh(db_session) == SyncReport()
    assert index.refresh(db_session) == SyncReport(added=1, unchanged=len(CORPUS) - 1)
    assert index.semantic_search("denial of service attack", limit=1)[0][0] == numbers["ddos"]
    assert index.sync(db_session) == SyncReport(unchanged=len(CORPUS))


def test_refresh_counts_the_store_only_after_changes_and_every_recount_every(
    db_session: Session, now: datetime, index: IncidentIndex, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    numbers = build_corpus(db_session, now)
    monkeypatch.setattr(index_module, "RECOUNT_EVERY", 4)
    counted: list[int] = []
    count_incidents = service.count_incidents

    def counting(**kwargs: Any) -> int:
        counted.append(1)
        return count_incidents(**kwargs)

    monkeypatch.setattr(index_module.service, "count_incidents", counting)
    index.refresh(db_session)  # the first refresh, with the corpus queued
    index.refresh(db_session)
    index.refresh(db_session)
    assert len(counted) == 1
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM incidents WHERE id = :id"), {"id": numbers["refunds"]})
    assert index.refresh(db_session) == SyncReport(removed=1)  # the fourth: queued, and RECOUNT_EVERY
    assert len(counted) == 2
    index.refresh(db_session)
    assert len(counted) == 2
    # An incident gone without a trace in the queue (a restore without triggers) is caught at the recount.
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM incidents WHERE id = :id"), {"id": numbers["dns"]})
        connection.execute(text("DELETE FROM search_index_queue"))
    assert index.refresh(db_session) == SyncReport()
    assert index.refresh(db_session) == SyncReport()
    assert index.refresh(db_session) == SyncReport(removed=1, unchanged=len(CORPUS) - 2)
    assert len(counted) == 3
    assert index.count() == len(CORPUS) - 2


def test_sync_rewrites_a_tampered_document_and_drops_strays(
    db_session: Session, now: datetime, index: IncidentIndex, embedding: MiniLMEmbedding
) -> None:
    numbers = build_corpus(db_session, now)
    index.refresh(db_session)
    index.collection.upsert(
        ids=[record_id(numbers["cert"]), record_id(999)],
        documents=["Kittens", "A stray document"],
        embeddings=list(embedding.embed(["Kittens", "A stray document"])),
        metadatas=[{"private": False}, {"private": False}],
    )

    report = index.sync(db_session)

    assert report == SyncReport(updated=1, removed=1, unchanged=len(CORPUS) - 1)
    assert stored(index, numbers["cert"], "documents").startswith("TLS certificate expired")
    assert index.collection.get(ids=[record_id(999)])["ids"] == []


def test_reindex_rebuilds_and_reports_progress_up_to_the_total(
    db_session: Session, now: datetime, index: IncidentIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_corpus(db_session, now)
    index.refresh(db_session)
    index.collection.delete(ids=index.collection.get()["ids"][:3])
    monkeypatch.setattr(index_module, "EMBED_BATCH", 3)
    calls: list[tuple[int, int]] = []

    written = index.reindex(db_session, progress=lambda done, total: calls.append((done, total)))

    total = len(CORPUS)
    assert written == total and index.count() == total
    assert calls == [(3, total), (6, total), (total, total)]
    assert index.refresh(db_session) == SyncReport()


def test_upsert_incidents_indexes_in_bulk_and_clears_their_queue(
    db_session: Session, now: datetime, index: IncidentIndex
) -> None:
    numbers = build_corpus(db_session, now)
    chosen = [numbers["ddos"], numbers["cert"]]

    report = index.upsert_incidents(db_session, chosen)

    assert report == SyncReport(added=2)
    assert set(queued(db_session)) == set(numbers.values()) - set(chosen)
    assert index.upsert_incidents(db_session, chosen) == SyncReport(unchanged=2)
    assert index.upsert_incidents(db_session, [12345]) == SyncReport()


@pytest.mark.parametrize("target", ["engine", "session factory"])
def test_follow_store_indexes_right_after_a_service_write(
    engine: Engine, now: datetime, index: IncidentIndex, target: str
) -> None:
    factory = session_factory(engine)
    stop = follow_store(engine if target == "engine" else factory, index)
    try:
        with factory() as session:
            incident = service.declare(
                db_session=session,
                title="Message queue backlog",
                severity=Severity.sev3,
                now=now,
                actor="alice",
                source=EntrySource.cli,
            )
            assert index.count() == 1
            assert stored(index, incident.id, "documents") == "Message queue backlog"
            assert queued(session) == {}
            assert changes.CHANGED_KEY not in session.info
    finally:
        stop()
    with factory() as session:
        service.declare(
            db_session=session,
            title="Another",
            severity=Severity.sev4,
            now=now,
            actor="a",
            source=EntrySource.cli,
        )
        assert index.count() == 1
        assert len(queued(session)) == 1


def test_queue_counts_touches_of_every_kind_of_row(
    db_session: Session, now: datetime, engine: Engine
) -> None:
    number = build_corpus(db_session, now, {"cert": CORPUS["cert"]})["cert"]
    db_session.execute(search_index_queue.delete())
    db_session.commit()

    entry, _ = incident_timeline.add_timeline_entry(
        db_session=db_session,
        incident_id=number,
        at=now,
        author="x",
        text="note",
        source=EntrySource.cli,
        kind=TimelineKind.note,
    )
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE timeline_entries SET text = 'edited' WHERE id = :id"), {"id": entry.id}
        )
        connection.execute(text("DELETE FROM incident_services WHERE incident_id = :id"), {"id": number})

    assert queued(db_session) == {number: 3}
    assert db_session.scalar(select(func.count()).select_from(search_index_queue)) == 1


def test_open_index_follows_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedding: MiniLMEmbedding
) -> None:
    settings = Settings(INCIDENT_COPILOT_DATA_DIR=str(tmp_path), CHROMA_COLLECTION="team-incidents")  # type: ignore[call-arg]
    local = open_index(settings, embedding=embedding)
    assert local.collection.name == "team-incidents"
    assert (tmp_path / "chroma").is_dir()
    assert local.collection.configuration["hnsw"]["space"] == "cosine"  # type: ignore[index]

    seen: dict[str, Any] = {}

    def fake_http_client(**kwargs: Any) -> Any:
        seen.update(kwargs)
        return chromadb.EphemeralClient(settings=kwargs["settings"])

    monkeypatch.setattr(index_module.chromadb, "HttpClient", fake_http_client)
    remote = Settings(CHROMA_HOST="chroma.internal", CHROMA_PORT="8100")  # type: ignore[call-arg]
    open_index(remote, embedding=embedding)
    assert (seen["host"], seen["port"]) == ("chroma.internal", 8100)
    assert seen["settings"].anonymized_telemetry is False

    with pytest.raises(ValueError, match="3 to 512"):
        open_index(settings, collection="ab", embedding=embedding)

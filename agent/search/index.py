"""The Chroma index of incident documents, and how it keeps in step with the store.

Each incident is one Chroma record (id `incident-<n>`): a document made of its title, services, summary,
customer impact, root cause, remediation and a digest of its most informative timeline messages, embedded
by the offline MiniLM model (`agent.search.embedding`), with metadata for filtering (status, severity,
declared_at / resolved_at as epoch seconds, resolved_at -1 while unresolved, private, services) and a
`content_hash` of what was written.

How the index follows the store:

- Migration 0002 installs triggers that add every incident whose searchable content changed to
  `search_index_queue` (a touch counter per incident), whoever changed it: the service layer, an importer
  writing rows in bulk, or someone with a SQL prompt.
- `IncidentIndex.refresh` applies that queue, then compares the number of incidents with the number of
  documents (a cheap check that catches documents lost or added behind the index's back) and runs a full
  `sync` when they differ. `agent.search.hybrid.search_incidents` calls it before every search, so a stale
  index is repaired, never served.
- `follow_store` makes the same happen right after each commit that the service layer marked in
  `session.info["changed_incident_ids"]`, so the work is done at write time in long-running processes
  (Slack app, Studio). One-shot commands need nothing: the next search, in whatever process, catches up.
- `upsert_incidents` is for bulk writers (importer, demo builder): it indexes the given incidents and
  clears their queue entries so the next search has nothing left to do.

The queue is consumed by the index that reads it, so one store is meant to have one index (the one its
settings name). Another index pointed at the same store notices through the count check and re-syncs.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import chromadb
import httpx
import numpy as np
import numpy.typing as npt
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import NotFoundError
from sqlalchemy import Column, Engine, Integer, MetaData, Table, bindparam, delete, event, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from agent.incidents import changes, service, timeline
from agent.incidents.exceptions import SearchUnavailable
from agent.incidents.models import Incident, TimelineEntry
from agent.search.embedding import MiniLMEmbedding, get_embedding
from agent.search.keyword import SEARCHED_KINDS, content_words, looks_exact
from agent.settings import Settings, get_settings

logger = logging.getLogger(__name__)

DOC_VERSION = 2
"""Version of the document format; bumping it makes the next refresh rewrite every document."""

TIMELINE_DIGEST_CHARS = 1500
"""Upper bound on the timeline digest of one document."""

DIGEST_MESSAGE_CHARS = 300
"""Longer timeline messages are cut to this before they enter the digest."""

DIGEST_MIN_WORDS = 3
"""Messages with fewer content words ("ack", "on it", "+1") never enter the digest."""

EMBED_BATCH = 256
"""Documents embedded and written to Chroma per batch."""

RECOUNT_EVERY = 50
"""Refreshes between two readings of Chroma's document count (see `IncidentIndex.refresh`)."""

ID_PREFIX = "incident-"
_COLLECTION_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,510}[A-Za-z0-9]$")

ProgressCallback = Callable[[int, int], None]
"""Called as `progress(done, total)` while many documents are (re)written."""

search_index_queue = Table(
    "search_index_queue",
    MetaData(),
    Column("incident_id", Integer, primary_key=True, autoincrement=False),
    Column("touches", Integer, nullable=False),
)
"""Created and filled by triggers of migration 0002; the index deletes the entries it has applied."""


# --- documents ---------------------------------------------------------------------------------------


def timeline_digest(entries: Iterable[TimelineEntry], *, max_chars: int = TIMELINE_DIGEST_CHARS) -> str:
    """Returns the most informative timeline messages, in time order, as lines of at most `max_chars` in all.

    A message is informative for the number of distinct content words it has, identifiers (error codes,
    hostnames, versions) counting three times and a pin adding five; acknowledgements and chatter are
    left out, and so are status and severity changes, which every incident has.
    """
    scored: list[tuple[int, int, str]] = []
    seen: set[str] = set()
    for position, entry in enumerate(entries):
        if entry.deleted_at is not None or entry.kind not in SEARCHED_KINDS:
            continue
        message = " ".join(entry.text.split())[:DIGEST_MESSAGE_CHARS]
        words = content_words(message)
        if len(words) < DIGEST_MIN_WORDS or message.lower() in seen:
            continue
        seen.add(message.lower())
        score = len(words) + 2 * sum(looks_exact(word) for word in words) + (5 if entry.pinned else 0)
        scored.append((score, position, message))
    chosen: list[tuple[int, str]] = []
    used = 0
    for _score, position, message in sorted(scored, key=lambda item: (-item[0], item[1])):
        cost = len(message) + 3  # "- " and the line break
        if used + cost <= max_chars:
            chosen.append((position, message))
            used += cost
    return "\n".join(f"- {message}" for _position, message in sorted(chosen))


def incident_document(incident: Incident, timeline_digest: str) -> str:
    """Returns the text embedded for an incident; the most telling parts come first, since the model reads
    only the first 128 tokens (`SEARCH_MAX_LENGTH`): what broke, where, for whom, why and what fixed it.
    The summary, which mostly retells those, comes after them."""
    services = ", ".join(
        f"{s.name} ({s.display_name})" if s.display_name and s.display_name != s.name else s.name
        for s in sorted(incident.services, key=lambda s: s.name)
    )
    parts = [
        incident.title,
        f"Services: {services}" if services else "",
        f"Customer impact: {incident.customer_impact}" if incident.customer_impact else "",
        f"Root cause: {incident.root_cause}" if incident.root_cause else "",
        f"Remediation: {incident.remediation}" if incident.remediation else "",
        f"Summary: {incident.summary}" if incident.summary else "",
        f"Timeline:\n{timeline_digest}" if timeline_digest else "",
    ]
    return "\n".join(part for part in parts if part)


def document_metadata(incident: Incident, document: str) -> dict[str, str | int | bool]:
    """Returns the Chroma metadata of an incident's document, `content_hash` covering text and metadata."""
    metadata: dict[str, str | int | bool] = {
        "incident_id": incident.id,
        "status": incident.status,
        "severity": incident.severity,
        "declared_at": int(incident.declared_at.timestamp()),
        "resolved_at": int(incident.resolved_at.timestamp()) if incident.resolved_at else -1,
        "private": bool(incident.private),
        "services": ",".join(incident.service_names),
    }
    fingerprint = json.dumps([DOC_VERSION, document, metadata], sort_keys=True)
    metadata["content_hash"] = hashlib.sha256(fingerprint.encode()).hexdigest()[:32]
    return metadata


def record_id(incident_id: int) -> str:
    """Returns the Chroma record id of an incident."""
    return f"{ID_PREFIX}{incident_id}"


def incident_number(record: str) -> int:
    """Returns the incident number of a Chroma record id."""
    return int(record.removeprefix(ID_PREFIX))


@dataclass(frozen=True)
class SyncReport:
    """What a refresh, sync or upsert did to the index."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0

    def __add__(self, other: SyncReport) -> SyncReport:
        return SyncReport(
            self.added + other.added,
            self.updated + other.updated,
            self.removed + other.removed,
            self.unchanged + other.unchanged,
        )

    @property
    def changed(self) -> int:
        """Returns how many documents were written or removed."""
        return self.added + self.updated + self.removed


# --- the index ---------------------------------------------------------------------------------------


P = ParamSpec("P")
R = TypeVar("R")

UNREACHABLE = (
    "The search index (the Chroma server at {where}) cannot be reached right now, so I cannot search "
    "incident text. Counts, lists and incident details still work; changes made meanwhile are kept and "
    "indexed as soon as the server is back."
)


def _server_errors(method: Callable[P, R]) -> Callable[P, R]:
    """Turns a Chroma server that cannot be reached into `SearchUnavailable`, which people can act on."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except httpx.TransportError as error:
            index = args[0]
            where = getattr(index, "location", "configured")
            raise SearchUnavailable(UNREACHABLE.format(where=where)) from error

    return wrapper


class IncidentIndex:
    """The Chroma collection of incident documents; build it with `open_index`.

    Methods that take a session read the store through a session of their own on the same engine, so they
    see everything committed (and nothing uncommitted) whatever state the caller's session is in. Call them
    after committing: an uncommitted write of the caller would block the queue clean-up (SQLite) until it
    times out.
    """

    @_server_errors
    def __init__(
        self,
        client: ClientAPI,
        collection_name: str,
        embedding: MiniLMEmbedding,
        *,
        location: str = "embedded",
    ) -> None:
        if not _COLLECTION_NAME_RE.match(collection_name):
            raise ValueError(
                f"Invalid Chroma collection name {collection_name!r}: use 3 to 512 letters, digits, '.', '_' "
                "or '-', starting and ending with a letter or digit."
            )
        self.client = client
        self.location = location
        """Where the index lives: `embedded`, or the server's `host:port`."""
        self.collection_name = collection_name
        self.embedding = embedding
        self._lock = threading.RLock()
        self._collection = self._open_collection()
        self._known_count: int | None = None
        """Chroma's document count when last read."""
        self._incident_count: int | None = None
        """The store's incident count when last read."""
        self._refreshes = 0

    def _open_collection(self) -> Collection:
        try:
            return self.client.get_collection(self.collection_name, embedding_function=self.embedding)  # type: ignore[arg-type]
        except NotFoundError:
            # A new, empty collection already has the current document format.
            return self.client.get_or_create_collection(
                self.collection_name,
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"doc_version": DOC_VERSION},
                embedding_function=self.embedding,  # type: ignore[arg-type]
            )

    @property
    def collection(self) -> Collection:
        """Returns the Chroma collection."""
        return self._collection

    @_server_errors
    def count(self) -> int:
        """Returns how many documents the index holds."""
        return self._collection.count()

    # -- writing ---------------------------------------------------------------------------------------

    @_server_errors
    def upsert_incidents(
        self, db_session: Session, incident_ids: Iterable[int], *, progress: ProgressCallback | None = None
    ) -> SyncReport:
        """Indexes these incidents as the store has them now (removing those it no longer has), embedding
        only documents whose text changed, and clears their entries from the change queue."""
        ids = list(dict.fromkeys(incident_ids))
        with self._lock, _own_session(db_session) as session:
            marks = _queued(session, ids)
            report = self._apply(session, ids, progress=progress)
            _consume(session, marks)
        return report

    @_server_errors
    def delete(self, incident_ids: Iterable[int]) -> None:
        """Removes the documents of these incidents from the index."""
        records = [record_id(i) for i in incident_ids]
        if records:
            self._known_count = None
            self._collection.delete(ids=records)

    @_server_errors
    def refresh(self, db_session: Session, *, progress: ProgressCallback | None = None) -> SyncReport:
        """Brings the index up to date before it serves a search: applies the change queue, then runs a full
        `sync` if the document count differs from the incident count (or the document format changed).

        Cheap when nothing changed: one small SQL query. Counting incidents costs a scan of the store (7 ms
        at 100,000 on SQLite, more on PostgreSQL) and Chroma's own count milliseconds per 10,000 documents,
        so both are read on the first refresh, every `RECOUNT_EVERY` refreshes, and whenever the queue
        held changes (every write of incidents queues them, so the incident count cannot move otherwise
        short of a TRUNCATE or a restore without triggers); Chroma's also after this index wrote and
        whenever the incident count moved. In between the last ones read stand. A document lost (or an
        incident added or removed) behind the index's back is therefore repaired within `RECOUNT_EVERY`
        searches, or at once by `sync`.
        """
        with self._lock, _own_session(db_session) as session:
            marks = _queued(session)
            self._refreshes += 1
            recount = self._refreshes % RECOUNT_EVERY == 0
            if marks or recount or self._incident_count is None:
                self._incident_count = service.count_incidents(db_session=session)
            expected = self._incident_count
            report = self._apply(session, list(marks)) if marks else SyncReport()
            _consume(session, marks)
            if self._known_count != expected or recount:
                self._known_count = self.count()
            if (
                self._known_count != expected
                or (self._collection.metadata or {}).get("doc_version") != DOC_VERSION
            ):
                report = report + self._sync(session, progress)
        return report

    @_server_errors
    def sync(self, db_session: Session, *, progress: ProgressCallback | None = None) -> SyncReport:
        """Compares every incident of the store with its document and repairs the difference: adds missing
        documents, rewrites those whose content hash differs, removes those of incidents that are gone."""
        with self._lock, _own_session(db_session) as session:
            return self._sync(session, progress)

    @_server_errors
    def reindex(self, db_session: Session, *, progress: ProgressCallback | None = None) -> int:
        """Rebuilds the index from scratch (drops and recreates the collection); returns the documents written."""
        with self._lock, _own_session(db_session) as session:
            marks = _queued(session)
            try:
                self.client.delete_collection(self.collection_name)
            except NotFoundError:
                pass
            self._collection = self._open_collection()
            self._known_count = None
            report = self._apply(session, service.list_incident_ids(db_session=session), progress=progress)
            self._mark_current()
            _consume(session, marks)
        return report.added

    def _sync(self, session: Session, progress: ProgressCallback | None) -> SyncReport:
        marks = _queued(session)
        store_ids = service.list_incident_ids(db_session=session)
        stale = set(self._record_ids()) - {record_id(i) for i in store_ids}
        if stale:
            self._known_count = None
            self._collection.delete(ids=sorted(stale))
        report = self._apply(session, store_ids, progress=progress) + SyncReport(removed=len(stale))
        self._mark_current()
        _consume(session, marks)
        return report

    def _mark_current(self) -> None:
        self._collection.modify(metadata={"doc_version": DOC_VERSION})

    def _record_ids(self) -> Iterator[str]:
        offset = 0
        while True:
            page = self._collection.get(include=[], limit=5000, offset=offset)["ids"]
            yield from page
            if len(page) < 5000:
                return
            offset += len(page)

    def _apply(
        self, session: Session, incident_ids: Sequence[int], *, progress: ProgressCallback | None = None
    ) -> SyncReport:
        """Makes the documents of these incidents match the store, EMBED_BATCH incidents at a time."""
        report = SyncReport()
        total = len(incident_ids)
        for start in range(0, total, EMBED_BATCH):
            report = report + self._apply_batch(session, incident_ids[start : start + EMBED_BATCH])
            if progress is not None:
                progress(min(start + EMBED_BATCH, total), total)
        return report

    def _apply_batch(self, session: Session, incident_ids: Sequence[int]) -> SyncReport:
        incidents = service.get_many(db_session=session, incident_ids=incident_ids)
        timelines = timeline.get_timelines(db_session=session, incident_ids=[i.id for i in incidents])
        wanted: dict[str, tuple[str, dict[str, Any]]] = {}
        for incident in incidents:
            document = incident_document(incident, timeline_digest(timelines[incident.id]))
            wanted[record_id(incident.id)] = (document, document_metadata(incident, document))
        stored = self._collection.get(
            ids=[record_id(i) for i in incident_ids], include=["metadatas", "documents"]
        )
        current = {
            record: (document, metadata or {})
            for record, document, metadata in zip(
                stored["ids"], stored["documents"] or [], stored["metadatas"] or [], strict=True
            )
        }
        gone = [record for record in current if record not in wanted]
        to_embed = [r for r, (doc, _m) in wanted.items() if r not in current or current[r][0] != doc]
        relabel = [
            r
            for r, (doc, meta) in wanted.items()
            if r in current
            and current[r][0] == doc
            and current[r][1].get("content_hash") != meta["content_hash"]
        ]
        if gone or to_embed:
            self._known_count = None
        if gone:
            self._collection.delete(ids=gone)
        if to_embed:
            documents = [wanted[r][0] for r in to_embed]
            self._collection.upsert(
                ids=to_embed,
                embeddings=list(self.embedding.embed(documents)),
                documents=documents,
                metadatas=[wanted[r][1] for r in to_embed],
            )
        if relabel:
            # Same text, new status or severity: no need to embed again.
            self._collection.update(ids=relabel, metadatas=[wanted[r][1] for r in relabel])
        added = sum(r not in current for r in to_embed)
        return SyncReport(
            added=added,
            updated=len(to_embed) - added + len(relabel),
            removed=len(gone),
            unchanged=len(wanted) - len(to_embed) - len(relabel),
        )

    # -- searching -------------------------------------------------------------------------------------

    @_server_errors
    def semantic_search(
        self,
        query: str,
        *,
        where: dict[str, Any] | None = None,
        limit: int = 10,
        exclude_ids: Iterable[int] = (),
        include_private: bool = False,
    ) -> list[tuple[int, float]]:
        """Returns (incident number, cosine similarity) of the documents nearest in meaning to `query`, best first.

        Metadata filters (`where`, and leaving private incidents out) make embedded Chroma read the metadata
        of every record: tens of milliseconds per thousand documents, against about one for the search
        itself. `agent.search.hybrid` therefore uses `nearest` and filters through SQL instead.

        Args:
            query: Free text.
            where: A Chroma metadata filter (see `document_metadata` for the fields).
            limit: How many results to return at most.
            exclude_ids: Incidents never to return (the one in focus).
            include_private: Whether private incidents may be returned.
        """
        excluded = set(exclude_ids)
        conditions = [where] if where else []
        if not include_private:
            conditions.append({"private": False})
        filter_: dict[str, Any] | None = (
            None if not conditions else conditions[0] if len(conditions) == 1 else {"$and": conditions}
        )
        hits = self.nearest(self.embedding.embed_query(query), limit=limit + len(excluded), where=filter_)
        return [(i, similarity) for i, similarity in hits if i not in excluded][:limit]

    @_server_errors
    def nearest(
        self, vector: npt.NDArray[np.float32], *, limit: int, where: dict[str, Any] | None = None
    ) -> list[tuple[int, float]]:
        """Returns (incident number, cosine similarity) of the `limit` documents nearest to an embedded query,
        private ones included, best first."""
        if limit <= 0:
            return []
        result = self._collection.query(
            query_embeddings=[vector], n_results=limit, where=where, include=["distances"]
        )
        return [
            (incident_number(record), round(1.0 - float(distance), 4))
            for record, distance in zip(result["ids"][0], (result["distances"] or [[]])[0], strict=True)
        ]


# --- the change queue --------------------------------------------------------------------------------


@contextmanager
def _own_session(db_session: Session) -> Iterator[Session]:
    session = Session(bind=db_session.get_bind(), expire_on_commit=False)
    if session.get_bind().dialect.name == "postgresql":
        # The queue and the incident count must come from one snapshot, or an incident committed between
        # the two reads would look like a lost document and set off a full sync.
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    try:
        yield session
    finally:
        session.close()


def _queued(session: Session, incident_ids: Sequence[int] | None = None) -> dict[int, int]:
    """Returns the queued incidents with their touch counters (all of them, or those among `incident_ids`)."""
    statement = select(search_index_queue.c.incident_id, search_index_queue.c.touches)
    if incident_ids is not None:
        if not incident_ids:
            return {}
        statement = statement.where(search_index_queue.c.incident_id.in_(incident_ids))
    return {incident_id: touches for incident_id, touches in session.execute(statement)}


def _consume(session: Session, marks: dict[int, int]) -> None:
    """Deletes the queue entries just applied, unless they were touched again meanwhile.

    A failure leaves them queued: the next refresh indexes them again, which is harmless.
    """
    # End the read transaction first: on SQLite a write cannot start from a snapshot that is out of date.
    session.rollback()
    if not marks:
        return
    statement = delete(search_index_queue).where(
        search_index_queue.c.incident_id == bindparam("queued_id"),
        search_index_queue.c.touches == bindparam("queued_touches"),
    )
    try:
        session.execute(statement, [{"queued_id": i, "queued_touches": t} for i, t in marks.items()])
        session.commit()
    except DBAPIError as error:
        session.rollback()
        logger.warning("search index queue left for the next refresh: %s", error)


# --- opening and following ---------------------------------------------------------------------------


def open_index(
    settings: Settings | None = None,
    *,
    path: Path | None = None,
    collection: str | None = None,
    embedding: MiniLMEmbedding | None = None,
) -> IncidentIndex:
    """Opens the incident index the settings name: a Chroma server when CHROMA_HOST is set, otherwise the
    embedded index under the data folder (or `path`).

    Args:
        settings: The settings to follow; the process settings when None.
        path: Folder of an embedded index, overriding the settings (tests, benchmarks).
        collection: Collection name, overriding the settings.
        embedding: Embedding function; the process-wide MiniLM when None.
    """
    settings = settings or get_settings()
    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    client: ClientAPI
    location = "embedded"
    if settings.chroma_host and path is None:
        location = f"{settings.chroma_host}:{settings.chroma_port}"
        try:
            client = chromadb.HttpClient(
                host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings
            )
        except ValueError as error:  # what chromadb raises when the server does not answer its heartbeat
            raise SearchUnavailable(UNREACHABLE.format(where=location)) from error
    else:
        folder = path or settings.chroma_path
        folder.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(path=str(folder), settings=chroma_settings)
    return IncidentIndex(
        client, collection or settings.chroma_collection, embedding or get_embedding(), location=location
    )


def follow_store(target: Engine | sessionmaker[Session], index: IncidentIndex) -> Callable[[], None]:
    """Refreshes `index` after every commit, on `target`, that the service layer marked as changing incidents.

    Returns a function that stops following. Indexing errors are logged, never raised into the write that
    triggered them: the change stays queued and the next refresh picks it up.
    """

    def after_commit(session: Session) -> None:
        if isinstance(target, Engine) and session.bind is not target:
            return
        if not session.info.pop(changes.CHANGED_KEY, None):
            return
        try:
            index.refresh(session)
        except SearchUnavailable:
            logger.warning("search index unreachable; the change stays queued until it is back")
        except Exception:  # the write is committed; the queue keeps the change
            logger.exception("could not update the search index after a commit")

    listened: Any = Session if isinstance(target, Engine) else target
    event.listen(listened, "after_commit", after_commit)
    return lambda: event.remove(listened, "after_commit", after_commit)

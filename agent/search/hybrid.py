"""Hybrid incident search: meaning (Chroma) and exact words (full-text), inside SQL filters, with reasons.

`search_incidents` asks both searches, keeps what clears the bars below, and fuses the two rankings with
reciprocal rank fusion (RRF), which needs no calibration between cosine similarities and full-text ranks;
a keyword hit counts in proportion to the share of the query's terms it mentions.
The SQL filter (time window, status, severity, service, private) is the authority on what may be returned.
Chroma is asked for its nearest documents without a filter (filtering by metadata in embedded Chroma
reads every record's metadata and costs far more than the vector search) and SQL keeps the allowed ones,
going deeper when a narrow filter keeps too few. Keyword hits are checked against SQL the same way.

Noise is dropped, not ranked low:

- A semantic match needs a cosine similarity of at least `SIMILARITY_FLOOR` (0.40). Measured with
  all-MiniLM-L6-v2 on incident documents (title, services, summary, root cause, remediation): short
  queries score 0.40-0.63 against the incident they describe ("denial of service attack" vs a DDoS
  incident 0.63, "database failover" vs a failover 0.53, "certificate expiry" vs an expired certificate
  0.54) and 0.38 at most against unrelated ones ("login outage" vs a payment-provider outage); documents
  of unrelated incidents score 0.13-0.38 against each other, of incidents sharing a cause or service 0.48.
- A keyword match alone needs most query terms (two thirds, two at least), or an exact-looking one (error
  code, hostname, version): a single common word ("outage") shared with the query is not a reason to call
  an incident related.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from sqlalchemy.orm import Session

from agent.incidents import service
from agent.incidents.exceptions import InvalidInput
from agent.incidents.service import IncidentFilter
from agent.search.index import IncidentIndex
from agent.search.keyword import KeywordHit, keyword_search, looks_exact
from agent.search.ties import newest_among_equals
from agent.search.vocabulary import expand_query

SIMILARITY_FLOOR = 0.40
"""Lowest cosine similarity that counts as "similar in meaning"; see the module docstring."""

RRF_K = 60
"""The usual reciprocal-rank-fusion constant: rank r in a list contributes 1 / (RRF_K + r)."""

MAX_SEMANTIC_DEPTH = 2000
"""Nearest documents examined at most, unfiltered, when a filter keeps few of them."""

SIMILARITY_TIE = 0.02
"""Semantic matches this close to the best of their run are equally good (`agent.search.ties`): incidents
that recur with the same cause differ by 0.005-0.015 in the demo's recurring failovers."""

CANDIDATE_CAP = 2000
"""A filter keeping at most this many incidents is searched exactly when examining the nearest documents
was not enough (see `_semantic`)."""


@dataclass(frozen=True)
class SearchHit:
    """An incident found by `search_incidents`, with why it matched."""

    incident_id: int
    score: float
    """1.0 when first in both rankings (a keyword hit weighted by its share of the terms), 0.5 when first in
    one of them; only the order is meaningful."""
    reasons: list[str] = field(default_factory=list)
    """For people: "similar in meaning (0.62)", "mentions 'ddos'", "same service: payments"."""
    similarity: float | None = None
    """Cosine similarity to the query, when it cleared the floor."""
    matched_terms: list[str] = field(default_factory=list)
    """Query terms the incident mentions."""


def search_incidents(
    db_session: Session,
    index: IncidentIndex,
    *,
    query: str,
    criteria: IncidentFilter | None = None,
    limit: int = 10,
    exclude_ids: Iterable[int] = (),
    min_similarity: float = SIMILARITY_FLOOR,
    whole_incident: bool = False,
) -> list[SearchHit]:
    """Returns the incidents matching `query` in meaning or in exact words, best first, within `criteria`.

    The index is refreshed first (see `IncidentIndex.refresh`), so it never answers from a stale state.

    Args:
        db_session: A session on the store.
        index: The incident index.
        query: What to look for: words, an error code, a hostname, or a whole incident's text.
        criteria: SQL filters; None means every incident except private ones.
        limit: How many hits to return at most.
        exclude_ids: Incidents never to return, such as the one in focus; their services count as "same
            service" in the reasons.
        min_similarity: The similarity floor for semantic matches.
        whole_incident: The query is another incident's text ("related to this incident"). Its numbers
            and dates ("40%", "2026-11-27") are not search terms, and a keyword hit counts only beside a
            semantic match, since a long text shares some word with almost anything.
    """
    if not query.strip():
        raise InvalidInput("Tell me what to search for.")
    index.refresh(db_session)
    criteria = criteria or IncidentFilter()
    excluded = frozenset(exclude_ids) | criteria.exclude_ids
    criteria = replace(criteria, exclude_ids=excluded)

    restricted = _is_restricted(criteria)
    # The embedding model barely knows shorthand ("cert", "k8s"); the keyword index is given the words as
    # typed, since a written-out word the incidents lack would only lower every hit's share of terms.
    meaning = query if whole_incident else expand_query(query)
    semantic = newest_among_equals(
        _semantic(db_session, index, meaning, criteria, max(limit * 2, 20), min_similarity),
        incident_id=lambda pair: pair[0],
        equal=lambda best, other: best[1] - other[1] <= SIMILARITY_TIE,
    )
    similar = dict(semantic)
    keyword_query = (
        " ".join(word for word in query.split() if any(c.isalpha() for c in word))
        if whole_incident
        else query
    )
    keyword = [
        hit
        for hit in keyword_search(
            db_session,
            keyword_query,
            limit=max(limit * 4, 20),
            include_private=criteria.include_private,
            criteria=criteria if restricted else None,
        )
        if hit.incident_id not in excluded
        and (hit.incident_id in similar if whole_incident else _admitted(hit, similar))
    ]

    fused = fuse(semantic, keyword, whole_incident=whole_incident)
    best = 2.0 / (RRF_K + 1)
    top = sorted(fused, key=lambda i: (-fused[i], -similar.get(i, 0.0), -i))[:limit]

    matched = {hit.incident_id: hit.matched_terms for hit in keyword}
    reference = set(criteria.services) | {
        name for names in _services(db_session, sorted(excluded)).values() for name in names
    }
    services = _services(db_session, top) if reference else {}
    return [
        SearchHit(
            incident_id=incident_id,
            score=round(fused[incident_id] / best, 3),
            reasons=_reasons(
                similar.get(incident_id),
                matched.get(incident_id, []),
                services.get(incident_id, []),
                reference,
            ),
            similarity=similar.get(incident_id),
            matched_terms=matched.get(incident_id, []),
        )
        for incident_id in top
    ]


def fuse(
    semantic: Sequence[tuple[int, float]], keyword: Sequence[KeywordHit], *, whole_incident: bool = False
) -> dict[int, float]:
    """Returns each incident's reciprocal-rank-fusion score over the two rankings.

    A keyword hit is weighted by the share of the query's terms it mentions: all of "platform roblox
    consul" is a better reason than "consul" alone, which plain RRF would rank the same one place down. A
    whole incident's text shares a small part of its words with anything, so there the rank alone counts.
    """
    fused: dict[int, float] = {}
    for rank, (incident_id, _similarity) in enumerate(semantic, start=1):
        fused[incident_id] = fused.get(incident_id, 0.0) + 1.0 / (RRF_K + rank)
    for rank, hit in enumerate(keyword, start=1):
        weight = 1.0 if whole_incident else hit.score
        fused[hit.incident_id] = fused.get(hit.incident_id, 0.0) + weight / (RRF_K + rank)
    return fused


def _is_restricted(criteria: IncidentFilter) -> bool:
    """Returns whether the filter narrows more than privacy and exclusions do."""
    return bool(
        criteria.statuses is not None
        or criteria.severities is not None
        or criteria.services
        or criteria.since is not None
        or criteria.until is not None
        or criteria.text
        or criteria.ids is not None
    )


def _semantic(
    db_session: Session,
    index: IncidentIndex,
    query: str,
    criteria: IncidentFilter,
    wanted: int,
    floor: float,
) -> list[tuple[int, float]]:
    """Returns up to `wanted` (incident, similarity) pairs at or above `floor` that pass `criteria`, best first.

    Chroma is asked for its nearest documents unfiltered (its metadata filters cost far more than the
    search) and SQL keeps those the criteria allow. When too few pass, the search goes as deep as the share
    kept so far suggests, until it reaches documents below the floor, which are never returned anyway. When
    even `MAX_SEMANTIC_DEPTH` documents are all above the floor and a narrow filter keeps too few of them,
    the incidents the filter allows are searched exactly (slower, and rare).
    """
    vector = index.embedding.embed_query(query)
    depth = max(wanted * 5, 100)
    checked: set[int] = set()
    allowed: set[int] = set()
    while True:
        nearest = [(i, s) for i, s in index.nearest(vector, limit=depth) if s >= floor]
        unchecked = [i for i, _s in nearest if i not in checked]
        allowed |= _allowed(db_session, criteria, unchecked)
        checked.update(unchecked)
        kept = [(i, s) for i, s in nearest if i in allowed]
        if len(kept) >= wanted or len(nearest) < depth:
            return kept[:wanted]
        if depth >= MAX_SEMANTIC_DEPTH:
            break
        share = max(len(kept), 1) / len(nearest)
        depth = min(MAX_SEMANTIC_DEPTH, max(depth * 2, math.ceil(wanted / share * 1.5)))
    candidates = service.list_incident_ids(db_session=db_session, criteria=criteria, limit=CANDIDATE_CAP + 1)
    if not candidates or len(candidates) > CANDIDATE_CAP:
        return kept[:wanted]
    exact = index.nearest(
        vector, limit=min(wanted, len(candidates)), where={"incident_id": {"$in": candidates}}
    )
    return [(i, s) for i, s in exact if s >= floor]


def _allowed(db_session: Session, criteria: IncidentFilter, incident_ids: list[int]) -> set[int]:
    """Returns those of the incidents that `criteria` allows (privacy and exclusions included)."""
    if not incident_ids:
        return set()
    return set(
        service.list_incident_ids(
            db_session=db_session, criteria=replace(criteria, ids=frozenset(incident_ids))
        )
    )


KEYWORD_ALONE_SHARE = 2 / 3
"""A keyword hit with no semantic match counts when it mentions at least this share of the query's terms,
and two of them at least ("knight capital" of "remember knight capital")."""


def _admitted(hit: KeywordHit, similar: dict[int, float]) -> bool:
    """Returns whether a keyword hit counts: alongside a semantic match, or on its own when it mentions most
    query terms (`KEYWORD_ALONE_SHARE`, one word alone never) or an exact-looking one."""
    most = hit.score >= 1.0 or (len(hit.matched_terms) >= 2 and hit.score >= KEYWORD_ALONE_SHARE - 1e-3)
    return hit.incident_id in similar or most or any(looks_exact(t) for t in hit.matched_terms)


def _services(db_session: Session, incident_ids: Sequence[int]) -> dict[int, list[str]]:
    return {i.id: i.service_names for i in service.get_many(db_session=db_session, incident_ids=incident_ids)}


def _reasons(
    similarity: float | None, terms: Sequence[str], services: Sequence[str], reference: set[str]
) -> list[str]:
    reasons: list[str] = []
    if similarity is not None:
        reasons.append(f"similar in meaning ({similarity:.2f})")
    if terms:
        quoted = [f"'{term}'" for term in terms]
        reasons.append(
            "mentions " + (f"{', '.join(quoted[:-1])} and {quoted[-1]}" if len(quoted) > 1 else quoted[0])
        )
    shared = [name for name in services if name in reference]
    if shared:
        reasons.append(f"same service: {', '.join(shared)}")
    return reasons

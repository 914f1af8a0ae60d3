"""Keyword search over incidents and their timelines: SQLite FTS5, or PostgreSQL full-text search.

Embeddings blur exact strings: `ERR_PAYMENT_DECLINED_4012` and `db-primary-03.us-east-1` are near many
other codes and hosts in meaning. This module finds the incidents that literally mention them.

The full-text objects come from migration 0002 and are kept in sync by the database itself: on SQLite
external-content FTS5 tables `incidents_fts` (title, summary, customer impact, root cause, remediation)
and `timeline_fts` (timeline text), maintained by triggers; on PostgreSQL generated `search_tsv` columns
with GIN indexes on `incidents` and `timeline_entries`.

Matching is exact and case-insensitive, with no stemming (finding "failing" for "failure" is what the
embeddings are for): tokens are runs of letters and digits, and `-`, `.`, `_`, `/`, `:`, `@` separate them
on both backends (FTS5's unicode61 tokeniser does so; PostgreSQL gets the text with those characters
replaced by spaces and the `simple` configuration). Each query term is searched as a phrase of its tokens,
so `db-primary-03.us-east-1` matches exactly that host, `db-primary-03` matches it too, and
`db-primary-04` does not. Which terms an incident mentions is then checked in Python with the same rule
on its text, which is exact and costs the same however common a word is.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import replace
from typing import Any, ClassVar, NamedTuple

from sqlalchemy import Result, bindparam, text
from sqlalchemy.orm import Session

from agent.incidents import service
from agent.incidents.enums import TimelineKind
from agent.incidents.service import IncidentFilter
from agent.search.ties import newest_among_equals

MAX_TERMS = 8
"""Query terms searched at most; exact-looking terms (codes, hosts) are kept first."""

MAX_TERM_ROWS = 500
"""A term found in more rows of a table than this is too common there to single incidents out: that table
is not ranked by it (it still counts among the terms an incident mentions). This bounds the cost of a
search whatever the size of the store, since ranking costs a few microseconds per matching row; in a
small store nothing is left out, and finding incidents by common words is the embeddings' job."""

SEARCHED_KINDS = (TimelineKind.message.value, TimelineKind.note.value)
"""Timeline entries worth searching; status and severity changes are boilerplate that every incident has."""

STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers him his how i if in into is it its itself just me more most my no nor not
    now of off on once only or other our out over own same she should so some such than that the their
    them then there these they this those through to too under until up very was we were what when
    where which while who whom why will with would you your yours
    incident incidents related similar like show find list tell give get anything happened
    today yesterday week weeks month months year years day days hour hours ago since past last recent
    recently
    """.split()
)
"""Words that say nothing about which incident is meant; never searched as terms."""

_PHRASE_RE = re.compile(r'"([^"]+)"')
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
"""Control characters carry no search meaning, and a NUL ends an SQL string early on both backends."""
_TERM_RE = re.compile(r"\w[\w\-./:@]*")
_TRAILING = "-./:@"
_ALTERNATIVES_RE = re.compile(r"[^\W\d_]{3,}/[^\W\d_]{3,}")
_TOKEN_RE = re.compile(r"[^\W_]+")
SEPARATORS_RE = re.compile(r"[-_./:@]+")
"""Characters both backends treat as token separators (migration 0002 uses the same class on PostgreSQL)."""


class KeywordHit(NamedTuple):
    """An incident that mentions some of the query terms."""

    incident_id: int
    score: float
    """Share of the query terms the incident mentions (0-1]."""
    matched_terms: list[str]
    """The query terms it mentions, as the query spelled them."""


def looks_exact(term: str) -> bool:
    """Returns whether a term reads like an identifier (error code, hostname, version) rather than a word."""
    return any(c.isdigit() for c in term) or bool(SEPARATORS_RE.search(term))


def _is_content(word: str) -> bool:
    return (
        (len(word) > 1 or word.isdigit()) and word.lower() not in STOPWORDS and bool(_TOKEN_RE.search(word))
    )


def content_words(text: str) -> set[str]:
    """Returns the distinct lower-cased words of `text` that say something: no stopwords, no single letters."""
    words = (word.rstrip(_TRAILING).lower() for word in _TERM_RE.findall(text))
    return {word for word in words if _is_content(word)}


def query_terms(query: str) -> list[str]:
    """Returns the distinct searchable terms of a query, exact-looking ones first, at most MAX_TERMS.

    A "quoted phrase" is one term; otherwise terms are words with their inner `-._/:@` kept, so a
    hostname or an error code stays whole. Stopwords and single letters are dropped.
    """
    query = _CONTROL_RE.sub(" ", query)
    candidates = [phrase.strip() for phrase in _PHRASE_RE.findall(query)]
    candidates += [
        part
        for word in _TERM_RE.findall(_PHRASE_RE.sub(" ", query))
        # "leaked/exposed", "auth/login": two words, either of which is meant; a path stays whole.
        for part in (word.split("/") if _ALTERNATIVES_RE.fullmatch(word) else [word.rstrip(_TRAILING)])
    ]
    terms: dict[str, str] = {}
    for term in candidates:
        if _is_content(term) and term.lower() not in terms:
            terms[term.lower()] = term
    ordered = sorted(terms.values(), key=lambda t: not looks_exact(t))
    return ordered[:MAX_TERMS]


def keyword_search(
    db_session: Session,
    query: str,
    *,
    limit: int = 20,
    candidate_ids: Collection[int] | None = None,
    include_private: bool = False,
    criteria: IncidentFilter | None = None,
) -> list[KeywordHit]:
    """Returns the incidents that mention terms of `query`, best first.

    The full-text rank (BM25 on SQLite, `ts_rank` on PostgreSQL, title matches weighing most) over the
    terms that are not too common (`MAX_TERM_ROWS`) picks the `limit` best incidents; among them, those
    mentioning more of all the terms come first. Timeline messages and notes count; deleted ones do not.

    Args:
        db_session: A session on the store.
        query: What the person typed; see `query_terms` for how it is split.
        limit: How many incidents to return at most.
        candidate_ids: Only consider these incidents (meant for a few thousand ids at most).
        include_private: Whether private incidents may be returned.
        criteria: Only return incidents these SQL filters allow; checked on a ranking five times `limit`
            deep, so a narrow filter may leave fewer than `limit` hits.
    """
    terms = query_terms(query)
    if not terms or (candidate_ids is not None and not candidate_ids):
        return []
    backend: type[_Backend] = _Postgres if db_session.get_bind().dialect.name == "postgresql" else _SQLite
    relevance = backend.ranked(
        db_session, terms, limit * 5 if criteria else limit, candidate_ids, include_private
    )
    ranked = sorted(relevance, key=lambda i: -relevance[i])
    if criteria is not None and ranked:
        allowed = set(
            service.list_incident_ids(
                db_session=db_session, criteria=replace(criteria, ids=frozenset(ranked))
            )
        )
        ranked = [incident_id for incident_id in ranked if incident_id in allowed]
    top = ranked[:limit]
    texts = _searchable_texts(db_session, top)
    patterns = [_phrase_pattern(term) for term in terms]
    hits = []
    for incident_id in top:
        matched = [
            term for term, pattern in zip(terms, patterns, strict=True) if pattern.search(texts[incident_id])
        ]
        if matched:
            hits.append(KeywordHit(incident_id, round(len(matched) / len(terms), 3), matched))
    hits.sort(key=lambda hit: (-len(hit.matched_terms), -relevance[hit.incident_id]))
    return newest_among_equals(
        hits,
        incident_id=lambda hit: hit.incident_id,
        equal=lambda best, other: (
            len(best.matched_terms) == len(other.matched_terms)
            and relevance[other.incident_id] >= relevance[best.incident_id] * (1 - RELEVANCE_TIE)
        ),
    )


RELEVANCE_TIE = 0.1
"""Hits that mention as many query terms, ranked within this share of the best of their run, are equally
good (`agent.search.ties`): bm25 separates recurring incidents of the same text by their lengths alone."""


_SUFFIXES = ("ing", "ed", "es", "s", "y", "e")


def _stem(word: str) -> str:
    """Returns a word without a common English ending, when at least five letters are left."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 5:
            return word[: -len(suffix)]
    return word


def title_term_counts(db_session: Session, terms: Sequence[str]) -> dict[str, int]:
    """Returns how many incident titles mention each term (as a word), counted up to `MAX_TERM_ROWS + 1`.

    Titles name what incidents are about, so a word some title holds can be a question's topic
    ("ddos", "failover"), while chatter ("quick", "back", "review") is in none.
    """
    wanted = [term for term in dict.fromkeys(t.lower() for t in terms) if _is_content(term)]
    if not wanted:
        return {}
    postgres = db_session.get_bind().dialect.name == "postgresql"
    # A word is looked for by its stem as a prefix ("expire" finds "expired", "expiry"), single words only.
    stems = {term: _stem(term) for term in wanted}
    probe = (
        "SELECT count(*) FROM (SELECT 1 FROM incidents WHERE to_tsvector('simple', "
        "regexp_replace(title, '[-_./:@]+', ' ', 'g')) @@ to_tsquery('simple', :t{n}) LIMIT :cap) AS probe"
        if postgres
        else "SELECT count(*) FROM (SELECT 1 FROM incidents_fts WHERE incidents_fts MATCH "
        "'title : ' || :t{n} LIMIT :cap)"
    )
    terms_sql = {
        f"t{n}": (
            " <-> ".join(
                f"{part}:*" if stems[term] != term and part == stems[term] else part
                for part in _TOKEN_RE.findall(stems[term])
            )
            if postgres
            else " ".join(
                f'"{part}"*' if stems[term] != term and part == stems[term] else f'"{part}"'
                for part in _TOKEN_RE.findall(stems[term])
            )
        )
        or '""'
        for n, term in enumerate(wanted)
    }
    params = _params(None, cap=MAX_TERM_ROWS + 1, **terms_sql)
    probes = ", ".join(f"({probe.format(n=n)})" for n in range(len(wanted)))
    counts = _execute(db_session, f"SELECT {probes}", params).one()
    return dict(zip(wanted, (int(count) for count in counts), strict=True))


def _phrase_pattern(term: str) -> re.Pattern[str]:
    """Returns a regular expression matching the term's tokens in a row, as the full-text index does."""
    tokens = _TOKEN_RE.findall(term.lower())
    joined = r"[\W_]+".join(map(re.escape, tokens))
    if looks_exact(term):
        # A host or a code is mentioned from its start: "api.example.com" is not in "m-api.example.com",
        # while "db-primary-03" is in "db-primary-03.us-east-1".
        return re.compile(r"(?<![\w.-])" + joined + r"(?![^\W_])")
    return re.compile(r"(?<![^\W_])" + joined + r"(?![^\W_])")


def _searchable_texts(db_session: Session, incident_ids: list[int]) -> dict[int, str]:
    """Returns the lower-cased searchable text of each incident: its fields and live messages and notes."""
    parts: dict[int, list[str]] = {i: [] for i in incident_ids}
    if not incident_ids:
        return {}
    fields = _execute(
        db_session,
        "SELECT id, title, summary, customer_impact, root_cause, remediation FROM incidents WHERE id IN :ids",
        _params(incident_ids),
    )
    for incident_id, *values in fields:
        parts[incident_id].extend(v for v in values if v)
    messages = _execute(
        db_session,
        "SELECT incident_id, text FROM timeline_entries "
        "WHERE incident_id IN :ids AND deleted_at IS NULL AND kind IN :kinds",
        _params(incident_ids),
    )
    for incident_id, message in messages:
        parts[incident_id].append(message)
    return {incident_id: "\n".join(texts).lower() for incident_id, texts in parts.items()}


def _restrictions(candidate_ids: Collection[int] | None, include_private: bool) -> str:
    sql = ""
    if not include_private:
        sql += " AND NOT i.private"
    if candidate_ids is not None:
        sql += " AND i.id IN :ids"
    return sql


def _execute(db_session: Session, sql: str, params: dict[str, object]) -> Result[Any]:
    """Runs `sql`, binding every list-valued parameter as an expanding `IN` list."""
    lists = [
        bindparam(name, expanding=True)
        for name, value in params.items()
        if isinstance(value, list) and f":{name}" in sql
    ]
    return db_session.execute(text(sql).bindparams(*lists), params)


def _params(candidate_ids: Collection[int] | None, **params: object) -> dict[str, object]:
    params["kinds"] = list(SEARCHED_KINDS)
    if candidate_ids is not None:
        params["ids"] = list(candidate_ids)
    return params


def _merge_best(relevance: dict[int, float], rows: Iterable[tuple[int, float]]) -> None:
    for incident_id, score in rows:
        if score > relevance.get(incident_id, float("-inf")):
            relevance[incident_id] = score


class _Backend:
    """How one database searches; the subclasses supply the SQL."""

    SOURCES: ClassVar[tuple[tuple[str, str], ...]]
    """Per searchable table: (count of rows matching term `:t{n}`, up to `:cap`; ranking of the incidents
    matching `{match}`, any of some terms, within `{where}`)."""

    @staticmethod
    def term_params(terms: list[str]) -> dict[str, str]:
        """Returns the bound parameter `t<n>` of each term."""
        raise NotImplementedError

    @staticmethod
    def any_term(indexes: list[int]) -> str:
        """Returns the SQL matching any of these terms."""
        raise NotImplementedError

    @classmethod
    def ranked(
        cls,
        db_session: Session,
        terms: list[str],
        pool: int,
        candidate_ids: Collection[int] | None,
        include_private: bool,
    ) -> dict[int, float]:
        """Returns the relevance (higher is better) of the `pool` best incidents of each table."""
        params = _params(candidate_ids, pool=pool, cap=MAX_TERM_ROWS + 1, **cls.term_params(terms))
        where = _restrictions(candidate_ids, include_private)
        relevance: dict[int, float] = {}
        for probe, ranking in cls.SOURCES:
            probes = ", ".join(f"({probe.format(n=n)})" for n in range(len(terms)))
            counts = _execute(db_session, f"SELECT {probes}", params).one()
            rare = [n for n, count in enumerate(counts) if count <= MAX_TERM_ROWS]
            if rare:
                sql = ranking.format(match=cls.any_term(rare), where=where)
                _merge_best(relevance, _execute(db_session, sql, params))
        return relevance


class _SQLite(_Backend):
    """FTS5: each term is a quoted phrase; bm25() is lower for better matches, so it is negated."""

    SOURCES = (
        (
            "SELECT count(*) FROM (SELECT 1 FROM incidents_fts WHERE incidents_fts MATCH :t{n} LIMIT :cap)",
            # Column weights follow the column order of incidents_fts: title counts most.
            "SELECT i.id, -bm25(incidents_fts, 4.0, 2.0, 1.0, 2.0, 1.0) AS relevance "
            "FROM incidents_fts JOIN incidents i ON i.id = incidents_fts.rowid "
            "WHERE incidents_fts MATCH {match}{where} ORDER BY relevance DESC LIMIT :pool",
        ),
        (
            "SELECT count(*) FROM (SELECT 1 FROM timeline_fts WHERE timeline_fts MATCH :t{n} LIMIT :cap)",
            "SELECT te.incident_id, -bm25(timeline_fts) AS relevance "
            "FROM timeline_fts JOIN timeline_entries te ON te.id = timeline_fts.rowid "
            "JOIN incidents i ON i.id = te.incident_id "
            "WHERE timeline_fts MATCH {match} AND te.deleted_at IS NULL AND te.kind IN :kinds{where} "
            "ORDER BY relevance DESC LIMIT :pool",
        ),
    )

    @staticmethod
    def term_params(terms: list[str]) -> dict[str, str]:
        """Returns each term as an FTS5 string, which FTS5 reads as a phrase."""
        return {f"t{n}": '"' + term.replace('"', '""') + '"' for n, term in enumerate(terms)}

    @staticmethod
    def any_term(indexes: list[int]) -> str:
        """Returns an FTS5 query expression `"a" OR "b"` built from the bound terms."""
        return " || ' OR ' || ".join(f":t{n}" for n in indexes)


class _Postgres(_Backend):
    """PostgreSQL: each term becomes a `phraseto_tsquery`; ts_rank() is higher for better matches."""

    SOURCES = (
        (
            "SELECT count(*) FROM (SELECT 1 FROM incidents "
            "WHERE search_tsv @@ phraseto_tsquery('simple', :t{n}) LIMIT :cap) AS probe",
            "SELECT i.id, ts_rank(i.search_tsv, {match}) AS relevance FROM incidents i "
            "WHERE i.search_tsv @@ {match}{where} ORDER BY relevance DESC LIMIT :pool",
        ),
        (
            "SELECT count(*) FROM (SELECT 1 FROM timeline_entries "
            "WHERE search_tsv @@ phraseto_tsquery('simple', :t{n}) LIMIT :cap) AS probe",
            "SELECT te.incident_id, ts_rank(te.search_tsv, {match}) AS relevance "
            "FROM timeline_entries te JOIN incidents i ON i.id = te.incident_id "
            "WHERE te.search_tsv @@ {match} AND te.deleted_at IS NULL AND te.kind IN :kinds{where} "
            "ORDER BY relevance DESC LIMIT :pool",
        ),
    )

    @staticmethod
    def term_params(terms: list[str]) -> dict[str, str]:
        """Returns each term with the separators replaced, as migration 0002 indexes text."""
        return {f"t{n}": SEPARATORS_RE.sub(" ", term) for n, term in enumerate(terms)}

    @staticmethod
    def any_term(indexes: list[int]) -> str:
        """Returns a tsquery matching any of the bound terms, each as a phrase."""
        return "(" + " || ".join(f"phraseto_tsquery('simple', :t{n})" for n in indexes) + ")"

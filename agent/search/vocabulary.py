"""Shorthand on-call engineers type, and the words incident write-ups use for the same thing.

A search for "cert lapse" finds "TLS certificate expired on api.example.com" only when the words the
write-ups use are searched for too: the embedding model barely knows "cert", and the keyword index matches
whole words and their stems, not abbreviations. `expand_query` appends those words; it never removes any.
"""

from __future__ import annotations

import re

WRITTEN_OUT: dict[str, str] = {
    "cert": "certificate",
    "certs": "certificates",
    "ssl": "certificate",
    "lapse": "expired",
    "lapsed": "expired",
    "k8s": "kubernetes",
    "kube": "kubernetes",
    "pg": "postgres",
    "db": "database",
    "dbs": "databases",
    "authn": "authentication",
    "config": "configuration",
    "configs": "configuration",
    "cfg": "configuration",
    "deploy": "deployment",
    "deploys": "deployments",
    "infra": "infrastructure",
    "prod": "production",
    "env": "environment",
    "repl": "replication",
    "perf": "performance",
    "lb": "load balancer",
    "oom": "out of memory",
    "oomkilled": "out of memory",
    "notifs": "notifications",
    "pmt": "payment",
    "pmts": "payments",
    "svc": "service",
    "conn": "connection",
    "conns": "connections",
    "txn": "transaction",
    "txns": "transactions",
    "creds": "credentials",
    "mq": "message queue",
    "ddos'd": "ddos attack",
    "ratelimited": "rate limited",
}
"""Shorthand -> the words incident titles and summaries use."""

_WORD_RE = re.compile(r"[a-z0-9][a-z0-9']*")


def expand_query(query: str) -> str:
    """Returns the query with the written-out form of its shorthand appended ("cert lapse" ->
    "cert lapse certificate expired"); a query with no shorthand is returned as it is."""
    added = [
        WRITTEN_OUT[word]
        for word in dict.fromkeys(_WORD_RE.findall(query.lower()))
        if word in WRITTEN_OUT and WRITTEN_OUT[word] not in query.lower()
    ]
    return f"{query} {' '.join(added)}" if added else query

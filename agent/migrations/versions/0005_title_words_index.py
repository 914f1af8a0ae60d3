"""PostgreSQL: full-text lookups answered from their indexes, without scanning

Two causes of keyword search growing with the store on PostgreSQL (measured with `bench_query`):

- `agent.search.keyword.title_term_counts` (how many titles hold a word, asked by the offline model)
  matches the words of `title` computed in the query, and no index held that expression, so every call
  computed it for every incident: 77 ms per term at 10,000 incidents. A GIN index on the same expression
  answers it from the index.
- The GIN indexes of migration 0002 kept new rows in their "pending list" (GIN's `fastupdate`), which
  every search reads through in full until a vacuum merges it into the index. After 30,000 timeline rows
  were written a lookup of a word no message holds took 14 ms, 0.1 ms once merged; where autovacuum is off
  or behind, searches slow down with every message written. With `fastupdate` off each write updates the
  index itself (a little slower per row), and the pending lists are merged now.

SQLite needs none of this: its FTS5 tables already index the title column and have no pending list.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Must stay the expression title_term_counts matches, character for character, or PostgreSQL will not use it.
_TITLE_WORDS = "to_tsvector('simple', regexp_replace(title, '[-_./:@]+', ' ', 'g'))"
_GIN_INDEXES = ("ix_incidents_search_tsv", "ix_timeline_entries_search_tsv")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"CREATE INDEX ix_incidents_title_words ON incidents USING gin (({_TITLE_WORDS})) "
        "WITH (fastupdate = off)"
    )
    for index in _GIN_INDEXES:
        op.execute(f"ALTER INDEX {index} SET (fastupdate = off)")
        op.execute(f"SELECT gin_clean_pending_list('{index}'::regclass)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for index in _GIN_INDEXES:
        op.execute(f"ALTER INDEX {index} RESET (fastupdate)")
    op.execute("DROP INDEX ix_incidents_title_words")

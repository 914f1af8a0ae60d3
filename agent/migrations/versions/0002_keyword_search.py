"""keyword search, the search index change queue, and composite indexes for filtered lists

Full-text search over incidents and their timelines (SQLite FTS5, or PostgreSQL `tsvector` columns with
GIN indexes); `search_index_queue`, where triggers note every incident whose searchable content changed,
by any writer (service layer, importer, raw SQL), so the Chroma index can catch up before it serves a
search; and (severity, declared_at), (status, declared_at) indexes for filtered lists over a time window.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

INCIDENT_TEXT_COLUMNS = ("title", "summary", "customer_impact", "root_cause", "remediation")

# Keyword search is for the words people typed, exactly (meaning is the embeddings' job): tokens are runs of
# letters and digits, lower-cased, not stemmed; `-`, `.`, `_` and the like separate them, so codes and
# hostnames are found as phrases of their parts.
FTS5_TOKENIZE = "unicode61 remove_diacritics 0"

# PostgreSQL's parser keeps `db-primary-03.us` as one "host" token and splits the rest differently, so a
# search for `db-primary-03` would miss. Turning these separators into spaces first, with the `simple`
# configuration (lower-case, no stemming, no stopwords), makes it tokenise like FTS5 above; keyword.py
# applies the same replacement to query terms.
PG_SEPARATORS = "[-_./:@]+"

# (trigger name, table, event, incident id expression) for the queue triggers on SQLite.
SQLITE_QUEUE_TRIGGERS = (
    ("search_queue_incident_insert", "incidents", "INSERT", "new.id"),
    ("search_queue_incident_update", "incidents", "UPDATE", "new.id"),
    ("search_queue_incident_delete", "incidents", "DELETE", "old.id"),
    ("search_queue_timeline_insert", "timeline_entries", "INSERT", "new.incident_id"),
    ("search_queue_timeline_update", "timeline_entries", "UPDATE", "new.incident_id"),
    ("search_queue_timeline_delete", "timeline_entries", "DELETE", "old.incident_id"),
    ("search_queue_services_insert", "incident_services", "INSERT", "new.incident_id"),
    ("search_queue_services_delete", "incident_services", "DELETE", "old.incident_id"),
)
QUEUE_UPSERT = "ON CONFLICT (incident_id) DO UPDATE SET touches = search_index_queue.touches + 1"


# "SEV-1 incidents of the past week", "active incidents since Monday": an equality and a time range. Without
# the first two SQLite picks the severity index and walks every SEV-2 row of all time; the third answers
# "incidents of service X" from the index alone (the service filter is an `IN (subquery)`). Measured on
# 100,000 incidents, severity + service + 7-day list: see evals/benchmarks/bench_query.py.
COMPOSITE_INDEXES = (
    ("ix_incidents_severity_declared_at", "incidents", ["severity", "declared_at"]),
    ("ix_incidents_status_declared_at", "incidents", ["status", "declared_at"]),
    ("ix_incident_services_service_incident", "incident_services", ["service_id", "incident_id"]),
)


def upgrade() -> None:
    for name, table, columns in COMPOSITE_INDEXES:
        op.create_index(name, table, columns)
    op.create_table(
        "search_index_queue",
        sa.Column("incident_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("touches", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("incident_id"),
    )
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql()
    else:
        _upgrade_sqlite()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _downgrade_postgresql()
    else:
        _downgrade_sqlite()
    op.drop_table("search_index_queue")
    for name, table, _columns in COMPOSITE_INDEXES:
        op.drop_index(name, table_name=table)


# --- SQLite ------------------------------------------------------------------------------------------


def _fts5_table(name: str, content: str, columns: tuple[str, ...]) -> None:
    """Creates an external-content FTS5 table over `content`, kept in sync by triggers, and fills it."""
    column_list = ", ".join(columns)
    new_values = ", ".join(f"new.{c}" for c in columns)
    old_values = ", ".join(f"old.{c}" for c in columns)
    op.execute(
        f"CREATE VIRTUAL TABLE {name} USING fts5({column_list}, content='{content}', content_rowid='id', "
        f"tokenize='{FTS5_TOKENIZE}')"
    )
    insert = f"INSERT INTO {name}(rowid, {column_list}) VALUES (new.id, {new_values});"
    # External-content tables forget a row through the special 'delete' command, given the old values.
    delete = f"INSERT INTO {name}({name}, rowid, {column_list}) VALUES ('delete', old.id, {old_values});"
    op.execute(f"CREATE TRIGGER {name}_insert AFTER INSERT ON {content} BEGIN {insert} END")
    op.execute(f"CREATE TRIGGER {name}_delete AFTER DELETE ON {content} BEGIN {delete} END")
    op.execute(
        f"CREATE TRIGGER {name}_update AFTER UPDATE OF {column_list} ON {content} BEGIN {delete} {insert} END"
    )
    op.execute(f"INSERT INTO {name}({name}) VALUES ('rebuild')")


def _upgrade_sqlite() -> None:
    _fts5_table("incidents_fts", "incidents", INCIDENT_TEXT_COLUMNS)
    _fts5_table("timeline_fts", "timeline_entries", ("text",))
    for name, table, event, incident_id in SQLITE_QUEUE_TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN "
            f"INSERT INTO search_index_queue(incident_id, touches) VALUES ({incident_id}, 1) {QUEUE_UPSERT}; "
            "END"
        )
    # A renamed service changes the documents of every incident that impacted it.
    op.execute(
        "CREATE TRIGGER search_queue_service_rename AFTER UPDATE OF name, display_name ON services BEGIN "
        "INSERT INTO search_index_queue(incident_id, touches) "
        f"SELECT incident_id, 1 FROM incident_services WHERE service_id = new.id {QUEUE_UPSERT}; "
        "END"
    )


def _downgrade_sqlite() -> None:
    for name, *_ in SQLITE_QUEUE_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TRIGGER IF EXISTS search_queue_service_rename")
    for name in ("incidents_fts", "timeline_fts"):
        for event in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}_{event}")
        op.execute(f"DROP TABLE IF EXISTS {name}")


# --- PostgreSQL --------------------------------------------------------------------------------------


def _pg_tsvector(column: str, weight: str) -> str:
    return (
        f"setweight(to_tsvector('simple', regexp_replace(coalesce({column}, ''), "
        f"'{PG_SEPARATORS}', ' ', 'g')), '{weight}')"
    )


INCIDENT_WEIGHTS = {
    "title": "A",
    "summary": "B",
    "root_cause": "B",
    "customer_impact": "C",
    "remediation": "C",
}
PG_QUEUE_FUNCTIONS = {
    # function name: (incident id on insert/update, on delete)
    "search_index_touch_incident": ("NEW.id", "OLD.id"),
    "search_index_touch_child": ("NEW.incident_id", "OLD.incident_id"),
}
PG_QUEUE_TRIGGERS = (
    ("search_queue_incident", "incidents", "INSERT OR UPDATE OR DELETE", "search_index_touch_incident"),
    ("search_queue_timeline", "timeline_entries", "INSERT OR UPDATE OR DELETE", "search_index_touch_child"),
    ("search_queue_services", "incident_services", "INSERT OR DELETE", "search_index_touch_child"),
    ("search_queue_service_rename", "services", "UPDATE OF name, display_name", "search_index_touch_service"),
)


def _upgrade_postgresql() -> None:
    incident_vector = " || ".join(_pg_tsvector(c, INCIDENT_WEIGHTS[c]) for c in INCIDENT_TEXT_COLUMNS)
    op.execute(
        f"ALTER TABLE incidents ADD COLUMN search_tsv tsvector GENERATED ALWAYS AS ({incident_vector}) STORED"
    )
    op.execute("CREATE INDEX ix_incidents_search_tsv ON incidents USING gin (search_tsv)")
    timeline_vector = _pg_tsvector("text", "A")
    op.execute(
        "ALTER TABLE timeline_entries ADD COLUMN search_tsv tsvector "
        f"GENERATED ALWAYS AS ({timeline_vector}) STORED"
    )
    op.execute("CREATE INDEX ix_timeline_entries_search_tsv ON timeline_entries USING gin (search_tsv)")

    for function, (changed, deleted) in PG_QUEUE_FUNCTIONS.items():
        op.execute(
            f"""
            CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE target integer;
            BEGIN
                IF TG_OP = 'DELETE' THEN target := {deleted}; ELSE target := {changed}; END IF;
                INSERT INTO search_index_queue (incident_id, touches) VALUES (target, 1) {QUEUE_UPSERT};
                RETURN NULL;
            END $$
            """
        )
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION search_index_touch_service() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO search_index_queue (incident_id, touches)
            SELECT incident_id, 1 FROM incident_services WHERE service_id = NEW.id {QUEUE_UPSERT};
            RETURN NULL;
        END $$
        """
    )
    for name, table, events, function in PG_QUEUE_TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {name} AFTER {events} ON {table} FOR EACH ROW EXECUTE FUNCTION {function}()"
        )


def _downgrade_postgresql() -> None:
    for name, table, *_ in PG_QUEUE_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
    for function in (*PG_QUEUE_FUNCTIONS, "search_index_touch_service"):
        op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    op.execute("DROP INDEX IF EXISTS ix_timeline_entries_search_tsv")
    op.execute("ALTER TABLE timeline_entries DROP COLUMN IF EXISTS search_tsv")
    op.execute("DROP INDEX IF EXISTS ix_incidents_search_tsv")
    op.execute("ALTER TABLE incidents DROP COLUMN IF EXISTS search_tsv")

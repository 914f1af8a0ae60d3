"""assistant threads, answers and their votes, catch-up marks

The assistant panel remembers which channel each thread is looking at; answers are kept with their votes
(for the retention period) so that feedback measures the agent; each person's last catch-up on an incident
is kept so the next one says only what is new. All three live in the store, so every replica sees them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assistant_threads",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("channel_id", sa.String(40), nullable=False),
        sa.Column("thread_ts", sa.String(40), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("channel_id", "thread_ts", name="uq_assistant_threads_thread"),
    )
    op.create_table(
        "answers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("intent", sa.String(50), nullable=False),
        sa.Column("interpretation", sa.Text(), nullable=False),
        sa.Column("tool_calls", sa.JSON(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
    )
    op.create_index("ix_answers_created_at", "answers", ["created_at"])
    op.create_table(
        "answer_votes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("answer_id", sa.Integer(), sa.ForeignKey("answers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("voter", sa.String(40), nullable=False),
        sa.Column("helpful", sa.Boolean(), nullable=False),
        sa.Column("voted_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("answer_id", "voter", name="uq_answer_votes_voter"),
    )
    op.create_index("ix_answer_votes_answer_id", "answer_votes", ["answer_id"])
    op.create_index("ix_answer_votes_voted_at", "answer_votes", ["voted_at"])
    op.create_table(
        "catchup_marks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column(
            "incident_id", sa.Integer(), sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("user_id", "incident_id", name="uq_catchup_marks_user_incident"),
    )
    op.create_index("ix_catchup_marks_incident_id", "catchup_marks", ["incident_id"])


def downgrade() -> None:
    op.drop_index("ix_catchup_marks_incident_id", table_name="catchup_marks")
    op.drop_table("catchup_marks")
    op.drop_index("ix_answer_votes_voted_at", table_name="answer_votes")
    op.drop_index("ix_answer_votes_answer_id", table_name="answer_votes")
    op.drop_table("answer_votes")
    op.drop_index("ix_answers_created_at", table_name="answers")
    op.drop_table("answers")
    op.drop_table("assistant_threads")

"""Models for feedback resources: the answers given and the votes on them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from agent.incidents.models import Base


class Answer(Base):
    """One answer as it was given: what was asked, how it was read, what the agent did and said.

    Nothing about who asked is kept; the feedback buttons under the answer carry this row's id.
    """

    __tablename__ = "answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    source: Mapped[str] = mapped_column(String(20))
    """Which front door answered: `slack` (a mention, the assistant panel)."""
    question: Mapped[str] = mapped_column(Text)
    intent: Mapped[str] = mapped_column(String(50))
    """How the question was read: the tool the turn ended on, or `direct` when no tool was needed."""
    interpretation: Mapped[str] = mapped_column(Text)
    tool_calls: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    answer: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(String(100))


class Vote(Base):
    """One person's vote on one answer; pressing again changes it (one row per answer and person)."""

    __tablename__ = "answer_votes"
    __table_args__ = (UniqueConstraint("answer_id", "voter", name="uq_answer_votes_voter"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    answer_id: Mapped[int] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"), index=True)
    voter: Mapped[str] = mapped_column(String(40))
    """The Slack user id of who pressed: the only thing kept about a person."""
    helpful: Mapped[bool]
    voted_at: Mapped[datetime] = mapped_column(index=True)


class AnswerCreate(BaseModel):
    """An answer to keep, as a front door hands it over."""

    source: str = Field(description="Front door: `slack`.")
    question: str = Field(description="What was asked, as plain text.")
    intent: str = Field(description="The tool the turn ended on, or `direct`.")
    interpretation: str = Field(description="The `Read as: …` line shown under the answer.")
    tool_calls: list[dict[str, Any]] = Field(default_factory=list, description="`{name, args}` in order.")
    answer: str = Field(description="The answer's text.")
    model: str = Field(description="The model that answered, e.g. `offline` or `openai:gpt-4o-mini`.")


class Acceptance(BaseModel):
    """Votes on answers in one group: how many were helpful out of how many."""

    group: str
    up: int
    down: int

    @property
    def rate(self) -> float | None:
        """Returns the share of helpful votes (None when nobody voted)."""
        total = self.up + self.down
        return self.up / total if total else None


class DownvotedAnswer(BaseModel):
    """An answer voted down, as the report lists it and `--export` writes it."""

    answer_id: int
    voted_at: datetime
    question: str
    intent: str
    interpretation: str
    tool_calls: list[dict[str, Any]]
    answer: str
    model: str
    down: int
    up: int


class FeedbackReport(BaseModel):
    """Acceptance overall, per intent and per ISO week, and the answers voted down, newest first."""

    overall: Acceptance
    by_intent: list[Acceptance]
    by_week: list[Acceptance]
    downvoted: list[DownvotedAnswer]

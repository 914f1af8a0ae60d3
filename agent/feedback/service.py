"""Keeping answers, recording votes, forgetting both after the retention period, and reporting on them."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from agent.db import upsert
from agent.feedback.models import Acceptance, Answer, AnswerCreate, DownvotedAnswer, FeedbackReport, Vote

DEFAULT_RETENTION_DAYS = 90


def record_answer(*, db_session: Session, answer_in: AnswerCreate, now: datetime) -> Answer:
    """Returns the stored answer; the feedback buttons under it carry its id."""
    answer = Answer(created_at=now, **answer_in.model_dump())
    db_session.add(answer)
    db_session.commit()
    return answer


def get(*, db_session: Session, answer_id: int) -> Answer | None:
    """Returns an answer by id, None when unknown or already forgotten."""
    return db_session.get(Answer, answer_id)


def vote(*, db_session: Session, answer_id: int, voter: str, helpful: bool, now: datetime) -> bool:
    """Records (or changes) one person's vote; returns False when the answer is no longer kept.

    One statement upserts on (answer, voter), so two presses at once on two replicas leave one row.
    """
    if db_session.get(Answer, answer_id) is None:
        return False
    values = {"answer_id": answer_id, "voter": voter, "helpful": helpful, "voted_at": now}
    upsert(
        db_session,
        Vote,
        values=values,
        keys=["answer_id", "voter"],
        update={"helpful": helpful, "voted_at": now},
    )
    db_session.commit()
    return True


def purge(*, db_session: Session, now: datetime, retention_days: int = DEFAULT_RETENTION_DAYS) -> int:
    """Deletes answers (and their votes) older than the retention period; returns how many went."""
    cutoff = now - timedelta(days=retention_days)
    old = select(Answer.id).where(Answer.created_at < cutoff)
    db_session.execute(delete(Vote).where(Vote.answer_id.in_(old)))
    result = db_session.execute(delete(Answer).where(Answer.created_at < cutoff))
    db_session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def report(*, db_session: Session, limit: int = 50) -> FeedbackReport:
    """Returns acceptance overall, per intent and per ISO week (of the vote), and the answers voted down."""
    rows = db_session.execute(select(Vote, Answer).join(Answer, Vote.answer_id == Answer.id)).all()
    overall = [0, 0]
    by_intent: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_week: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    per_answer: dict[int, tuple[Answer, list[int], datetime | None]] = {}
    for vote_row, answer in rows:
        slot = 0 if vote_row.helpful else 1
        year, week, _ = vote_row.voted_at.isocalendar()
        for counts in (overall, by_intent[answer.intent], by_week[f"{year}-W{week:02d}"]):
            counts[slot] += 1
        _, counts, latest = per_answer.get(answer.id, (answer, [0, 0], None))
        counts[slot] += 1
        if not vote_row.helpful:
            # Listed by its latest down vote: what people disliked most recently comes first.
            latest = vote_row.voted_at if latest is None else max(latest, vote_row.voted_at)
        per_answer[answer.id] = (answer, counts, latest)
    downvoted = [
        DownvotedAnswer(
            answer_id=answer.id,
            voted_at=latest,
            question=answer.question,
            intent=answer.intent,
            interpretation=answer.interpretation,
            tool_calls=answer.tool_calls,
            answer=answer.answer,
            model=answer.model,
            up=counts[0],
            down=counts[1],
        )
        for answer, counts, latest in per_answer.values()
        if latest is not None
    ]
    downvoted.sort(key=lambda item: (item.voted_at, item.answer_id), reverse=True)
    return FeedbackReport(
        overall=Acceptance(group="overall", up=overall[0], down=overall[1]),
        by_intent=[Acceptance(group=k, up=v[0], down=v[1]) for k, v in sorted(by_intent.items())],
        by_week=[Acceptance(group=k, up=v[0], down=v[1]) for k, v in sorted(by_week.items())],
        downvoted=downvoted[:limit],
    )

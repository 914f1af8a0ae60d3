"""Tests of the Slack workspace export importer, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from agent.db import session_scope
from agent.importers.jsonl import import_jsonl
from agent.importers.slack_export import import_slack_export
from agent.incidents import audit as incident_audit
from agent.incidents import service
from agent.incidents import timeline as incident_timeline
from agent.incidents.enums import EntrySource, Severity, TimelineKind
from agent.incidents.exceptions import InvalidInput
from agent.incidents.models import AuditRecord, TimelineEntry

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

USERS = [
    {
        "id": "U01PRIYA",
        "name": "priya",
        "real_name": "Priya Raman",
        "profile": {"real_name": "Priya Raman", "display_name": "priya"},
    },
    {
        "id": "U02MARCUS",
        "name": "marcus",
        "real_name": "Marcus Chen",
        "profile": {"real_name": "Marcus Chen", "display_name": "mchen"},
    },
    {"id": "U03CHLOE", "name": "chloe", "profile": {"real_name": "", "display_name": "Chloe D"}},
]


def _ts(minutes: float) -> str:
    moment = START + timedelta(minutes=minutes)
    return f"{int(moment.timestamp())}.{moment.microsecond:06d}"


def _message(minutes: float, user: str, text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "message", "user": user, "text": text, "ts": _ts(minutes), "team": "T01", **extra}


def write_export(root: Path, channels: dict[tuple[str, str], list[dict[str, Any]]]) -> Path:
    """Writes a Slack workspace export as Slack lays it out: listings plus one file per channel per day."""
    root.mkdir(parents=True, exist_ok=True)
    listing = [
        {
            "id": channel_id,
            "name": name,
            "created": int(START.timestamp()) - 3600,
            "creator": "U01PRIYA",
            "is_archived": False,
            "is_general": name == "general",
            "members": [u["id"] for u in USERS],
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
        }
        for channel_id, name in channels
    ]
    (root / "channels.json").write_text(json.dumps(listing), encoding="utf-8")
    (root / "users.json").write_text(json.dumps(USERS), encoding="utf-8")
    (root / "integration_logs.json").write_text("[]", encoding="utf-8")
    for (_channel_id, name), messages in channels.items():
        days: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for message in messages:
            day = datetime.fromtimestamp(float(message["ts"]), UTC).date().isoformat()
            days[day].append(message)
        (root / name).mkdir()
        for day, day_messages in days.items():
            (root / name / f"{day}.json").write_text(json.dumps(day_messages, indent=4), encoding="utf-8")
    return root


def checkout_channel() -> list[dict[str, Any]]:
    return [
        _message(0, "U01PRIYA", "", subtype="channel_join"),
        _message(1, "U01PRIYA", "Declaring: checkout returns 502 for everyone"),
        _message(
            2,
            "U02MARCUS",
            "Looking at payments-api, <@U01PRIYA> can you page the DB on-call?",
            edited={"user": "U02MARCUS", "ts": _ts(3)},
        ),
        {
            "type": "message",
            "subtype": "bot_message",
            "bot_id": "B01PAGER",
            "username": "PagerDuty",
            "text": "Triggered: checkout 5xx > 5%",
            "ts": _ts(2.5),
        },
        _message(4, "U03CHLOE", "Support has 40 tickets about failed payments", pinned_to=["C0001"]),
        # A thread reply, and a message after midnight that lands in the next day's file.
        _message(5, "U01PRIYA", "Rolling back d-42 now", thread_ts=_ts(2), parent_user_id="U02MARCUS"),
        _message(60 * 15 + 30, "U02MARCUS", "Error rate back to baseline overnight"),
        _message(60 * 15 + 31, "U02MARCUS", "", subtype="channel_leave"),
    ]


@pytest.fixture
def incidents(engine: Engine, now: datetime) -> dict[str, int]:
    """Declares incidents linked to channels by id, by name only, and by neither (number in the name)."""
    with session_scope(engine) as db_session:
        by_id = service.declare(
            db_session=db_session,
            title="Checkout 502s",
            severity=Severity.sev1,
            now=START,
            actor="Priya Raman",
            source=EntrySource.slack,
            slack_channel_id="C0001",
            slack_channel_name="incident-1-checkout-502s",
        ).id
        by_name = service.declare(
            db_session=db_session,
            title="Search slow",
            severity=Severity.sev3,
            now=START,
            actor="Marcus Chen",
            source=EntrySource.cli,
            slack_channel_name="incident-2-search-slow",
        ).id
        by_number = service.declare(
            db_session=db_session,
            title="Emails delayed",
            severity=Severity.sev4,
            now=START,
            actor="Marcus Chen",
            source=EntrySource.cli,
        ).id
    return {"by_id": by_id, "by_name": by_name, "by_number": by_number}


def _messages(engine: Engine, incident_id: int) -> list[TimelineEntry]:
    with session_scope(engine) as db_session:
        return [
            e
            for e in incident_timeline.get_timeline(db_session=db_session, incident_id=incident_id)
            if e.source == EntrySource.slack and e.kind == TimelineKind.message
        ]


def _row_counts(engine: Engine) -> tuple[int, int]:
    with session_scope(engine) as db_session:
        entries = db_session.scalar(select(func.count()).select_from(TimelineEntry)) or 0
        audits = db_session.scalar(select(func.count()).select_from(AuditRecord)) or 0
    return entries, audits


def test_export_fills_linked_timelines_and_skips_bots_and_notices(
    engine: Engine, now: datetime, tmp_path: Path, incidents: dict[str, int]
) -> None:
    export = write_export(
        tmp_path / "export",
        {
            ("C0001", "incident-1-checkout-502s"): checkout_channel(),
            ("C0002", "incident-2-search-slow"): [_message(10, "U02MARCUS", "Search p99 is 4s")],
            ("C0003", "incident-3-emails-delayed"): [
                _message(20, "U03CHLOE", "Order emails are 30 min late")
            ],
            ("C0999", "incident-999-unrelated"): [_message(30, "U01PRIYA", "Nobody declared this one")],
            ("C0100", "general"): [_message(40, "U01PRIYA", "Lunch?")],
        },
    )

    report = import_slack_export(engine=engine, export_dir=export, now=now)

    assert report.linked == {
        "incident-1-checkout-502s": incidents["by_id"],
        "incident-2-search-slow": incidents["by_name"],
        "incident-3-emails-delayed": incidents["by_number"],
    }
    assert report.unmatched == ["incident-999-unrelated"]
    assert (report.added, report.already_present, report.skipped) == (7, 0, 3)

    checkout = _messages(engine, incidents["by_id"])
    assert [(e.author, e.text) for e in checkout] == [
        ("Priya Raman", "Declaring: checkout returns 502 for everyone"),
        ("Marcus Chen", "Looking at payments-api, @Priya Raman can you page the DB on-call?"),
        ("Chloe D", "Support has 40 tickets about failed payments"),
        ("Priya Raman", "Rolling back d-42 now"),
        ("Marcus Chen", "Error rate back to baseline overnight"),
    ]
    assert all(e.slack_channel_id == "C0001" and e.kind == "message" for e in checkout)
    assert checkout[0].at == START + timedelta(minutes=1)
    assert checkout[0].slack_ts == _ts(1)
    assert checkout[1].edited_at == START + timedelta(minutes=3)
    assert [e.pinned for e in checkout] == [False, False, True, False, False]
    with session_scope(engine) as db_session:
        # The incident linked by the number in its channel name now knows its channel.
        linked = service.get_or_raise(db_session=db_session, incident_id=incidents["by_number"])
        assert (linked.slack_channel_id, linked.slack_channel_name) == ("C0003", "incident-3-emails-delayed")
        (audit,) = [a for a in incident_audit.audit_log(db_session=db_session) if a.action == "import_slack"]
        assert audit.after is not None and audit.after["messages_added"] == 7


def test_importing_the_same_export_twice_adds_nothing(
    engine: Engine, now: datetime, tmp_path: Path, incidents: dict[str, int]
) -> None:
    export = write_export(tmp_path / "export", {("C0001", "incident-1-checkout-502s"): checkout_channel()})
    import_slack_export(engine=engine, export_dir=export, now=now)
    before = _row_counts(engine)

    again = import_slack_export(engine=engine, export_dir=export, now=now)

    assert (again.added, again.already_present, again.incident_ids) == (0, 5, [])
    assert _row_counts(engine) == before


def test_messages_already_imported_from_jsonl_are_not_doubled(
    engine: Engine, now: datetime, tmp_path: Path
) -> None:
    record = {
        "id": 1,
        "title": "Checkout 502s",
        "severity": "SEV-1",
        "status": "active",
        "declared_at": START.isoformat(),
        "channel": "incident-1-checkout-502s",
        "channel_id": "C0001",
        "timeline": [{"at": START.isoformat(), "author": "Priya Raman", "text": "Declaring", "ts": _ts(1)}],
    }
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    import_jsonl(engine=engine, path=path, now=now, actor="alice")
    export = write_export(tmp_path / "export", {("C0001", "incident-1-checkout-502s"): checkout_channel()})

    report = import_slack_export(engine=engine, export_dir=export, now=now)

    assert (report.added, report.already_present) == (4, 1)
    with session_scope(engine) as db_session:
        timeline = incident_timeline.get_timeline(db_session=db_session, incident_id=1)
    assert len([e for e in timeline if e.slack_ts == _ts(1)]) == 1


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('[{"type": "message", "text": "hi"', "is not valid JSON"),
        ('{"messages": []}', "should be a list of messages"),
        ('[{"type": "message", "user": "U01PRIYA", "text": "no ts"}]', "message 0 has no ts"),
        ('[{"type": "message", "user": "U01PRIYA", "text": "x", "ts": "soon"}]', "malformed ts 'soon'"),
    ],
    ids=["truncated", "not a list", "no ts", "bad ts"],
)
def test_a_malformed_file_is_named_and_nothing_is_written(
    engine: Engine, now: datetime, tmp_path: Path, incidents: dict[str, int], content: str, reason: str
) -> None:
    export = write_export(
        tmp_path / "export",
        {
            ("C0001", "incident-1-checkout-502s"): checkout_channel(),
            ("C0002", "incident-2-search-slow"): [_message(10, "U02MARCUS", "Search p99 is 4s")],
        },
    )
    (export / "incident-2-search-slow" / "2026-11-21.json").write_text(content, encoding="utf-8")
    before = _row_counts(engine)

    with pytest.raises(InvalidInput) as raised:
        import_slack_export(engine=engine, export_dir=export, now=now)

    assert "incident-2-search-slow/2026-11-21.json" in str(raised.value)
    assert reason in str(raised.value)
    assert _row_counts(engine) == before


def test_a_folder_without_channels_json_is_not_an_export(
    engine: Engine, now: datetime, tmp_path: Path
) -> None:
    with pytest.raises(InvalidInput, match="has no channels.json"):
        import_slack_export(engine=engine, export_dir=tmp_path, now=now)

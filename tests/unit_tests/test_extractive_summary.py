"""Tests for the offline extractive summary and the extracted postmortem sections."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from agent.postmortems.extract import (
    DRAFT_BANNER,
    EXTRACTED_MARKER,
    draft_offline_postmortem,
    extract_ai_sections,
    fixed_variables,
)
from agent.postmortems.templates import AI_FIELDS, load_builtin_template
from agent.serialize import format_duration
from agent.summaries.extract import (
    MAX_POINTS_PER_SECTION,
    SUMMARY_SECTIONS,
    EntryView,
    IncidentView,
    NotEnoughTimeline,
    Summary,
    extractive_summary,
)
from agent.summaries.render import render_summary_markdown, render_summary_slack_mrkdwn

T0 = datetime(2024, 6, 1, 14, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=1, minutes=5)
SECTION_NAMES = {field.removeprefix("ai_") for field in AI_FIELDS}


def _incident(**overrides: object) -> IncidentView:
    values: dict[str, object] = {
        "public_id": "INC-42",
        "title": "Checkout errors in EU",
        "severity": "SEV-2",
        "status": "mitigated",
        "declared_at": T0,
        "commander": "alice",
        "services": ("payments-api",),
    }
    values.update(overrides)
    return IncidentView(**values)  # type: ignore[arg-type]


# (minute, author, kind, text); ids are 100 + index, permalinks on odd ids.
_SCRIPT: list[tuple[int, str, str, str]] = [
    (0, "alice", "message", "Checkout is failing for EU customers, error rate at 12%"),
    (2, "bob", "message", "Is this related to the payments-api deploy at 13:50?"),
    (4, "alice", "status_change", "Status changed from investigating to identified"),
    (6, "carol", "message", "Looks like the new connection pool config in payments-api"),
    (8, "bob", "message", "Rolled back payments-api to v1.2.3"),
    (10, "alice", "severity_change", "Severity changed from SEV-3 to SEV-2"),
    (12, "dave", "message", "Are mobile apps seeing this as well?"),
    (14, "carol", "message", "Error rate dropping, 2% now"),
    (16, "alice", "message", "Going to roll back the workers next"),
    (18, "erin", "message", "SECRET deleted message about the database being the root cause"),
    (20, "bob", "message", "We should have had a canary for config changes, lesson for next time"),
    (22, "carol", "message", "Action item: add an alert on pool exhaustion"),
    (24, "alice", "message", "Will follow up with the vendor tomorrow"),
    (26, "bob", "message", "Where is the runbook for pool tuning?"),
    (28, "frank", "message", "Restarted the payments-api workers"),
    (30, "bob", "message", "all green now"),
]


def _timeline() -> list[EntryView]:
    return [
        EntryView(
            id=100 + index,
            at=T0 + timedelta(minutes=minute),
            author=author,
            kind=kind,
            text=text,
            permalink=f"https://example.slack.com/archives/C1/p{100 + index}" if index % 2 else None,
            deleted=text.startswith("SECRET"),
        )
        for index, (minute, author, kind, text) in enumerate(_SCRIPT)
    ]


def _summary(**kwargs: object) -> Summary:
    result = extractive_summary(_incident(**kwargs), _timeline(), now=NOW)
    assert isinstance(result, Summary), result
    return result


def _all_points(summary: Summary) -> list:
    return [point for field, _ in SUMMARY_SECTIONS for point in getattr(summary, field)]


def _big_timeline(count: int) -> list[EntryView]:
    """A long, noisy timeline cycling through every kind of message the rules look for."""
    texts = [
        "Customers report checkout failing, 5xx at 30%",
        "Restarted the api pods",
        "Is the cache healthy?",
        "Looks like a bad config push",
        "Will scale the database next",
        "Action item: add alerting for pool usage",
        "We should have caught this in staging",
        "ok",
    ]
    entries = []
    for index in range(count):
        kind = "message"
        if index % 50 == 0:
            kind = "status_change"
        elif index % 75 == 0:
            kind = "severity_change"
        entries.append(
            EntryView(
                id=index + 1,
                at=T0 + timedelta(seconds=30 * index),
                author=f"user{index % 23}",
                kind=kind,
                text=f"{texts[index % len(texts)]} (update {index})",
                permalink=f"https://example.slack.com/p{index}",
                deleted=index % 97 == 0,
            )
        )
    return entries


# --- threshold ---------------------------------------------------------------------------------


def test_below_threshold_returns_not_enough_timeline() -> None:
    result = extractive_summary(_incident(), _timeline(), now=NOW, min_messages=50)
    assert isinstance(result, NotEnoughTimeline)
    # 16 entries: 2 are status/severity changes and 1 is deleted, so 13 messages count.
    assert result.message_count == 13
    assert result.min_messages == 50
    assert "13 messages" in result.reason and "at least 50" in result.reason


def test_threshold_counts_only_live_messages() -> None:
    entries = [
        EntryView(id=1, at=T0, author="a", kind="message", text="one"),
        EntryView(id=2, at=T0, author="a", kind="message", text="two", deleted=True),
        EntryView(id=3, at=T0, author="a", kind="note", text="a note"),
        EntryView(id=4, at=T0, author="a", kind="status_change", text="resolved"),
    ]
    result = extractive_summary(_incident(), entries, now=NOW, min_messages=2)
    assert isinstance(result, NotEnoughTimeline)
    assert result.message_count == 1
    assert "only 1 message " in result.reason
    assert isinstance(extractive_summary(_incident(), entries, now=NOW, min_messages=1), Summary)


def test_empty_timeline() -> None:
    result = extractive_summary(_incident(), [], now=NOW)
    assert isinstance(result, NotEnoughTimeline)
    assert result.message_count == 0


def test_at_threshold_summarises() -> None:
    result = extractive_summary(_incident(), _timeline(), now=NOW, min_messages=13)
    assert isinstance(result, Summary)
    assert result.message_count == 13
    assert result.method == "extractive"
    assert result.generated_at == NOW


# --- citations and deleted entries -------------------------------------------------------------


def test_citations_point_at_real_live_entries() -> None:
    live = {entry.id: entry for entry in _timeline() if not entry.deleted}
    summary = _summary()
    citations = [citation for point in _all_points(summary) for citation in point.citations]
    assert citations
    for citation in citations:
        entry = live[citation.entry_id]
        assert (citation.at, citation.author, citation.permalink) == (entry.at, entry.author, entry.permalink)


def test_points_from_entries_quote_the_cited_entry() -> None:
    live = {entry.id: entry for entry in _timeline() if not entry.deleted}
    for field in ("tried", "next_steps", "impact"):
        for point in getattr(_summary(), field):
            if point.citations:
                assert live[point.citations[0].entry_id].text in point.text


def test_deleted_entries_are_excluded_everywhere() -> None:
    summary = _summary()
    deleted_id = next(entry.id for entry in _timeline() if entry.deleted)
    assert all(c.entry_id != deleted_id for p in _all_points(summary) for c in p.citations)
    assert "SECRET" not in render_summary_markdown(summary)
    assert "erin" not in render_summary_markdown(summary)  # only wrote the deleted entry
    sections = extract_ai_sections(_incident(), _timeline())
    for section in sections.values():
        assert "SECRET" not in section.text
        assert all(c.entry_id != deleted_id for c in section.citations)
    assert "SECRET" not in fixed_variables(_incident(), _timeline())["timeline"]


# --- sections ----------------------------------------------------------------------------------


def test_status_comes_from_the_record_and_cites_latest_changes() -> None:
    first = _summary().status[0]
    assert "Status: mitigated" in first.text and "Severity: SEV-2" in first.text
    assert "Open for 1h 5m" in first.text
    assert [c.entry_id for c in first.citations] == [102, 105]
    resolved = _summary(status="resolved", resolved_at=T0 + timedelta(minutes=45)).status[0]
    assert "after 45m" in resolved.text


def test_who_lists_commander_first() -> None:
    who = _summary(commander="dave").who
    assert who[0].text.startswith("dave: incident commander")
    assert len(who) <= MAX_POINTS_PER_SECTION
    # Most entries next; alice and bob tie on 5 and alice posted first.
    assert [point.text for point in who[1:3]] == ["alice: 5 timeline entries", "bob: 5 timeline entries"]
    assert len(who) == 5  # dave + the four other live authors (erin only wrote a deleted entry)
    crowded = _summary(commander="zoe").who
    assert crowded[0].text == "zoe: incident commander, 0 timeline entries"
    assert crowded[0].citations == []
    assert len(crowded) == MAX_POINTS_PER_SECTION
    assert crowded[-1].text == "Also involved: dave, frank"


def test_impact_starts_with_declared_impact() -> None:
    impact = _summary(customer_impact="EU checkout down for 20 minutes").impact
    assert impact[0].text.startswith("Declared impact: EU checkout down")
    assert impact[0].citations == []
    texts = [point.text for point in impact]
    assert any("error rate at 12%" in text for text in texts)
    # Service names like "payments-api" are not impact words.
    assert not any("Rolled back payments-api" in text for text in texts)


def test_tried_and_next_steps_split_on_tense() -> None:
    summary = _summary()
    tried = " ".join(point.text for point in summary.tried)
    next_steps = " ".join(point.text for point in summary.next_steps)
    assert "Rolled back payments-api" in tried
    assert "Restarted the payments-api workers" in tried
    assert "Going to roll back the workers" not in tried
    assert "Going to roll back the workers" in next_steps
    assert "Will follow up with the vendor" in next_steps


def test_unknowns_lists_unanswered_questions_only() -> None:
    texts = [point.text for point in _summary().unknowns]
    assert "Open question: Where is the runbook for pool tuning?" in texts
    assert "Open question: Are mobile apps seeing this as well?" in texts
    # carol's "Looks like ... payments-api" shares only one content word with bob's deploy
    # question, which is not enough to count as an answer.
    assert any("payments-api deploy" in text for text in texts)
    # Naming the asker counts as an answer, so the question leaves the unknowns.
    entries = [
        *_timeline(),
        EntryView(
            id=500, at=T0 + timedelta(minutes=40), author="carol", kind="message", text="@dave mobile is fine"
        ),
    ]
    result = extractive_summary(_incident(), entries, now=NOW)
    assert isinstance(result, Summary)
    assert not any("mobile apps" in point.text for point in result.unknowns)


def test_no_root_cause_is_invented() -> None:
    summary = _summary(root_cause=None)
    assert summary.unknowns[0].text.startswith("Root cause not known")
    assert not any("root cause:" in point.text.lower() for point in _all_points(summary))
    section = extract_ai_sections(_incident(root_cause=None), _timeline())["root_cause"]
    body = section.text.removeprefix(EXTRACTED_MARKER).strip()
    assert body.startswith("_Not known: no root cause has been recorded")
    assert "unconfirmed, not a root cause" in body
    summary_section = extract_ai_sections(_incident(root_cause="  "), _timeline())["summary"]
    assert "Root cause: not known" in summary_section.text


def test_stored_root_cause_is_used() -> None:
    summary = _summary(root_cause="Connection pool limit set to 5 by a config push")
    assert not any(point.text.startswith("Root cause not known") for point in summary.unknowns)
    section = extract_ai_sections(_incident(root_cause="Pool limit set to 5"), _timeline())["root_cause"]
    assert "Pool limit set to 5 (incident record)" in section.text


def test_sections_are_bounded_on_long_timelines() -> None:
    result = extractive_summary(_incident(), _big_timeline(500), now=NOW)
    assert isinstance(result, Summary)
    for field, _ in SUMMARY_SECTIONS:
        assert 0 < len(getattr(result, field)) <= MAX_POINTS_PER_SECTION, field
    # Most recent first-class material is kept.
    assert any("(update 49" in point.text for point in result.tried)


def test_naive_datetimes_are_treated_as_utc() -> None:
    naive = [
        EntryView(id=e.id, at=e.at.replace(tzinfo=None), author=e.author, kind=e.kind, text=e.text)
        for e in _timeline()
    ]
    result = extractive_summary(_incident(declared_at=T0.replace(tzinfo=None)), naive, now=NOW)
    assert isinstance(result, Summary)
    assert "Open for 1h 5m" in result.status[0].text


# --- rendering ---------------------------------------------------------------------------------


def test_render_markdown() -> None:
    text = render_summary_markdown(_summary())
    for _, heading in SUMMARY_SECTIONS:
        assert f"### {heading}" in text
    assert "[14:00 alice]" in text
    assert "[14:08 bob]" in text  # id 104, no permalink
    assert "[14:06 carol](https://example.slack.com/archives/C1/p103)" in text


def test_render_slack_mrkdwn() -> None:
    entries = [
        *_timeline(),
        EntryView(
            id=600,
            at=T0 + timedelta(minutes=50),
            author="<@U123>",
            kind="message",
            text="Restarted proxy & cache for <@U999>, latency < 200ms now",
        ),
    ]
    result = extractive_summary(_incident(), entries, now=NOW)
    assert isinstance(result, Summary)
    text = render_summary_slack_mrkdwn(result)
    assert text.startswith("*Catch-up: INC-42: Checkout errors in EU*")
    assert "\n*What is happening*\n" in text
    assert "• First report: Checkout is failing for EU customers, error rate at 12% [14:00 alice]" in text
    assert "<https://example.slack.com/archives/C1/p103|14:06 carol>" in text
    assert "proxy &amp; cache for <@U999>, latency &lt; 200ms" in text
    assert "**" not in text  # Slack bold is a single asterisk


def test_citations_show_dates_when_the_timeline_spans_days() -> None:
    entries = [
        EntryView(
            id=i, at=T0 + timedelta(hours=6 * i), author="alice", kind="message", text=f"Restarted node {i}"
        )
        for i in range(1, 12)
    ]
    result = extractive_summary(_incident(), entries, now=NOW + timedelta(days=3))
    assert isinstance(result, Summary)
    assert re.search(r"\[\d\d-\d\d \d\d:\d\d alice\]", render_summary_markdown(result))


def test_empty_sections_render_not_known() -> None:
    entries = [
        EntryView(id=i, at=T0 + timedelta(minutes=i), author="alice", kind="message", text="ok")
        for i in range(10)
    ]
    result = extractive_summary(_incident(), entries, now=NOW)
    assert isinstance(result, Summary)
    assert result.tried == []
    assert "### What has been tried\n\n- _Not known._" in render_summary_markdown(result)
    assert "*What has been tried*\n• _Not known._" in render_summary_slack_mrkdwn(result)


# --- postmortem sections -----------------------------------------------------------------------


def test_ai_sections_have_every_key_marker_and_real_citations() -> None:
    live = {entry.id: entry for entry in _timeline() if not entry.deleted}
    sections = extract_ai_sections(_incident(), _timeline())
    assert set(sections) == SECTION_NAMES
    for name, section in sections.items():
        assert section.text.splitlines()[0] == EXTRACTED_MARKER, name
        cited_in_text = {int(match) for match in re.findall(r"\[#(\d+) \d\d:\d\d \w+\]", section.text)}
        assert cited_in_text == {c.entry_id for c in section.citations}, name
        assert cited_in_text <= set(live), name


def test_ai_citation_format() -> None:
    sections = extract_ai_sections(_incident(), _timeline())
    assert "[#104 14:08 bob]" in sections["key_timeline"].text
    assert "[#103 14:06 carol](https://example.slack.com/archives/C1/p103)" in sections["key_timeline"].text


def test_ai_key_timeline_is_chronological_and_skips_plans() -> None:
    incident = _incident(stable_at=T0 + timedelta(minutes=29))
    text = extract_ai_sections(incident, _timeline())["key_timeline"].text
    times = re.findall(r"^- \*\*(\d\d:\d\d)\*\*", text, flags=re.MULTILINE)
    assert times == sorted(times)
    assert times[0] == "14:00" and "Incident declared" in text and "Marked stable" in text
    assert "Status changed from investigating to identified" in text
    assert "Going to roll back" not in text


def test_ai_lessons_only_when_recorded() -> None:
    sections = extract_ai_sections(_incident(), _timeline())
    assert "canary for config changes" in sections["lessons_learned"].text
    quiet = [entry for entry in _timeline() if "lesson" not in entry.text]
    text = extract_ai_sections(_incident(), quiet)["lessons_learned"].text
    assert text == f"{EXTRACTED_MARKER}\n\n_Not known: no lessons were recorded in the timeline._"


def test_ai_action_items_and_overview() -> None:
    sections = extract_ai_sections(_incident(remediation="Rolled back the config"), _timeline())
    items = sections["action_items"].text
    assert "Remediation recorded on the incident: Rolled back the config" in items
    assert "- [ ] “Action item: add an alert on pool exhaustion”" in items
    overview = sections["system_overview"].text
    assert "`payments-api`" in overview
    no_services = extract_ai_sections(_incident(services=()), _timeline())["system_overview"].text
    assert "_Not known: no services were recorded" in no_services


def test_ai_customer_impact_not_known_without_evidence() -> None:
    entries = [EntryView(id=1, at=T0, author="alice", kind="message", text="looking")]
    text = extract_ai_sections(_incident(), entries)["customer_impact"].text
    assert "_Not known: no customer impact was recorded._" in text


def test_draft_banner_says_ai_draft_needs_review() -> None:
    assert "AI-generated first draft" in DRAFT_BANNER
    assert "human review" in DRAFT_BANNER


def test_draft_offline_postmortem_with_builtin_templates() -> None:
    incident = _incident(status="resolved", resolved_at=T0 + timedelta(minutes=40))
    drafted = draft_offline_postmortem(load_builtin_template("ai"), incident, iter(_timeline()))
    assert drafted.startswith(DRAFT_BANNER)
    assert "{{" not in drafted
    assert "# Postmortem: Checkout errors in EU" in drafted
    assert "- **Duration:** 40m" in drafted
    assert drafted.count(EXTRACTED_MARKER) == len(AI_FIELDS)
    plain = draft_offline_postmortem(load_builtin_template("plain"), incident, _timeline())
    assert not plain.startswith(DRAFT_BANNER)
    assert "- **[14:30](https://example.slack.com/archives/C1/p115)** bob: all green now" in plain
    assert "SECRET" not in plain


def test_fixed_variables() -> None:
    values = fixed_variables(_incident(), _timeline(), now=NOW)
    assert values["declared_at"] == "2024-06-01 14:00 UTC"
    assert values["duration"] == "ongoing (1h 5m so far)"
    assert "resolved_at" not in values and "root_cause" not in values
    assert values["services"] == "payments-api"
    assert (
        "- **[14:02](https://example.slack.com/archives/C1/p101)** bob: Is this related" in values["timeline"]
    )


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(seconds=30), "<1m"),
        (timedelta(minutes=45), "45m"),
        (timedelta(hours=2), "2h"),
        (timedelta(hours=2, minutes=10), "2h 10m"),
        (timedelta(days=3, hours=4, minutes=5), "3d 4h"),
        (timedelta(days=1), "1d"),
        (timedelta(minutes=-5), "<1m"),
    ],
)
def test_format_duration(delta: timedelta, expected: str) -> None:
    assert format_duration(delta) == expected

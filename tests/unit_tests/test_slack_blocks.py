"""Block Kit builders: incident lists, answers, confirmations, catch-ups, and the catch-up cache."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest

from agent.slack.blocks import (
    CANCEL_ACTION,
    CONFIRM_ACTION,
    MAX_LISTED,
    MAX_SECTION_CHARS,
    answer_blocks,
    catchup_blocks,
    confirmation_blocks,
    incident_line,
    incident_list_blocks,
    parse_button_value,
    split_incident_list,
)
from agent.slack.catchup import CatchupCache

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def brief(number: int, **overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "id": f"incident-{number}",
        "title": f"Checkout errors <EU> #{number}",
        "severity": "SEV-1",
        "status": "active",
        "services": ["checkout", "payments"],
        "declared_at": "2026-11-27T09:00:00Z",
        "resolved_at": None,
    }
    return values | overrides


def test_incident_line_shows_severity_status_services_and_age_with_a_linked_id() -> None:
    line = incident_line(brief(12), now=NOW, url="https://acme.slack.com/archives/C12")
    assert line.startswith(":red_circle: *<https://acme.slack.com/archives/C12|incident-12>*")
    assert "Checkout errors &lt;EU&gt; #12" in line
    assert "SEV-1 · active · checkout, payments · declared 3h ago" in line


def test_incident_line_of_a_resolved_incident_gives_time_since_resolution() -> None:
    line = incident_line(
        brief(3, status="resolved", severity="SEV-4", services=[], resolved_at="2026-11-25T12:00:00Z"),
        now=NOW,
    )
    assert line.startswith(":large_blue_circle: *incident-3*")
    assert "SEV-4 · resolved · no services recorded · resolved 2d ago" in line


def test_incident_list_is_capped_with_a_count_of_the_rest() -> None:
    blocks = incident_list_blocks([brief(n) for n in range(1, MAX_LISTED + 4)], now=NOW)
    assert len(blocks) == MAX_LISTED + 1
    assert blocks[-1]["type"] == "context"
    assert blocks[-1]["elements"][0]["text"] == "…and 3 more."


def test_an_answer_listing_incidents_shows_them_as_sections_after_its_text() -> None:
    answer = (
        "There are 2 ongoing incidents (2 active).\n"
        "- incident-1 (SEV-1, active) Checkout errors — checkout, declared 2026-11-27 09:00 UTC\n"
        "- **incident-2** (SEV-1, active) Payments slow (matched: similar in meaning (0.54); same service: payments)\n"
        "Ask about one of them for details."
    )
    blocks = answer_blocks(
        answer, incidents=[brief(2), brief(1)], now=NOW, url_for={"incident-2": "https://x/C2"}.get
    )
    assert blocks[0] == {
        "type": "markdown",
        "text": "There are 2 ongoing incidents (2 active).\nAsk about one of them for details.",
    }
    first, second = (b["text"]["text"] for b in blocks[1:])
    assert first.startswith(":red_circle: *incident-1* Checkout errors")
    assert second.startswith(":red_circle: *<https://x/C2|incident-2>*")
    assert second.endswith("_similar in meaning (0.54); same service: payments_")


def test_an_answer_without_a_list_is_shown_as_it_is() -> None:
    answer = "The root cause of incident-1: a bad deploy.\n- rolled back at 10:02"
    assert answer_blocks(answer, incidents=[brief(1)], now=NOW) == [{"type": "markdown", "text": answer}]
    assert answer_blocks("No incidents.", now=NOW) == [{"type": "markdown", "text": "No incidents."}]


def test_split_incident_list_ignores_unknown_incidents() -> None:
    text, listed = split_incident_list("1. incident-7 gone\n2. incident-8 here", {"incident-8"})
    assert (text, listed) == ("1. incident-7 gone", [("incident-8", [])])


def test_confirmation_blocks_show_the_change_and_carry_the_thread_in_both_buttons() -> None:
    pending = {
        "action": "update_severity",
        "incident": "incident-12",
        "summary": "Change the severity of incident-12 from SEV-2 to SEV-1.",
        "changes": {"severity": ["SEV-2", "SEV-1"]},
        "requested_by": "Priya Raman",
    }
    blocks = confirmation_blocks(
        pending, thread_id="slack:C1:1.0:1.0", who_may_confirm="the members of this channel"
    )
    text = blocks[0]["text"]["text"]
    assert text.startswith(":warning: *Confirm: Change the severity of incident-12 from SEV-2 to SEV-1?*")
    assert "• *severity*: SEV-2 → *SEV-1*" in text
    assert "Requested by Priya Raman" in blocks[1]["elements"][0]["text"]
    buttons = blocks[2]["elements"]
    assert [b["action_id"] for b in buttons] == [CONFIRM_ACTION, CANCEL_ACTION]
    assert buttons[0]["style"] == "primary"
    for button in buttons:
        assert parse_button_value(button["value"]) == ("slack:C1:1.0:1.0", "incident-12")


def test_a_declaration_has_no_incident_and_shows_new_values() -> None:
    pending = {
        "action": "declare",
        "incident": None,
        "summary": "Declare an incident",
        "changes": {"title": [None, "Checkout down"], "services": [[], ["checkout"]]},
    }
    blocks = confirmation_blocks(pending, thread_id="t", who_may_confirm="anyone")
    assert "• *title*: — → *Checkout down*" in blocks[0]["text"]["text"]
    assert "• *services*: — → *checkout*" in blocks[0]["text"]["text"]
    assert parse_button_value(blocks[2]["elements"][0]["value"]) == ("t", None)


@pytest.mark.parametrize("value", ["not json", "[1, 2]", json.dumps({"incident": "incident-1"})])
def test_parse_button_value_refuses_anything_else(value: str) -> None:
    with pytest.raises(ValueError):
        parse_button_value(value)


def test_catchup_blocks_split_between_paragraphs_within_slack_limits() -> None:
    paragraphs = [f"*Section {i}*\n" + "x" * 1200 for i in range(5)]
    blocks = catchup_blocks("\n\n".join(paragraphs))
    sections = [b for b in blocks if b["type"] == "section"]
    assert len(sections) == 3
    assert all(len(b["text"]["text"]) <= MAX_SECTION_CHARS for b in sections)
    assert "".join(b["text"]["text"] for b in sections).count("*Section") == 5
    assert blocks[-1]["type"] == "context"


def test_catchup_cache_computes_once_for_simultaneous_joins_and_again_after_the_ttl() -> None:
    clock = [NOW]
    calls: list[tuple[int, datetime]] = []
    release = threading.Event()

    def compute(incident_id: int, moment: datetime) -> str:
        calls.append((incident_id, moment))
        release.wait(5)
        return f"summary of {incident_id} at {moment:%H:%M}"

    cache = CatchupCache(compute=compute, now=lambda: clock[0], ttl=timedelta(minutes=2))
    results: list[str | None] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get(7))) for _ in range(10)]
    for thread in threads:
        thread.start()
    release.set()
    for thread in threads:
        thread.join(5)
    assert results == ["summary of 7 at 12:00"] * 10
    assert calls == [(7, NOW)]

    clock[0] = NOW + timedelta(minutes=1)
    assert cache.get(7) == "summary of 7 at 12:00"
    clock[0] = NOW + timedelta(minutes=2)
    assert cache.get(7) == "summary of 7 at 12:02"
    assert cache.get(8) == "summary of 8 at 12:02"
    assert len(calls) == 3

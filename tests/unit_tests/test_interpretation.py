"""How a question was read, from the tool calls and their results."""

from __future__ import annotations

from agent.interpretation import interpret


def test_a_count_reads_as_its_filters_window_and_total() -> None:
    reading = interpret(
        [{"name": "query_incidents", "args": {"status": ["stable"], "text": "sitting"}}],
        [
            {
                "name": "query_incidents",
                "result": {
                    "total": 2,
                    "filters": {"status": ["stable"], "text": None, "time_frame": None},
                    "relaxed": {"text": "sitting", "matched": 0},
                },
            }
        ],
    )
    assert reading.found == 2 and reading.relaxed == "sitting"
    assert (
        reading.line()
        == 'Read as: query incidents · stable · all time · 2 incidents · "sitting" matched nothing, left out'
    )


def test_a_widened_search_says_which_window_was_empty() -> None:
    reading = interpret(
        [{"name": "related_incidents", "args": {"query": "db failover"}}],
        [
            {
                "name": "related_incidents",
                "result": {
                    "mode": "history",
                    "window": {"label": "all time"},
                    "widened_from": "active in the past 2 hours",
                    "results": [{"id": "incident-30"}],
                },
            }
        ],
    )
    assert reading.line() == (
        "Read as: related incidents · db failover · all time · 1 incident · "
        "nothing active in the past 2 hours, so all history"
    )


def test_no_tool_call_reads_as_a_direct_answer() -> None:
    assert interpret([], []).line() == "Read as: no lookup (answered directly)"

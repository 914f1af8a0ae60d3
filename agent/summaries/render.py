"""Catch-up summaries for people: Markdown (CLI, tools) and Slack mrkdwn, each point with its citations."""

from __future__ import annotations

import re
from datetime import datetime

from agent.summaries.extract import (
    SUMMARY_SECTIONS,
    Citation,
    Point,
    Summary,
    clock_time,
    spans_days,
    utc_stamp,
)


def render_summary_markdown(summary: Summary) -> str:
    """Render a summary as Markdown, with a citation after every point.

    Args:
        summary: The summary to render.

    Returns:
        Markdown text; empty sections say "_Not known._".
    """
    with_date = spans_days(_summary_times(summary))
    how = "Extracted from the timeline (no model)" if summary.method == "extractive" else "Written by a model"
    lines = [
        f"## Catch-up: {summary.incident_public_id}: {summary.incident_title}",
        "",
        f"_{how}, from {summary.message_count} messages; {utc_stamp(summary.generated_at)}. Times are UTC._",
    ]
    for field, heading in SUMMARY_SECTIONS:
        lines += ["", f"### {heading}", ""]
        points: list[Point] = getattr(summary, field)
        if not points:
            lines.append("- _Not known._")
        for point in points:
            cites = " ".join(_markdown_citation(c, with_date) for c in point.citations)
            lines.append(f"- {point.text}" + (f" {cites}" if cites else ""))
    return "\n".join(lines) + "\n"


def render_summary_slack_mrkdwn(summary: Summary) -> str:
    """Render a summary as Slack mrkdwn.

    Citations look like ``[14:03 alice]``, linked as ``[<url|14:03 alice>]`` when the
    entry has a permalink. Text is escaped for Slack, keeping Slack's own
    ``<@U123>`` mentions and ``<url|label>`` links intact.

    Args:
        summary: The summary to render.

    Returns:
        Slack mrkdwn text; empty sections say "_Not known._".
    """
    with_date = spans_days(_summary_times(summary))
    how = "Extracted from the timeline (no model)" if summary.method == "extractive" else "Written by a model"
    lines = [
        f"*Catch-up: {_slack_escape(summary.incident_public_id)}: {_slack_escape(summary.incident_title)}*",
        f"_{how}, from {summary.message_count} messages. Times are UTC._",
    ]
    for field, heading in SUMMARY_SECTIONS:
        lines += ["", f"*{heading}*"]
        points: list[Point] = getattr(summary, field)
        if not points:
            lines.append("• _Not known._")
        for point in points:
            cites = " ".join(_slack_citation(c, with_date) for c in point.citations)
            lines.append(f"• {_slack_escape(point.text)}" + (f" {cites}" if cites else ""))
    return "\n".join(lines)


def _summary_times(summary: Summary) -> list[datetime]:
    return [
        citation.at
        for field, _ in SUMMARY_SECTIONS
        for point in getattr(summary, field)
        for citation in point.citations
    ]


def _markdown_citation(citation: Citation, with_date: bool) -> str:
    label = f"{clock_time(citation.at, with_date)} {citation.author}"
    return f"[{label}]({citation.permalink})" if citation.permalink else f"[{label}]"


_SLACK_TOKEN_RE = re.compile(r"<(?:[@#!][^<>\s]+|https?://[^<>\s]+)>")


def _slack_escape(text: str) -> str:
    """Escape ``&``, ``<`` and ``>`` for Slack, keeping Slack's own ``<...>`` tokens."""
    parts = []
    position = 0
    for token in _SLACK_TOKEN_RE.finditer(text):
        parts.append(_slack_escape_plain(text[position : token.start()]))
        parts.append(token.group())
        position = token.end()
    parts.append(_slack_escape_plain(text[position:]))
    return "".join(parts)


def _slack_escape_plain(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_citation(citation: Citation, with_date: bool) -> str:
    label = _slack_escape(f"{clock_time(citation.at, with_date)} {citation.author}").replace("|", "/")
    return f"[<{citation.permalink}|{label}>]" if citation.permalink else f"[{label}]"

"""User-facing text of the Slack AI-app surfaces: the assistant panel, status lines, feedback, catch-ups."""

from __future__ import annotations

PANEL_GREETING_INCIDENT = (
    "Hi! I see you have *{incident}* open ({title}). Ask me about it, or about any other incident: "
    '"this incident" means {incident} while you are in its channel.'
)
PANEL_GREETING = (
    "Hi! I answer questions about your incidents, find related ones, catch you up and draft postmortems. "
    'Open an incident channel and "this incident" means that channel\'s incident.'
)
PANEL_PROMPTS_TITLE = "Try asking"

PANEL_PROMPTS_INCIDENT: list[dict[str, str]] = [
    {"title": "Summarize this incident", "message": "Give me a summary of this incident"},
    {"title": "Related incidents", "message": "Are there any related incidents?"},
    {"title": "Root cause", "message": "What was the root cause of this incident?"},
    {"title": "Draft the postmortem", "message": "Draft a postmortem for this incident"},
]
PANEL_PROMPTS: list[dict[str, str]] = [
    {"title": "Ongoing incidents", "message": "How many incidents are currently ongoing?"},
    {"title": "Recent SEV-1s", "message": "List the SEV-1 incidents of the past month"},
    {"title": "Related incidents", "message": "Are there any related incidents in the past 2 hours?"},
]

STATUS_THINKING = "is thinking…"
TOOL_STATUS: dict[str, str] = {
    "query_incidents": "Counting incidents…",
    "related_incidents": "Searching past incidents…",
    "get_incident": "Reading the incident…",
    "summarize_timeline": "Reading the timeline…",
    "draft_postmortem": "Drafting the postmortem…",
    "declare": "Preparing the declaration…",
    "update_severity": "Preparing the severity change…",
    "set_status": "Preparing the status change…",
}
"""The thread status while the agent calls each tool (Slack shows it under the panel's last message)."""

TITLE_MAX_CHARS = 60

POSTMORTEM_IN_THREAD = "The draft is in the thread as a Markdown file."
"""Under a confirmed postmortem draft: the draft itself is uploaded beside it."""

FEEDBACK_GOOD = "Good answer"
FEEDBACK_BAD = "Bad answer"
FEEDBACK_THANKS_UP = "Thanks! Noted as helpful."
FEEDBACK_THANKS_DOWN = "Thanks! Noted as not helpful; it will be reviewed to improve the answers."
FEEDBACK_GONE = "That answer is no longer kept (answers are kept {days} days), so the vote was not recorded."

SINCE_HEADER = "*What changed on {incident} since you last looked* ({ago} ago)"
SINCE_NOTHING = "Nothing new on {incident} since you last looked ({ago} ago)."
SINCE_CHANGE = "• {field}: {before} → *{after}* ({actor}, {at})"
SINCE_ENTRY = "• {at} *{author}*: {text}"
SINCE_MORE = "…and {count} earlier new messages."
SINCE_NOTE = "Only you can see this. The full summary is one button away."
FULL_SUMMARY_BUTTON = "Full summary"
FULL_SUMMARY_NONE = "There is no summary to give for {incident} yet (its timeline is short or it is private)."

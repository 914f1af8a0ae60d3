"""What the offline model knows how to say: example questions per intent, and its answer phrasings.

The offline model (:mod:`agent.offline`) needs no LLM. It recognises a question by its similarity to the
example questions below and in `intent_examples.jsonl` (embedded once per process with the local MiniLM
model, entities masked) together with rules for unambiguous cues, and writes its answers from tool results
with the phrasings below. The examples are the classifier's "training set": never add an evaluation
question, or the phrasing of a failing one, to them (a test enforces it for held-out questions); fix a
miss by improving a stage instead.

Answer templates are ``str.format`` strings; their placeholders are named in each constant's comment.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = [
    "ANSWER_APPLIED_DECLARE",
    "ANSWER_APPLIED_SEVERITY",
    "ANSWER_APPLIED_STATUS",
    "ANSWER_BEST_MATCH",
    "ANSWER_COUNT",
    "ANSWER_DECLINE",
    "ANSWER_GREETING",
    "ANSWER_HELP",
    "ANSWER_LIST_HEADER",
    "ANSWER_NEED_INCIDENT",
    "ANSWER_NEED_SEVERITY",
    "ANSWER_NEED_STATUS",
    "ANSWER_NEED_TITLE",
    "ANSWER_NOT_APPLIED",
    "ANSWER_NO_MATCHES",
    "ANSWER_NO_RELATED",
    "ANSWER_NO_SEARCH_MATCH",
    "ANSWER_OLDEST",
    "ANSWER_POSTMORTEM",
    "ANSWER_POSTMORTEM_SAVED",
    "ANSWER_RELATED_HEADER",
    "ANSWER_REMEDIATION",
    "ANSWER_REMEDIATION_UNKNOWN",
    "ANSWER_ROOT_CAUSE",
    "ANSWER_ROOT_CAUSE_UNKNOWN",
    "ANSWER_SEARCH_HEADER",
    "ANSWER_SHOWN_OF_TOTAL",
    "ANSWER_SUGGEST_DECLARE",
    "ANSWER_SUMMARY",
    "ANSWER_THANKS",
    "ANSWER_UNREADABLE_RESULT",
    "DEFAULT_DECLARE_TITLE_CHANNEL",
    "INTENT_BANK_PATH",
    "INTENT_EXAMPLES",
    "intent_bank",
]

INTENT_BANK_PATH = Path(__file__).parent / "intent_examples.jsonl"
"""Several hundred varied example questions, one `{"intent", "text"}` per line, written for the intent
classifier by someone who saw neither the code nor the evaluation questions."""


def intent_bank() -> dict[str, tuple[str, ...]]:
    """Returns the example questions of every intent: `INTENT_EXAMPLES` and the bank file together."""
    bank: dict[str, list[str]] = {name: list(texts) for name, texts in INTENT_EXAMPLES.items()}
    for line in INTENT_BANK_PATH.read_text(encoding="utf-8").splitlines():
        if line.strip():
            example = json.loads(line)
            bank.setdefault(example["intent"], []).append(example["text"])
    return {name: tuple(texts) for name, texts in bank.items()}


INTENT_EXAMPLES: dict[str, tuple[str, ...]] = {
    # Counting and listing incidents by status, severity, service and time: `query_incidents`.
    "query_incidents": (
        "count the incidents that are still going on",
        "number of unresolved incidents at the moment?",
        "how many incidents are active right now",
        "what's on fire right now",
        "anything open at the moment?",
        "list the ongoing incidents",
        "list every severity 1 incident from the last seven days",
        "were there sev2s over the last few days?",
        "were there any critical incidents yesterday",
        "which incidents affected the billing service during the last month",
        "did anything break search in the past two weeks?",
        "which incidents affected checkout since Monday",
        "incidents that impacted the login service last week",
        "show me resolved incidents from this month",
        "how many incidents did we have today",
        "count of sev2 incidents this month",
        "what incidents are stable right now",
        "list all incidents declared in the last 2 hours",
        "how many incidents were resolved last week",
        "which of those hit payments?",
    ),
    # A symptom someone is seeing right now; is it a known incident? `related_incidents(query=...)`.
    "symptom_search": (
        "users report they can't log in, is something going on?",
        "customers cant check out, is there an incident for that?",
        "users are getting 500 errors on login, is this a known issue?",
        "is checkout down?",
        "is something going on with payments? cards are being declined",
        "anyone else seeing timeouts on the search page?",
        "we're seeing elevated error rates on the API, is there an ongoing incident?",
        "Customers report that the mobile app won't load. Do we know about this?",
        "is there an outage? the dashboard is really slow",
        "emails are not being delivered, is someone already on it?",
        "getting lots of failed payments, is there an incident open",
        "a customer says they can't log in, known problem?",
    ),
    # Incidents that look like the one in focus: `related_incidents()`.
    "related_to_focus": (
        "is this one connected to any other incidents?",
        "any related incidents?",
        "anything similar to this one?",
        "has this happened before?",
        "are there other incidents like this?",
        "is this related to any other incident",
        "have we seen this before?",
        "find incidents similar to this incident",
        "any dupes of this incident?",
        "is anything else going on that could be connected to this?",
    ),
    # Searching by a topic, usually with a time frame: `related_incidents(query=..., time_frame=...)`.
    "topic_search": (
        "look for incidents about certificate expiry over the last quarter",
        "incidents about ddos attacks last month",
        "find incidents involving database failovers",
        "search for incidents about certificate expiry",
        "show me incidents related to DNS problems this year",
        "any incidents caused by bad deploys in the past 2 weeks?",
        "incidents mentioning memory leaks since Monday",
        "look for past incidents about rate limiting",
        "what incidents were about kafka lag",
        "find anything related to TLS handshake failures",
    ),
    # The root cause of one incident: `get_incident`.
    "root_cause": (
        "what caused incident-42?",
        "what caused incident-123?",
        "whats the rca for inc-123",
        "root cause of #123?",
        "why did incident-123 happen?",
        "why did that one happen?",
        "why did it happen?",
        "what broke in this incident?",
        "do we know the cause of this one?",
    ),
    # What the responders did: `get_incident`.
    "remediation": (
        "how did the team fix incident-77?",
        "how was incident-123 fixed?",
        "what did they do to mitigate incident-123",
        "what actions were taken in inc 123",
        "how did we fix it?",
        "what was done to resolve this incident?",
        "how did the team mitigate it?",
        "what steps did responders take?",
    ),
    # Anything else about one incident: `get_incident`.
    "incident_details": (
        "details of incident-88 please",
        "what is incident-123?",
        "details of inc-123",
        "what's the status of incident-123?",
        "who is the commander of incident-123",
        "when was incident-123 declared?",
        "which services did incident-123 impact?",
        "what was the customer impact of this incident?",
        "show me incident #123",
        "when did this start?",
        "how bad is it?",
        "what severity is this?",
        "who is working on this?",
        "what's the latest?",
        "any updates on this one?",
    ),
    # Opening a new incident: `declare`.
    "declare": (
        "we need to open an incident for this",
        "declare a sev2 for checkout errors",
        "open a new incident for payment failures",
        "we need to declare an incident, the login page is down",
        "raise an incident: search is returning empty results",
        "start an incident for the database outage",
        "create an incident, api latency is through the roof",
        "let's declare a SEV-1",
        "kick off an incident for this",
    ),
    # Changing the severity: `update_severity`.
    "update_severity": (
        "lower the severity here to sev4",
        "change the severity to sev2",
        "bump this to sev1",
        "downgrade incident-123 to SEV-4",
        "set severity of inc-123 to critical",
        "make this a sev 2",
        "escalate this incident to SEV-1",
        "lower the severity to sev 3",
    ),
    # Changing the status: `set_status`.
    "set_status": (
        "set this one to mitigated",
        "mark incident-123 as resolved",
        "set the status to stable",
        "we're mitigated, mark it stable",
        "resolve this incident",
        "close this incident out",
        "reopen incident-123",
        "move this incident to resolved",
        "mark as mitigated",
    ),
    # Catching up on one incident: `summarize_timeline`.
    "summary": (
        "catch me up on what has happened here",
        "summarize this incident",
        "can i get a recap?",
        "catch me up",
        "what's happened so far in this incident?",
        "tl;dr of incident-123",
        "summary of incident-123 please",
        "what's going on in this channel?",
        "where are we with this incident?",
    ),
    # A first draft of a postmortem: `draft_postmortem`.
    "postmortem": (
        "write up the postmortem draft for incident-61",
        "write the postmortem",
        "generate a postmortem draft for this incident",
        "can you start the post-mortem for inc-123",
        "create a postmortem using the ai template",
        "regenerate the postmortem for this incident",
    ),
    "help": (
        "help",
        "what can you do?",
        "how do I use you?",
        "what questions can I ask?",
        "what are your commands",
        "who are you",
    ),
    "greeting": (
        "hi",
        "hello there",
        "hey copilot",
        "good morning",
    ),
    "thanks": (
        "thanks",
        "thank you!",
        "thx, that helps",
        "great, cheers",
    ),
    # Beyond an incident assistant without a language model: declined plainly.
    "out_of_scope": (
        "what's the weather like today?",
        "tell me a joke",
        "write me a poem about outages",
        "drop every incident from the database",
        "when will the next outage happen?",
        "predict which service will fail next",
        "what is the capital of France?",
        "write a python script to restart the server",
        "who will win the game tonight",
        "translate this message to German",
        "what's the meaning of life",
        "book a meeting with the on-call team",
        "why are our engineers so bad at deploys?",
        "page the database team",
        "how do I restart the payments service?",
        "how do I roll back a deploy",
        "who is on call this week?",
    ),
}
"""Example questions per intent; the classifier compares a question to these by meaning."""

ANSWER_HELP = (
    "Here's what I can do:\n"
    '- Count and list incidents: "How many incidents are currently ongoing?", '
    '"Show me all Sev-1 incidents that occurred in the past week", '
    '"Were there any incidents in the past month that impacted the payments service?"\n'
    '- Check a symptom against incidents: "A customer is unable to check out. Is there an incident?"\n'
    '- Find related incidents: "Are there any related incidents?" (in an incident channel), '
    '"Find me incidents related to DDOS attacks from the past month"\n'
    '- Look into one incident: "What was the root cause of incident-123?", '
    '"What remediation actions did the responders take in incident-123?"\n'
    '- Manage incidents: "Declare an incident", "Update this incident to SEV-3", '
    '"Mark this incident as stable" (I ask you to confirm before anything changes)\n'
    '- Catch up and write up: "Give me a summary of this incident", "Draft a postmortem for incident-123"'
)
ANSWER_TEMPLATE_HELP = (
    "A postmortem template is Markdown with variables written `{{{{incident.<field>}}}}`.\n"
    "- Filled from the incident record: {fixed}\n"
    "- Drafted from the timeline (AI variables): {ai}\n"
    "Every variable needs a heading before it (a line starting with `#`); a template without one is refused. "
    "Add yours with `incident-copilot templates create`."
)
"""How to write a postmortem template; {fixed}, {ai}: the variable names, comma-separated."""
ANSWER_GREETING = "Hi! " + ANSWER_HELP
ANSWER_REFUSED_PART = "I won't do part of that: I make no bulk or destructive changes and answer only about incidents. The rest:"
"""Opens the answer to the part of a message that can be answered, when another part was refused."""
ANSWER_THANKS = "You're welcome. Ask me anything else about your incidents."
ANSWER_DECLINE = (
    "I can't answer that offline — I can count, filter and search incidents, show one incident's details, "
    "find related incidents, declare/update incidents, summarise a timeline and draft a postmortem."
)
ANSWER_NEED_INCIDENT = (
    'Which incident do you mean? Name it (for example "incident-123"), or ask from the incident\'s channel.'
)
ANSWER_NEED_SEVERITY = 'Which severity? Use SEV-1 (worst) to SEV-5, e.g. "Update this incident to SEV-3".'
ANSWER_NEED_STATUS = (
    'Which status? Use active, stable, resolved or completed, e.g. "Mark this incident as stable".'
)
ANSWER_UNREADABLE_RESULT = "I couldn't read the result of {tool}; please try again."
ANSWER_NEED_TITLE = (
    'What is the incident about? Say it in a few words, e.g. "Declare an incident: customers cannot check '
    'out, SEV-2" (the severity is optional).'
)
DEFAULT_DECLARE_TITLE_CHANNEL = "Incident reported in #{channel}"
"""Title of a declared incident when only the channel names it; {channel}: its name."""

# Counts and lists from `query_incidents`. {total}; {noun}: "incident"/"incidents"; {verb}: is/are/was/were;
# {filters_before}: "SEV-1 ongoing " (may be empty); {filters_after}: " that impacted payments declared in the
# past week" (may be empty); {breakdown}: " (2 active, 1 stable)" (may be empty); {shown}.
ANSWER_COUNT = "There {verb} {total} {filters_before}{noun}{filters_after}{breakdown}."
ANSWER_NO_MATCHES = "There {verb} no {filters_before}incidents{filters_after}."
ANSWER_LIST_HEADER = "{total} {filters_before}{noun}{filters_after}{breakdown}:"
ANSWER_SHOWN_OF_TOTAL = "Showing the newest {shown} of {total}."
ANSWER_RELAXED_TEXT = 'No incident mentions "{text}", so I left that word out.'
"""Opens a count or list answered without a text filter that matched nothing (never a false zero)."""
ANSWER_NO_EXACT_TEXT = 'No incident mentions "{text}" word for word, so I searched by meaning.'
"""Opens a search by meaning made after an exact phrase matched no incident."""
# Searches from `related_incidents`. {query}: what was searched; the incident compared with is not named,
# since it is not among the results;
# {where}: the window ("active in the past 2 hours", "in the past month").
ANSWER_SEARCH_HEADER = 'Incidents matching "{query}" ({where}):'
ANSWER_CLOSEST_HEADER = 'No incident matches "{query}" closely ({where}); the closest ones, weak matches:'
ANSWER_NO_SEARCH_MATCH = 'I found no incidents matching "{query}" ({where}).'
ANSWER_SUGGEST_DECLARE = 'If this is a new problem, you can say "Declare an incident".'
ANSWER_RELATED_HEADER = "Related incidents ({where}):"
ANSWER_NO_RELATED = "I found no related incidents ({where})."
ANSWER_WIDENED = "Nothing {window} matches, so I searched the whole history."
"""Opens a search answered from all history after the 2-hour window of active incidents was empty."""
ANSWER_OLDEST = "The oldest is {incident}. Oldest first:"
"""Opens a list answer to "what's the oldest open incident?"; {incident}: a formatted incident line."""
ANSWER_LATEST_MATCH = "The most recent match is {incident}. The newest matches first:"
"""Opens a search answer to "when was the last time ...?"; {incident}: a formatted incident line."""
ANSWER_BEST_MATCH = "Best match: {incident}."
ANSWER_OTHER_MATCHES = "Other matches:"
"""Opens an answer about the best search match; {incident}: a formatted incident line."""
# One incident from `get_incident`: {id}, {title}, {text}.
ANSWER_ROOT_CAUSE = "The root cause of {id} ({title}): {text}"
ANSWER_ROOT_CAUSE_UNKNOWN = "The root cause of {id} is not known (none was recorded)."
ANSWER_REMEDIATION = "Remediation in {id} ({title}): {text}"
ANSWER_REMEDIATION_UNKNOWN = "No remediation actions were recorded for {id}."
# One attribute of an incident from `get_incident` ({declared}, {resolved}: formatted times).
ANSWER_DURATION = "{id} lasted {duration}: declared {declared}, resolved {resolved}."
ANSWER_STILL_OPEN = "{id} is still {status}: declared {declared}, not resolved yet."
ANSWER_OPEN_FOR = "{id} has been open for {duration} so far (declared {declared}); it is {status}."
ANSWER_MITIGATED_AFTER = (
    "{id} was mitigated {duration} after it was declared (declared {declared}, stable {stable})."
)
ANSWER_NOT_MITIGATED = "{id} has not been mitigated yet; it is {status}."
ANSWER_COMMANDER = "The incident commander of {id} is {name}."
ANSWER_NO_COMMANDER = "No incident commander is recorded for {id}."
ANSWER_RESPONDERS = "Involved in {id}: {names}."
ANSWER_DECLARED = "{id} was declared {declared}."
ANSWER_RESOLVED_AT = "{id} was resolved {resolved}."
ANSWER_SERVICES = "Services affected by {id}: {services}."
ANSWER_IMPACT = "Customer impact of {id}: {text}"
ANSWER_NO_IMPACT = "No customer impact is recorded for {id}."
ANSWER_CHANNEL = "The Slack channel of {id} is {channel}."
# Writes: {incident} is a formatted incident line; {id}, {value}; {reason} from the tool.
ANSWER_APPLIED_DECLARE = "Declared {incident}."
ANSWER_APPLIED_SEVERITY = "{id} is now {value}."
ANSWER_APPLIED_STATUS = "{id} is now {value}."
ANSWER_NOT_APPLIED = "Nothing was changed: {reason}"
# Summaries and postmortems: {id}, {markdown}; {saved}: ANSWER_POSTMORTEM_SAVED or nothing.
ANSWER_SUMMARY = "Summary of {id}:\n\n{markdown}"
ANSWER_POSTMORTEM = (
    "Here is a first draft of the postmortem for {id}{saved}. It is a draft for the responders to revise."
    "\n\n{markdown}"
)
ANSWER_POSTMORTEM_SAVED = " (saved as postmortem {postmortem_id})"

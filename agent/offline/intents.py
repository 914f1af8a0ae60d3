"""Recognising what a question asks for: named rules where a cue is unambiguous, meaning otherwise.

A question is first spell-corrected against the words the rules look for ("incidnets", "sumary"; a real
English word is never "corrected"), then matched by the named rules of `rule_intent` (greetings, help,
destructive or bulk requests, postmortems asked for, declarations, changes with a target value, questions
beyond scope, follow-ups, summaries, root cause and remediation, one attribute of one incident, related,
counts, symptoms, filters; each decision carries its rule's name). When no rule is sure, the seven nearest
of the example questions (`prompts.offline.intent_bank()`) vote by cosine similarity of MiniLM embeddings,
entities masked on both sides (`mask_entities`); the examples are embedded once per process. Too little
similarity to anything means the question is beyond the offline model, unless it is about things the
store's incident titles name, which are then searched for.
"""

from __future__ import annotations

import difflib
import re
import threading
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

import numpy as np

from agent.lexicon import (
    ASPECT_PHRASES,
    POSTMORTEM_PHRASES,
    Aspect,
    asked_aspects,
    asks_latest,
    pasted_text,
    without_aspect_phrases,
    without_intensifiers,
)
from agent.normalize import monitoring_as_status
from agent.offline.arguments import names_incident, target_severity, target_status, topic_text
from agent.offline.entities import (
    WORD_RE,
    Signals,
    has_query_filters,
    mask_entities,
    real_words,
    without_asides,
)
from prompts.offline import intent_bank

if TYPE_CHECKING:
    from agent.search.embedding import MiniLMEmbedding


class Intent(StrEnum):
    """What a question asks the offline model to do."""

    query = "query_incidents"
    symptom = "symptom_search"
    related = "related_to_focus"
    topic = "topic_search"
    root_cause = "root_cause"
    remediation = "remediation"
    details = "incident_details"
    declare = "declare"
    update_severity = "update_severity"
    set_status = "set_status"
    summary = "summary"
    postmortem = "postmortem"
    help = "help"
    template_help = "template_help"
    greeting = "greeting"
    thanks = "thanks"
    out_of_scope = "out_of_scope"


MIN_SIMILARITY = 0.42
"""Below this cosine similarity to every example, a question is out of scope (measured on the examples:
paraphrases score 0.55-0.9, unrelated questions 0.1-0.35)."""


@dataclass(frozen=True)
class Classification:
    """An intent and why it was chosen."""

    intent: Intent
    source: Literal["rule", "similarity"]
    score: float
    """1.0 for a rule; the cosine similarity of the nearest example otherwise."""
    evidence: str
    """The rule's name, or the nearest example question."""

    @property
    def decided_by(self) -> str:
        """Returns what decided: `rule:<name>`, or `similarity`."""
        return f"rule:{self.evidence}" if self.source == "rule" else "similarity"


# --- spelling ----------------------------------------------------------------------------------------

KEYWORDS = frozenset(
    """
    incident incidents number ongoing active resolved resolve related similar summary summarize summarise
    postmortem postmortems declare remediation remediations mitigation mitigations mitigated responders
    severity status stable currently current happened happening yesterday today week weeks month months
    hours attacks attack cause caused customer customers unable actions impacted affected anything anyone
    something recently previous outage outages catch recap details detail root before mark update change
    escalate downgrade please
    """.split()
)
SHORTHAND = {
    "hw": "how",
    "wat": "what",
    "wats": "what's",
    "wat's": "what's",
    "whats": "what's",
    "r": "are",
    "u": "you",
    "ur": "your",
    "incs": "incidents",
    "wk": "week",
    "wks": "weeks",
    "yday": "yesterday",
    "yest": "yesterday",
    "b4": "before",
    "abt": "about",
    "ppl": "people",
    # Contractions typed without the apostrophe; "wont" and "ill" are left alone, being words themselves.
    **{
        bare: bare[:-1] + "'t"
        for bare in "cant couldnt dont doesnt didnt isnt wasnt arent werent havent hasnt wouldnt shouldnt".split()
    },
}
"""Slack shorthand, written out so the rules and the time phrases see ordinary words."""
_TOKEN_RE = re.compile(r"[A-Za-z][A-Za-z0-9'-]*")


def correct_typos(text: str) -> str:
    """Returns the text with Slack shorthand written out and misspelt keywords corrected.

    "hw many incidnets this wk" -> "how many incidents this week"; other words are kept as they are.
    """

    def fix(match: re.Match[str]) -> str:
        word = match.group(0)
        lowered = word.lower()
        if lowered in SHORTHAND:
            return SHORTHAND[lowered]
        if len(lowered) < 5 or lowered in KEYWORDS or any(c.isdigit() for c in lowered):
            return word  # short words have too many neighbours; "incident-45" is a reference
        if lowered in real_words():
            return word  # a real word ("stale") is not a misspelt keyword ("stable")
        candidates = [k for k in KEYWORDS if k[:1] == lowered[:1]]
        close = difflib.get_close_matches(lowered, candidates, n=1, cutoff=0.84)
        if not close or close[0].startswith(lowered) or lowered.startswith(close[0]):
            return word  # another form of a keyword ("happen", "declared") is not a typo
        return close[0]

    # "w/" and "w/o" are Slack for "with" and "without" ("nothing to do w/ payments").
    text = re.sub(r"(?<![\w/])w/o(?![\w/])", "without", text, flags=re.IGNORECASE)
    text = re.sub(r"(?<![\w/])w/(?=\s)", "with", text, flags=re.IGNORECASE)
    return monitoring_as_status(_TOKEN_RE.sub(fix, text))


# --- rules -------------------------------------------------------------------------------------------

_GREETING_RE = re.compile(
    r"^(hi|hello|hey|yo|hiya|howdy|greetings|good (morning|afternoon|evening))"
    r"( there| all| team| everyone| folks| copilot| bot)?[\s!.,]*$"
)
_THANKS_RE = re.compile(
    r"^((ok|okay|great|perfect|awesome|cool|nice|got it|brilliant),? )?"
    r"(thanks|thank you|thx|ty|cheers|much appreciated)( a lot| so much| mate| all)?[\s!.,]*"
    r"(that helps|that's helpful|very helpful)?[\s!.,]*$"
)
_HELP_RE = re.compile(
    r"^(help|/help|\?+|usage|commands|what can you do|what else can you do|what do you do|"
    r"how (do|can|should) i use (you|this|this bot|copilot)|what (questions|things) can i ask( you)?|"
    r"what can i ask( you)?|what are your (commands|capabilities|features)|who are you|what are you|"
    r"how (do|can|should) i (declare|update|mark|ask|find|search|get|use)\b.*)"
    r"( for me| here)?[\s?!.]*$"
)
_DESTRUCTIVE_RE = re.compile(
    r"\b(delete|remove|erase|wipe|purge|destroy|nuke|truncate)\b|\bdrop (all|every|table|database|incidents)\b"
    # "drop the stable ones" narrows a list; "drop the incidents table" destroys.
    r"|\bdrop the (table|database|db|incidents|history|index|store)\b"
)
_POSTMORTEM_RE = re.compile(rf"\b(?:{POSTMORTEM_PHRASES})\b")
_TEMPLATE_HELP_RE = re.compile(
    r"\btemplates?\b.*\b(?:variables?|vars?|placeholders?|fields?|syntax|headings?|format)\b"
    r"|\b(?:variables?|vars?|placeholders?)\b.*\btemplates?\b|\bai_(?:\w+|\b)"
)
"""How to write a postmortem template ("which ai_ vars can i drop in?"), asked rather than a draft."""
_DRAFT_REQUEST_RE = re.compile(
    r"\b(draft|write|generate|start|create|make|need|get|put together|kick off|spin up|prepare|produce|"
    r"regenerate|redo|replace|can (you|we|i)|could you|please|pls)\b"
)
_POSTMORTEM_ASKED_ABOUT_RE = re.compile(
    # Whether one exists, or a draft explicitly not wanted: "is there a pm for 292 yet? don't generate one".
    r"\b(?:is there|are there|do we have|does (?:it|this|that|\w+-?\d*) have|have we got|has (?:it|this|\w+-?\d*) got|"
    r"any)\b[^?]*?\b(?:a |an |the )?(?:post[\s-]?mortems?|pms?|retros?|pirs?)\b"
    r"|\b(?:don'?t|do not|dont|no need to|not asking (?:you )?to|without) (?:\w+ )?(?:generate|draft|write|create|make|start)\b"
    # Asking what it takes, or whether one is due: "whats needed to generate one — not doing it now".
    r"|\bnot (?:doing|generating|drafting|writing|making) (?:it|one|that|this)\b|\bwhat'?s? (?:is )?(?:needed|required) to\b"
    r"|\bdo (?:we|i) (?:need|have) (?:to (?:do|write) )?(?:a |an |the )?(?:post[\s-]?mortems?|pms?|retros?)\b"
)
_POSTMORTEM_AS_STATUS_RE = re.compile(
    r"\b(post[\s-]?mortems?|pirs?|retros?) (done|finished|complete|completed|written)\b"
    # What the answer is for, not a document to write: "dns incidents in october? need them for the retro".
    # "a first pass at the PIR", "take a stab at the retro doc" ask for the document itself.
    rf"|(?<!pass )(?<!stab )(?<!shot )(?<!crack )(?<!attempt )(?<!go )"
    rf"\b(?:for|in|at|before) (?:the|our|my|tomorrow'?s|next week'?s) (?:[\w-]+ ){{0,2}}(?:{POSTMORTEM_PHRASES})\b"
)
_QUERY_GUARD_RE = re.compile(
    r"\b(how many|number of|list|show|which|were there|was there|did we|have we|when did|when was|who)\b"
    # Asking whether to declare is not declaring: "is there one open already or should i declare one?".
    r"|\b(should|shall|do|must) (i|we) (declare|open|raise|start|file)\b|\b(need|have) to declare\b\?"
    # Musing, not asking: "prob need to declare one for recs being empty?? sev4 maybe".
    r"|\b(prob|probably|maybe|might|perhaps|possibly)\s+(?:\w+\s+){0,2}declare\b(?=[^.!]*\?)"
    # "declare to resolve" is a span of time, not a request.
    r"|\bdeclare[ds]? (to|until|till|through) (resolve|resolution|resolved|close|closed|mitigat)"
)
_DECLARE_RE = re.compile(
    # "need a new incident opened": the incident asked for, with what to do to it after.
    r"\b(?:need|want|get)\s+(?:an?\s+)?(?:new\s+)?incident\s+(?:opened|open|declared|created|started|raised|spun up)\b|"
    r"\bdeclare\b|\b(need|want|let'?s (get|have)|spin up|open|start|create|raise)\s+(up\s+)?(an?|new|another)\s+"
    r"(new\s+)?incident\b[^\"“]{0,40}[\"“]|\b(open|raise|start|create|file|log|kick off|spin up|trigger)\s+(up\s+)?(a|an|new|another)\s+"
    r"(new\s+)?((sev|severity)[\s-]?[1-5]\s+)?(incident|sev[\s-]?[1-5]|outage)\b(?![\s#-]*\d)"
)
_WHETHER_TO_DECLARE_RE = re.compile(
    r"\b(?:should|shall|do|must|would|can) (?:i|we|you) (?:just |go |then )?(?:need to |have to |go )?"
    r"(?:declare|open|raise|file|start)\b|\bworth declaring\b|\bbefore (?:i|we) (?:go )?declare\b"
)
"""Asks whether to declare ("is there one open already, or should i declare one?"): a question, not a request."""
_ASKING_RE = re.compile(r"^(are|is|were|was|did|does|do|has|have|any|anything|which|what|how|who|when|why)\b")
_CHANGE_VERB_RE = re.compile(
    r"\b(update|change|set|bump|raise|lower|downgrade|upgrade|escalate|de-?escalate|move|make|mark|switch|"
    r"reclassify|drop|adjust|reduce|increase|flip|put|transition|flag|bring|knock|take|kick|push)\b"
    # "INC-296 → resolved please": an arrow to the new value.
    r"|\s(→|->|=>)\s*(sev|severity|stable|mitigated|resolved|closed|completed|active)"
)
_STATUS_VERB_START_RE = re.compile(
    # At the start of the message or of one of its clauses: "latency is back, we're good — resolve it".
    r"(^|[,;.!—–-]\s*|\b(go ahead and|please|pls|can you|could you|can we|could we|shall we|let'?s|ok|okay|so|then)"
    r"(?: just)?\s+)"
    r"(resolve|close|reopen|re-open|mitigate|stabili[sz]e|complete)\b"
)
_STATUS_STATEMENT_RE = re.compile(
    r"\b(we're|we are|it's|it is|this is|incident is|we've|we have)( now| been| fully)* "
    r"(stable|stabili[sz]ed|mitigated|resolved|fixed)\b.*\b(now|mark|set|update)\b"
)
# "incident-298 can go to stable", "this can be resolved now", "we're ok to close it": the person says the
# incident is ready for the status, which asks for it as plainly as "mark it stable".
_STATUS_READY_RE = re.compile(
    r"\b(can|could|should|is ready to|are ready to|ready to|ok to|okay to|good to|safe to|fine to)( now)?"
    r"( (go|move|be moved|be marked|be set|be put|be flipped|be|get))?( back)?( to| as| into)?( now)? "
    r"(stable|stabili[sz]ed|mitigated|resolved|closed|completed?|resolve|close|mitigate|stabili[sz]e)\b"
)
_SEVERITY_STATEMENT_RE = re.compile(
    r"\b(it|this|that|this one)('s| is) (now |actually |really |definitely )?(a |an )?sev"
    r"|\b(should|needs to|must|has to|ought to) be (a |an )?(sev|severity)"
)
_OFF_TOPIC_RE = re.compile(
    r"\b(weather|jokes?|poems?|haiku|songs?|limerick|lyrics|recipe|capital of|meaning of life|translate|"
    r"translation|stock price|bitcoin|crypto|horoscope|movies?|football|soccer|basketball|girlfriend|"
    r"boyfriend)\b|\bwrite (me )?(a|an) (poem|story|essay|song|script|program|function|letter)\b"
)
"""Subjects that are not incidents; a question that also describes incidents ("seen this movie before?" about
consumer lag) is not about them."""
_REQUEST_VERBS = frozenset({"write", "tell", "give", "sing", "make", "compose", "translate", "say"})
_OUT_OF_SCOPE_RE = re.compile(
    # Blame, and statistics the tools do not compute (MTTR, averages, trends).
    r"\b(who caused|whose fault|to blame|blame)\b|\b(mttr|mtta|mttd|mtbf|average|mean time|median|trends?)\b"
    # Schedules are not incident history.
    r"|\bwho'?s on[\s-]?call\b|\bwho is on[\s-]?call\b|\bon[\s-]?call (schedule|rota|rotation)\b"
    # Secrets are never the assistant's to hand out.
    r"|\b(give|tell|send|show|share|what'?s|what is) (me |us )?(the |a |an |your |our )?[\w\s-]{0,30}"
    r"(passwords?|passwd|credentials|api keys?|secret keys?|private keys?|access tokens?)\b"
)
_BULK_CHANGE_RE = re.compile(
    r"\b(all|every|each)\b (?:the |of the |of our )?(?:[\w-]+ ){0,2}incidents?\b[^?]*\b(to|as)\s+(?:sev|severity|"
    r"stable|resolved|closed|completed|active|mitigated|fixed|done)|"
    r"\b(resolve|close|mark|set|update|change|escalate|downgrade)\b.*\b(all|every|each)\b.*\bincidents?\b"
)
_FUTURE_RE = re.compile(
    r"\b(will|going to|gonna)\b[^?]*\b(next|happen|occur|fail|break|go down|crash|outage|incident|be resolved|"
    r"be fixed|recover)\b|\b(predict|prediction|forecast|foresee)\b|\bnext (outage|incident|failure|sev)\b|"
    r"\b(when|how|what|which|where) will\b(?! you)|^will (?!you\b)"
)
FOLLOW_UP_RE = re.compile(
    r"^(and|what about|how about|ok and|okay and|now|only|just|same for|same but|but)\b"
    r"|\b(of (those|them|these|that)|among (them|those|these)|those ones|out of those|from (those|that list)|"
    r"(filter|narrow|cut|trim) (that|those|it|them|this)( down)?|just the|only the)\b"
)
_SHORT_NARROWING_RE = re.compile(
    # Right after a list, a few words that name a filter narrow it: "which were payments", "any sev1?",
    # "drop the stable ones" (a status of many, never "drop it to sev3").
    r"^(?:which|what|any)\b(?:\s+[\w'/-]+){0,4}[\s?.!]*$"
    r"|^(?:drop|skip|minus|without|excluding|exclude|leave out|hide)\s+(?:the\s+|any\s+|all\s+)?[\w-]+\s+ones\b"
)


def narrows_a_list(text: str) -> bool:
    """Returns whether a question, asked right after a list, narrows or widens that list."""
    lowered = " ".join(text.lower().split())
    return bool(FOLLOW_UP_RE.search(lowered) or _SHORT_NARROWING_RE.match(lowered))


_SUMMARY_RE = re.compile(
    r"\b(summary|summari[sz]e|summari[sz]ing|recap|tl;?dr|catch me up|catch up|bring me up to speed|sum up|"
    r"sum it up|rundown|run down|overview|sitrep|where are we|what did i miss|what have i missed|"
    r"(?:the )?latest (?:on|with)|(?:any )?updates? on|"
    r"cliff'?s? ?notes|what'?s (?:been )?go(?:ne|ing) on (?:here|so far|in here)|"
    r"what'?s (been )?happen(ed|ing) (so far|here|in this (incident|channel))|"
    r"what'?s going on in (this|the) (channel|incident))\b"
)
# "been asleep, what's the state of this one": after an absence, the state of an incident is a catch-up.
_AWAY_RE = re.compile(
    r"\b(been (asleep|out|away|offline|off|heads[\s-]down|on pto|afk)|just (woke|got back|got in|joined)|"
    r"slept|back from|missed (it|the|all|most)|was (out|away|offline|asleep))\b"
)
_STATE_RE = re.compile(r"\b(state|status|latest|update|news) (of|on|with)\b|\bwhere('s| is) (this|it|that)\b")
_ROOT_CAUSE_RE = re.compile(rf"\b(?:{ASPECT_PHRASES[Aspect.root_cause]})\b")
_REMEDIATION_RE = re.compile(rf"\b(?:{ASPECT_PHRASES[Aspect.remediation]})")
_RELATED_RE = re.compile(
    r"\b(related|similar|tied (to|in|up with)|like this|like that|like it|like (?:incident|inc)[\s#-]*\d+|like #\d+|"
    r"same (issue|problem|thing|error|symptoms?|root cause)|"
    r"happened before|seen (this|that|it)( \w+)? before|dupes?|duplicates?|connected|linked|look ?alike|"
    r"resembl\w+|same as|repeat of|re-?run of)\b"
)
_TOPIC_CONNECTOR_RE = re.compile(
    r"\b(about(?! to\b)|involving|regarding|concerning|caused by|due to|mentioning|to do with)\b"
)
# "search" starting a question may be the service ("search is slow"); as a verb it takes an object.
_SEARCH_RE = re.compile(r"^(find|look for|look up|dig up)\b|\bsearch (for|through|incidents|the history)\b")
_QUERY_RE = re.compile(
    r"\b(how many|number of|count|list|show( me)?|which incidents|what incidents|any incidents|anything|"
    r"were there|are there|is there|have there been|has there been|did (we|anything|any)|what'?s (open|ongoing|"
    r"active|on fire)|incidents? (this|last|in|since|from|today|yesterday|over)|sev[1-5]s|sev-[1-5]s)\b"
)
_LIST_RE = re.compile(r"\b(list|show|pull up|bring up|every|all (the )?incidents|anything|any incidents)\b")
_INCIDENT_WORD_RE = re.compile(r"\b(incidents?|sevs?|sev[\s-]?[1-5]s?|outages?|issues|problems|anything)\b")
_SYMPTOM_RE = re.compile(
    r"\b(unable|can'?t|cannot|couldn'?t|won'?t|wont|not (working|loading|responding|available|going through)|"
    r"fail\w*|errors?|erroring|5xx|4xx|50[0-4]s?|down|broken|breaking|slow|sluggish|timeouts?|timing out|"
    r"timed out|latency|lagg\w*|declin\w+|degraded|spik\w+|elevated|stuck|missing|unavailable|unreachable|"
    r"crash\w*|hanging|outage|blank|wrong|having (problems|issues|trouble)|(problems?|issues?|trouble) with|"
    r"not (being )?(delivered|sent|received|processed|updated|showing|syncing|arriving)|late|delayed|behind|backed up|stale|flaky|flapping|intermittent\w*|dropp\w+|throttl\w+|rejected|"
    r"bounc\w+|loop\w*|hung|freez\w+|frozen|garbled|corrupt\w*|duplicat\w+|leak\w*|saturat\w+|exhaust\w+)\b"
)
_DETAIL_WORDS_RE = re.compile(
    r"\b(status|details?|commander|who|when|impact|severity|services?|channel|responders?|tell me about|"
    r"what is|what's|info)\b"
)


def _change_rule(signals: Signals, lowered: str) -> Intent | None:
    """Returns update_severity or set_status when the question asks to change one, by its target value."""
    if _QUERY_GUARD_RE.search(lowered) and not names_incident(signals):
        return None
    if (
        _ASKING_RE.match(lowered)
        or FOLLOW_UP_RE.search(lowered)
        and re.search(r"\b(those|them|these)\b", lowered)
    ):
        # "are any of those sev1, or all lower?" asks; a change is an instruction or a statement.
        return None
    severity = target_severity(signals)
    status = target_status(signals)
    segment = re.search(r"\b(?:to|as|into)\b(?!.*\b(?:to|as|into)\b)(.*)$", lowered)
    tail = segment.group(1) if segment else ""
    status_in_tail = status is not None and re.search(
        r"\b(stable|stabili[sz]ed|mitigated|resolved|fixed|closed|active|completed|complete|done|reopened)\b",
        tail,
    )
    wants_change = bool(_CHANGE_VERB_RE.search(lowered))
    if (
        severity is not None
        and not status_in_tail
        and (wants_change or _SEVERITY_STATEMENT_RE.search(lowered))
    ):
        if signals.severities or re.search(r"\b(severity|sev)\b", lowered) or tail.strip():
            return Intent.update_severity
    if status is not None and (
        (wants_change and not _QUERY_GUARD_RE.search(lowered))
        or _STATUS_VERB_START_RE.search(lowered)
        or _STATUS_STATEMENT_RE.search(lowered)
        or _STATUS_READY_RE.search(lowered)
    ):
        return Intent.set_status
    if wants_change and _CHANGE_VERB_RE.match(lowered):
        # "change the severity of this incident" asks for a change; the value is asked for next.
        if re.search(r"\b(severity|sev)\b", lowered):
            return Intent.update_severity
        if re.search(r"\bstatus\b", lowered):
            return Intent.set_status
    return None


def rule_intent(
    signals: Signals, *, previous_tool: str | None = None, has_focus: bool = False
) -> tuple[Intent, str] | None:
    """Returns the intent the rules are sure of, with the rule's name, or None to ask the embeddings."""
    # Asides say why the person asks ("feels like it's always dns", "want to make sure they all have
    # postmortems"); the rules read what is asked.
    lowered = without_asides(" ".join(signals.text.lower().split()))
    if not lowered.strip(" ?!."):
        return Intent.help, "empty"
    for intent, pattern, name in (
        (Intent.greeting, _GREETING_RE, "greeting"),
        (Intent.thanks, _THANKS_RE, "thanks"),
        (Intent.help, _HELP_RE, "help"),
        (Intent.out_of_scope, _DESTRUCTIVE_RE, "destructive"),
    ):
        if pattern.search(lowered):
            return intent, name
    # "trying to make our own pm template.. what's the syntax for the ai bits": the aside names the subject.
    if _TEMPLATE_HELP_RE.search(signals.text.lower()) and not names_incident(signals):
        return Intent.template_help, "template help"
    if (
        _POSTMORTEM_RE.search(lowered)
        and (names_incident(signals) or has_focus or _DRAFT_REQUEST_RE.search(lowered))
        and not _POSTMORTEM_AS_STATUS_RE.search(lowered)
        and not _POSTMORTEM_ASKED_ABOUT_RE.search(lowered)
    ):
        # A postmortem asked for; "completed (postmortem done)" or "the monthly writeup" only mention one.
        return Intent.postmortem, "postmortem"
    if _BULK_CHANGE_RE.search(lowered):
        return Intent.out_of_scope, "bulk change"
    if (
        _DECLARE_RE.search(lowered)
        and not _QUERY_GUARD_RE.search(lowered)
        and not _WHETHER_TO_DECLARE_RE.search(lowered)
    ):
        return Intent.declare, "declare"
    if (
        previous_tool == "query_incidents"
        and _SHORT_NARROWING_RE.match(lowered)
        and has_query_filters(signals)
    ):
        # "drop the stable ones" right after a list narrows it; it changes no incident.
        return Intent.query, "follow-up of a query"
    change = _change_rule(signals, lowered)
    if change is not None:
        return change, "change"
    off_topic = _OFF_TOPIC_RE.search(lowered)
    if off_topic:
        # Words of incidents besides the off-topic ones ("seen this movie before?" about consumer lag).
        asked = set(off_topic.group(0).split()) | _REQUEST_VERBS
        off_topic = not (signals.services or [w for w in signals.residue if w.lower() not in asked])
    if off_topic or _OUT_OF_SCOPE_RE.search(lowered) or _FUTURE_RE.search(lowered):
        return Intent.out_of_scope, "beyond scope"
    if (
        previous_tool in {"query_incidents", "related_incidents"}
        and narrows_a_list(lowered)
        and not signals.refs
    ):
        if has_query_filters(signals) or re.search(r"\b(of (those|them|these)|among)\b", lowered):
            return Intent.query, "follow-up of a query"
    plural = re.search(r"\b(?:incidents|outages|sevs)\b", lowered) and not names_incident(signals)
    if _SUMMARY_RE.search(lowered) or (
        # The absence is an aside, so it is read from the whole message.
        _AWAY_RE.search(signals.text.lower())
        and _STATE_RE.search(lowered)
        and (has_focus or names_incident(signals))
    ):
        # In an incident's channel, "catch me up, I've been out since last night" is about that incident.
        many = plural or (signals.time_frame and not names_incident(signals) and not has_focus)
        return (Intent.query, "summary of many") if many else (Intent.summary, "summary")
    plain = without_intensifiers(lowered)
    if _ROOT_CAUSE_RE.search(plain) or _REMEDIATION_RE.search(plain):
        if plural:
            told = {w.lower() for w in WORD_RE.findall(without_aspect_phrases(plain))}
            if has_query_filters(signals) and not any(w.lower() in told for w in signals.residue):
                # "open sev1/sev2s, and which have a known root cause?": the list the filters give.
                return Intent.query, "causes of a list"
            # "incidents where the root cause was a bad config push" searches many incidents.
            return Intent.topic, "causes of many"
        return (
            (Intent.root_cause, "root cause")
            if _ROOT_CAUSE_RE.search(plain)
            else (Intent.remediation, "remediation")
        )
    # "now"/"rn" alone restricts nothing about the incident in focus.
    in_focus = has_focus and not (
        signals.severities
        or signals.services
        or signals.time_frame
        or (signals.status_filter and signals.status_filter != ["ongoing"])
    )
    if (
        has_focus
        and signals.history
        and not (signals.refs or signals.bare_refs or plural or asked_aspects(lowered))
        and _ASKING_RE.match(lowered)
    ):
        # "did a waf rule do this to us before?" in an incident's channel: that incident, across history.
        return Intent.related, "this one before"
    if asked_aspects(lowered) and (names_incident(signals) or in_focus) and not plural:
        # "how long did 498 last?", "who ran it?", "how long have we been at this?" in its channel.
        return Intent.details, "attribute"
    if (
        asked_aspects(lowered)
        and not (plural or signals.counting or signals.severities or signals.status_filter)
        # "has that taken us down before?" asks about many; "the last time it failed over" about one.
        and not (signals.history and not asks_latest(lowered))
        and (signals.residue or signals.services)
        and not _RELATED_RE.search(_without_service_related(lowered, signals, has_focus=has_focus))
    ):
        # "who was IC on monday's billing db failover?", "how long were we down for the cert thing last
        # weekend?": one incident, described; it is found first, then looked at.
        return Intent.details, "attribute of a described incident"
    # "feels like we've seen this movie before. dig through older ones too": in an incident's channel, the
    # aside is the question.
    related_aside = (
        has_focus
        and not (signals.counting or signals.severities or signals.status_filter or signals.services)
        and _RELATED_RE.search(" ".join(signals.text.lower().split()))
    )
    if related_aside or _RELATED_RE.search(_without_service_related(lowered, signals, has_focus=has_focus)):
        connector = re.search(
            r"\b(related|similar|linked|connected) to\b|\babout\b|\binvolving\b|\bsame as\b|\b(repeat|re-?run) of\b",
            lowered,
        )
        topic = topic_text(signals) if connector else None
        return (Intent.topic, "related to a topic") if topic else (Intent.related, "related")
    return _search_rule(signals, lowered, has_focus=has_focus)


def _without_service_related(lowered: str, signals: Signals, *, has_focus: bool) -> str:
    """Returns the question without "cdn-related" / "webhooks related" / "dns related" after a named service
    or a topic word: that names the service's or the topic's incidents, not incidents related to one in
    focus; nor "like it" where "it" points at no incident."""
    named = {
        part
        for name in [*signals.services, *signals.excluded_services]
        for part in re.split(r"[\s-]", name.lower())
    } | {word.lower() for word in signals.residue}
    if not (signals.pronoun or has_focus or pasted_text(signals.text)):
        # "or has it just felt like it": an "it" pointing at nothing (no incident, no pasted message)
        # compares with nothing.
        lowered = re.sub(r"\blike it\b", " ", lowered)
    if not named:
        return lowered
    return re.sub(
        r"\b([\w.]+)[\s-]related\b",
        lambda match: match.group(1) if match.group(1) in named else match.group(0),
        lowered,
    )


# "wasn't there one where someone ran rm -rf on the prod db? which incident was that": one incident, told.
_WHICH_ONE_RE = re.compile(
    r"\b(which|what) (incident|inc|one) (was|is) (that|it|this)\b"
    r"|\b(?:what|which) was the (?:incident|one|outage) (?:where|when|that|with|in which)\b"
)


_EVER_ASKED_RE = re.compile(r"(?:^|[.?!]\s+)(?:did|has|have|had|was|were|do|does)\b[^.?!]*\bever\b")


def _search_rule(signals: Signals, lowered: str, *, has_focus: bool = False) -> tuple[Intent, str] | None:
    """Returns query, topic or symptom search for questions over many incidents, or details of one."""
    if (
        _WHICH_ONE_RE.search(lowered)
        and signals.described
        and not (signals.counting or names_incident(signals))
    ):
        return Intent.details, "which one, described"
    symptom = bool(_SYMPTOM_RE.search(lowered))
    about_topic = bool(_TOPIC_CONNECTOR_RE.search(lowered) or _SEARCH_RE.search(lowered))
    asks_many = bool(_QUERY_RE.search(lowered)) or (
        has_query_filters(signals) and bool(_INCIDENT_WORD_RE.search(lowered))
    )
    # A bare "here" means an incident only where one is in focus ("ever involved in an incident here?"
    # asked outside a channel means this company).
    this_one = signals.this_incident and (has_focus or re.search(r"\bthis\b|\bcurrent\b", lowered))
    named = signals.refs or (signals.bare_refs and not signals.counting)
    one = (named or this_one) and not re.search(r"\bincidents\b", lowered)
    if one and not signals.counting and not _CHANGE_VERB_RE.match(lowered):
        return Intent.details, "one incident"
    if signals.counting:
        return Intent.query, "count"
    if (
        _EVER_ASKED_RE.search(lowered)
        and (signals.residue or signals.mentioned)
        and not has_query_filters(signals)
    ):
        # "did anybody ever fat-finger a command and take out more than they meant to?": a kind of failure,
        # looked for across the history.
        return Intent.topic, "ever, told"
    if signals.services and not signals.residue and (signals.history or _LIST_RE.search(lowered)):
        # "has kubernetes ever been involved?", "list anything webhooks related": the service's history.
        return Intent.query, "service history"
    if about_topic and (signals.residue or (signals.mentioned and _SEARCH_RE.search(lowered))):
        # "search for knight capital": words only an incident's text holds are a topic when searched for.
        return Intent.topic, "topic"
    # A symptom needs a subject: "is checkout down?" is a search, "what's broken right now?" a query.
    subject = signals.services or [w for w in signals.residue if not _SYMPTOM_RE.fullmatch(w.lower())]
    if symptom and subject and not (signals.severities or signals.time_frame):
        return Intent.symptom, "symptom"
    if symptom and not subject:
        return Intent.query, "symptom without a subject"
    if asks_many or (signals.time_frame and not names_incident(signals)):
        if signals.severities or signals.status_filter:
            # Severity and status are what a list is about; other words only narrow it (`text`).
            return Intent.query, "filters"
        return (Intent.topic, "topic words") if signals.residue else (Intent.query, "filters")
    if signals.this_incident and _DETAIL_WORDS_RE.search(lowered):
        return Intent.details, "this incident"
    return None


# --- similarity --------------------------------------------------------------------------------------


NEIGHBOURS = 7
"""Examples that vote on the intent of a question, each with its similarity as weight."""

NEAR_COPY = 0.9
"""From this similarity on, the nearest example alone decides."""

MIN_TOPIC_SIMILARITY = 0.3
"""Below `MIN_SIMILARITY`, a question about things the store mentions is still searched for, down to this
similarity; further away it is out of scope."""


class SimilarityClassifier:
    """Nearest examples by cosine similarity of sentence embeddings, entities masked on both sides.

    The `NEIGHBOURS` most similar examples vote, weighted by similarity; the winner's best similarity is
    the score (below `MIN_SIMILARITY` a question is like no example at all).
    """

    def __init__(
        self, examples: dict[str, tuple[str, ...]] | None = None, embedding: MiniLMEmbedding | None = None
    ) -> None:
        """Keep the examples; they are embedded on first use, once."""
        source = intent_bank() if examples is None else examples
        self._examples = [(Intent(name), text) for name, texts in source.items() for text in texts]
        self._embedding = embedding
        self._matrix: np.ndarray | None = None
        self._lock = threading.Lock()
        self._nearest = lru_cache(maxsize=512)(self._compute_nearest)

    def _model(self) -> MiniLMEmbedding:
        if self._embedding is None:
            from agent.search.embedding import get_embedding  # lazy: loads onnxruntime

            self._embedding = get_embedding()
        return self._embedding

    def _example_matrix(self) -> np.ndarray:
        with self._lock:
            if self._matrix is None:
                masked = [mask_entities(text) for _, text in self._examples]
                self._matrix = np.asarray(self._model().embed(masked))
            return self._matrix

    def nearest(self, text: str) -> tuple[Intent, float, str]:
        """Returns the intent the examples nearest to `text` vote for, its best similarity, and that example."""
        return self._nearest(" ".join(text.split()))

    def _compute_nearest(self, text: str) -> tuple[Intent, float, str]:
        matrix = self._example_matrix()
        vector = np.asarray(self._model().embed([mask_entities(text)]))[0]
        similarities = matrix @ vector
        order = np.argsort(-similarities)[:NEIGHBOURS]
        if similarities[order[0]] >= NEAR_COPY:
            # A near copy of an example is that example's intent, whatever its neighbours say.
            intent, example = self._examples[int(order[0])]
            return intent, float(similarities[order[0]]), example
        votes: dict[Intent, float] = {}
        for index in order:
            intent = self._examples[int(index)][0]
            votes[intent] = votes.get(intent, 0.0) + float(similarities[index])
        winner = max(votes, key=lambda intent: votes[intent])
        best = next(int(i) for i in order if self._examples[int(i)][0] is winner)
        return winner, float(similarities[best]), self._examples[best][1]


@lru_cache(maxsize=1)
def get_classifier() -> SimilarityClassifier:
    """Returns the process-wide classifier over `prompts.offline.intent_bank()`."""
    return SimilarityClassifier()


def classify(
    signals: Signals,
    *,
    previous_tool: str | None = None,
    classifier: SimilarityClassifier | None = None,
    has_focus: bool = False,
) -> Classification:
    """Returns the intent of a question: by rule when one is sure, else by the examples nearest in meaning.

    `has_focus`: the question is asked where an incident is in focus (its channel).
    """
    rule = rule_intent(signals, previous_tool=previous_tool, has_focus=has_focus)
    if rule is not None:
        return Classification(rule[0], "rule", 1.0, rule[1])
    intent, score, example = (classifier or get_classifier()).nearest(signals.text)
    if score < MIN_SIMILARITY:
        if (
            (score >= MIN_TOPIC_SIMILARITY or signals.history)
            and (signals.residue or signals.mentioned)
            and not _OUT_OF_SCOPE_RE.search(signals.text.lower())
        ):
            # Like no example, but about things the store's incidents mention: search the history. A question
            # that looks back ("have we had ... before?") asks about the history however it is worded.
            return Classification(Intent.topic, "similarity", score, "topic words the store mentions")
        return Classification(Intent.out_of_scope, "similarity", score, example)
    if intent is Intent.symptom and not _SYMPTOM_RE.search(signals.text.lower()):
        # A symptom search needs a described symptom; "what about payments?" asks for the list.
        intent = Intent.topic if signals.residue else Intent.query
    if (
        intent in {Intent.root_cause, Intent.remediation, Intent.details, Intent.summary}
        and has_query_filters(signals)
        and not names_incident(signals)
    ):
        # About one incident, yet none is named and filters are: "which ones are mitigated?" asks about many.
        intent = Intent.query
    if intent is Intent.query and signals.residue and not signals.counting:
        # "ddos incidents last month": words beyond the filters make it a search by topic.
        intent = Intent.topic
    return Classification(intent, "similarity", score, example)

"""Reading a conversation and a question into tool arguments, for the offline model.

Words become values in `agent.normalize` (severities, statuses, services, incident references, time
frames); this module decides which of those values a question gives to which argument, and reads the
conversation around the question: the four context lines of the system prompt (`Current time:`,
`Channel:`, `Incident in focus:`, `Asking:`), the incident discussed last, and the previous query for
follow-ups like "and which of those hit payments?".
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from agent.incidents.enums import Severity, Status
from agent.incidents.exceptions import InvalidSeverity
from agent.lexicon import MEASURED_QUANTITY_PHRASES, asker_words, without_aspect_phrases
from agent.normalize import (
    THIS_INCIDENT_RE,
    ServiceName,
    find_dropped_statuses,
    find_incident_refs,
    find_services_fuzzy,
    find_severities,
    find_severity_filter,
    find_status,
    find_status_filter,
    negates_completed,
    parse_severity,
    parse_status_filter,
    remove_services,
)
from agent.time_windows import ALL_TIME_START, parse_time_window
from prompts.offline import DEFAULT_DECLARE_TITLE_CHANNEL

QUERY_FILTER_KEYS = ("status", "severity", "services", "exclude_services", "time_frame", "text")
"""The `query_incidents` arguments a follow-up question can add to or replace."""

# Without a `Current time:` line, phrases are still recognised against this reference; only the phrase
# is passed on, and the tool resolves it against the run's real clock.
_REFERENCE_NOW = datetime(2100, 1, 1, tzinfo=UTC)

_MENTION_RE = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>|(?:^|\s)@[\w.-]+", re.IGNORECASE)
_CONTEXT_LINE_RE = re.compile(
    r"^(Current time|Channel|Incident in focus|Asking):[ \t]*(.*?)\s*$", re.MULTILINE
)
_PRONOUN_RE = re.compile(
    r"\b(it|its|it's|that one|that incident|the incident|same incident|this one)\b", re.IGNORECASE
)
_COUNT_RE = re.compile(
    r"\b(how many|number of|count|counts|total|tally|how often|how frequently)\b", re.IGNORECASE
)
_MEASURED_RE = re.compile(MEASURED_QUANTITY_PHRASES, re.IGNORECASE)
_WORD_RE = re.compile(r"[A-Za-z0-9][\w.'-]*")
# A bare number where an incident is meant ("bump 512 to sev2", "what caused 498?"): not a severity, a
# count, a duration, a year, a time or a version.
_BARE_REF_RE = re.compile(
    r"(?<![\w#.:/~-])(?<!\d,)(?<!\bsev )(?<!\bseverity )(?<!\bp)(\d{1,6})(?![\w.:/%-]|,\d|\+|[~x×]|\s*(?:incidents?|outages?|sevs?|hours?|"
    r"hrs?|days?|minutes?|mins?|weeks?|wks?|months?|years?|errors?|customers?|users?|ms|s|k|am|pm|times?|"
    r"people|orders|requests|tickets|messages|msgs|comments|replies|pages|alerts|pings|of (?:them|those)|"
    r"seconds?|secs?|bits?|bytes?|[kmgt]b|cores?|nodes?|pods?|servers?|hosts?|machines?|instances?|percent)\b)",
    re.IGNORECASE,
)
# "apart from payments or checkout", "nothing to do with auth", "besides the sev1": the services and
# severities named after such words are set aside.
_EXCLUSION_RE = re.compile(
    r"\b(?:apart from|except(?: for)?|other than|besides|aside from|excluding|outside(?: of)?|not counting|"
    r"nothing to do with|not (?:on|in|about|touching|involving)|ignor(?:e|ing)(?: the)?|skip(?:ping)?(?: the)?|"
    r"but not|minus)\s+(?:the\s+|any\s+|an?\s+)?((?:[\w.-]+(?:\s*(?:,|or|and|/)\s*)?){1,4})",
    re.IGNORECASE,
)
# "sev2s that *weren't* payments related": a negated "were" sets aside the service right after it (only
# then: in "isn't resolved on payments" the word after it is no service).
_NEGATED_COPULA_RE = re.compile(
    r"\b(?:were|was|are|is)(?:n'?t| not)[*_]*\s+(?:on|in|about|touching|involving|related to|for|from)?\s*"
    r"(?:the\s+|any\s+)?([\w.-]+(?:[\s-]+[\w.-]+)?)",
    re.IGNORECASE,
)
# "similar to 293", "anything like 498": a number an incident is compared with is an incident.
_COMPARED_BEFORE_RE = re.compile(
    r"\b(?:(?:similar|related|linked|connected|identical|comparable) to|like|same as|repeat of)\s*$",
    re.IGNORECASE,
)
_RATIO_AFTER_RE = re.compile(r"\s*(?:in|of|out of|/)\s*\d", re.IGNORECASE)
_STATUS_CODE_BEFORE_RE = re.compile(
    r"\b(?:an?|got|get|gets|getting|returning|returns|returned|throwing|throws|with|http|status|code|seeing|see)\s*$",
    re.IGNORECASE,
)
_STATUS_CODE_AFTER_RE = re.compile(r"\s*(?:errors?|responses?|codes?|status|on|from|when)\b", re.IGNORECASE)
_NOT_A_REF_BEFORE_RE = re.compile(
    r"\b(?:last|past|top|first|over|under|than|within|least|most|sev|severity|to|the|since|every|each|code|exit|"
    r"layer|tier|level|stage|phase|class|type|grade|l|"
    r"port|version|v|errno|signal|pid|build|pr|ticket|jira|line|row|step|room|floor|node|shard|partition|"
    # A day of a month ("on oct 26") is a date.
    r"jan|january|feb|february|mar|march|apr|april|may|jun|june|jul|july|aug|august|sep|sept|september|oct|"
    r"october|nov|november|dec|december|"
    # So is a day of a week ("sat 21 / sun 22").
    r"mon|monday|tue|tues|tuesday|wed|wednesday|thu|thur|thurs|thursday|fri|friday|sat|saturday|sun|sunday)"
    r"\.?\s*$",
    re.IGNORECASE,
)
_SEVERITY_WORD_RE = re.compile(r"\b(?:sev(?:erity)?|s)[\s\-_:]*[1-5](?:s|'s)?\b", re.IGNORECASE)

# Words that carry no topic: question words, the vocabulary of filters, and what people say around them.
# What is left of a question after these, the filters and the time frame is its topic ("ddos").
FILLER_WORDS = frozenset(
    """
    a about after affect affected affecting affects again all also am an and any anybody anyone anything
    are around as ask at be been before being between both but by can can't could currently day days did
    do does doing done during each either else ever every few find for from get give go going got had has
    have having hey hi how i if impact impacted impacting impacts in incident incidents inc into involve
    involved involving is it its it's just know last let like list look looking made many me mine month
    months more most much my need new no not now number occur occurred occurring of on one only or other
    our out outage outages over past please pls plz prior recent recently regarding related right rn same
    see seen service services show since so some something still such tell than that the their them then
    there these they this those through time to today total touched under until up us want was we week
    weeks were what whats what's when where which while who why will with within would year years yet you
    your hit hits hitting hurt broke fire issue issues problem problems happen happened happening
    happens sev severity severities status statuses ongoing open active stable resolved closed completed
    currently mitigated unresolved declared reported raised opened filed started logged count counts
    tally everything any ones query search find me kind sort type types hours hour minutes minute
    root cause caused causes rca remediation remediate remediated remediations mitigation mitigations
    action actions taken take took responders responder team fix fixed fixes steps step done did
    detail details summary summarize summarise info information similar related relevant connected
    linked before previously earlier ago moment speak progress atm customer customers commander impact
    started start latest news updates update mention mentions mentioning mentioned containing contain
    contains say says said unknown untriaged unclassified unset record here causing yet mitigate mitigating
    fixing resolve resolving far keeps keep stuff things thing etc whatnot apart aside besides except nothing
    often frequently layer layers tier tiers stack side area bits bit part parts piece style ish esque kinda
    sorta remember recall remind reminds saying too
    """.split()
)

_ASKS_FOR_INCIDENT_RES = (
    re.compile(
        r"\b(?:is|are) there (?:an? |any )?(?:ongoing |open |known |active |existing |current )?"
        r"(?:incident|issue|outage|problem)s?\b[^.?!]*[.?!]*",
        re.IGNORECASE,
    ),
    re.compile(r"\bdo we (?:know|have)\b(?: about)?[^.?!]*[.?!]*", re.IGNORECASE),
    re.compile(
        r"\b(?:is|are) (?:something|anything|stuff|things) (?:going on|up|wrong|happening|broken)\b[^.?!]*[.?!]*",
        re.IGNORECASE,
    ),
    re.compile(
        r"\b(?:is (?:this|that|it)|any) (?:a )?known(?: issue| problem| incident)?\b[^.?!]*[.?!]*",
        re.IGNORECASE,
    ),
    re.compile(r"\bknown (?:issue|problem)\b[.?!]*", re.IGNORECASE),
    re.compile(
        r"\b(?:is )?(?:someone|anyone|somebody) (?:already )?(?:on|looking at) (?:it|this|that)\b[.?!]*",
        re.IGNORECASE,
    ),
    re.compile(
        r"^\s*(?:are|is) (?:we|you|they|customers|users) (?:having|seeing|getting|experiencing)\s+",
        re.IGNORECASE,
    ),
    re.compile(
        r"^\s*(?:(?:is )?(?:anyone|anybody)(?: else)?|are (?:others|other people)|we(?:'re| are)|i(?:'m| am))"
        r" (?:also )?(?:seeing|getting|noticing|experiencing|hitting)\s+",
        re.IGNORECASE,
    ),
)
_COMPARISON = (
    r"repeat of|re-?run of|copy of|same (?:thing |issue |problem )?as|similar to|like (?:the|that|our)"
)
"""Connectors that compare what is going on with something described ("is this a repeat of the payflow
outage?"): in an incident's channel the incident in focus is the one compared, not a match."""
_TOPIC_RE = re.compile(
    rf"\b(?:related to|{_COMPARISON}|about(?! to\b)|involving|regarding|concerning|caused by|due to|mentioning|"
    r"to do with|linked to|connected to)\s+(?P<topic>.+)$",
    re.IGNORECASE,
)
_COMPARISON_RE = re.compile(rf"\b(?:{_COMPARISON})\b", re.IGNORECASE)
_TOPIC_TAIL_RE = re.compile(
    r"(?:\s+(?:that|which|who)\b.*|\s+(?:from|in|over|during|within|since|for|of|this|the|last|past|"
    r"recently|lately|ever|before|please|pls|and|or|earlier|previously|back|ago|again))+\s*$",
    re.IGNORECASE,
)
_DECLARE_REST_RE = re.compile(
    r"(?:\b(?:need|want|get)\s+(?:an?\s+)?(?:new\s+)?incident\s+(?:opened|open|declared|created|started|raised|spun up)\b"
    r"|\bdeclare\s*:|\b(?:declare|open|raise|start|create|file|log|kick off|spin up|trigger)\b.{0,30}?"
    r"\b(?:incident|sev[\s\-_]?[1-5]|outage|inc)\b|\bdeclare (?:something|one)\b)"
    r"(?:\s*(?:pls|please|plz|asap|now)\b)?"
    r"(?:\s*(?:[:,;.!\-–—]+|\bfor\b|\babout\b|\bbecause\b|\bas\b|\bon\b|\bregarding\b|\bre\b))*\s*(?P<rest>.*)$",
    re.IGNORECASE | re.DOTALL,
)
_DECLARE_CLAUSE_RE = re.compile(
    r"(?:let'?s |we need to |please |pls |can you |could you )?\b(?:declare|open|raise|start|create|file|log|"
    r"kick off|spin up|trigger)\b[^.?!]*",
    re.IGNORECASE,
)
_CUSTOMER_RE = re.compile(r"\b(customers?|users?|clients?|merchants?|shoppers?|buyers?)\b", re.IGNORECASE)
# "search for ...", "can you search incidents": the verb, not the service. After a quantifier or an article
# ("how many search incidents", "the search outages") the word names the service.
_LIST_VERB_RE = re.compile(
    r"\b(?:pull|bring|dig|call|dredge|rustle) up\b|\b(?:dig|look|go) (?:thru|through|into|back)\b",
    re.IGNORECASE,
)
"""Verbs that ask for a list ("pull up dns incidents since august"), whatever "pull" means in a title."""
_SEARCH_VERB_RE = re.compile(
    r"(?<!\bmany )(?<!\bany )(?<!\bthe )(?<!\bof )(?<!\ball )(?<!\bour )(?<!\bmost )(?<!\bfew )"
    r"\bsearch (?:for|through|all|the history|incidents|my|our)\b",
    re.IGNORECASE,
)
_HISTORY_RE = re.compile(
    r"\b(ever|before|previously|historically|have we (had|seen)|did we (ever )?(have|see)|"
    # "charged again and again" tells what happened, it does not look back.
    r"has (this|that|it) happened|(the )?last time|once|(?<!and )again(?! and again)|in the past|"
    r"what do we have|have we got|older (?:incidents|ones)|further back|"
    r"familiar|rings? a bell|deja vu|déjà vu)\b",
    re.IGNORECASE,
)
_NOW_RE = re.compile(
    r"\b(open|ongoing|active|right now|rn|currently|at the moment|atm|going on|happening now|live)\b",
    re.IGNORECASE,
)
ALL_TIME = "all time"
"""The time frame of searches over the whole history ("have we seen this error before?")."""
_TEMPLATE_RE = re.compile(
    r"\b(?:(?:using|with|from|use|in|on) )?(?:the |our |a |an )?([\w-]+) template\b(?! (?:variables?|vars?|syntax))",
    re.IGNORECASE,
)
_NOT_A_TEMPLATE_NAME = frozenset(
    {
        "postmortem",
        "pm",
        "retro",
        "own",
        "custom",
        "new",
        "this",
        "that",
        "which",
        "what",
        "any",
        "my",
        "your",
    }
)
"""Words before "template" that describe one rather than name it ("our own template")."""
_REPLACE_RE = re.compile(
    r"\b(re-?generate|replace|redo|re-?draft|new one|another one|again|overwrite|fresh)\b", re.IGNORECASE
)
_TARGET_SEGMENT_RE = re.compile(
    r"\b(?:to|as|into|at)\b(?!.*\b(?:to|as|into|at)\b)(?P<segment>.*)$", re.IGNORECASE
)
# Quoted text is a literal to look for; a single quote counts only around whole words ("it's" is no quote).
_QUOTED_RE = re.compile(r"[\"“]([^\"”]{3,80})[\"”]|(?<![\w'])'([^']{3,80})'(?![\w'])")


def public_id(number: int) -> str:
    """Returns the public id of an incident number (`incident-12`)."""
    return f"incident-{number}"


def strip_mentions(text: str) -> str:
    """Returns a message without Slack mentions of the bot (`<@U123>`, `@Datadog`).

    Line breaks stay: a line starting with ">" is quoted text, not the person's words.
    """
    lines = (" ".join(line.split()) for line in _MENTION_RE.sub(" ", text).splitlines())
    return "\n".join(line for line in lines if line)


# --- the conversation --------------------------------------------------------------------------------


def _message_text(message: BaseMessage) -> str:
    return message.text if isinstance(message.text, str) else str(message.content)


def _refs_in_payload(payload: Any) -> list[int]:
    """Returns the incidents a tool result is about, the main one first."""
    if not isinstance(payload, dict):
        return []
    refs: list[int] = []
    for key in ("id", "incident", "focus"):
        value = payload.get(key)
        if isinstance(value, dict):
            value = value.get("id")
        if isinstance(value, str):
            refs.extend(find_incident_refs(value))
    for key in ("results", "incidents"):
        items = payload.get(key)
        if isinstance(items, list):
            refs.extend(
                ref
                for item in items
                if isinstance(item, dict)
                for ref in find_incident_refs(str(item.get("id", "")))
            )
    return refs


def _refs_in_message(message: BaseMessage) -> list[int]:
    if isinstance(message, ToolMessage):
        try:
            return _refs_in_payload(json.loads(_message_text(message)))
        except ValueError:
            return find_incident_refs(_message_text(message))
    if isinstance(message, AIMessage):
        # Examples the assistant quotes ('for example "incident-123"') are not incidents it talked about.
        refs = find_incident_refs(asker_words(_message_text(message)))
        for call in message.tool_calls:
            refs.extend(find_incident_refs(str(call["args"].get("incident") or "")))
        return refs
    return find_incident_refs(_message_text(message))


@dataclass(frozen=True)
class Conversation:
    """One question and what surrounds it: the context lines, earlier turns, and this turn's tool calls."""

    question: str
    """The latest message of the person, without mentions of the bot."""
    now: datetime | None = None
    channel: str | None = None
    focus: int | None = None
    user: str | None = None
    earlier: tuple[BaseMessage, ...] = ()
    """Messages before the question (system messages left out), oldest first."""
    turn: tuple[BaseMessage, ...] = ()
    """Messages after the question: this turn's tool calls and their results."""

    @classmethod
    def from_messages(cls, messages: Sequence[BaseMessage]) -> Conversation:
        """Returns the conversation the messages hold; the last human message is the question."""
        lines: dict[str, str] = {}
        for message in messages:
            if isinstance(message, SystemMessage):
                lines.update({key: value for key, value in _CONTEXT_LINE_RE.findall(_message_text(message))})
        last_human = max((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=None)
        rest = [m for m in messages if not isinstance(m, SystemMessage)]
        if last_human is None:
            return cls(question="", **_context_values(lines), turn=tuple(rest))
        question_message = messages[last_human]
        earlier = tuple(m for m in messages[:last_human] if not isinstance(m, SystemMessage))
        turn = tuple(m for m in messages[last_human + 1 :] if not isinstance(m, SystemMessage))
        return cls(
            question=strip_mentions(_message_text(question_message)),
            **_context_values(lines),
            earlier=earlier,
            turn=turn,
        )

    @property
    def reference_now(self) -> datetime:
        """Returns the time phrases are read against: the `Current time:` line, else a fixed reference."""
        return self.now or _REFERENCE_NOW

    def last_discussed(self) -> int | None:
        """Returns the incident the conversation talked about last (the first one named in that message).

        Where the conversation holds tool results, a reply written without looking anything up ("which
        incident do you mean?") talks about no incident, whatever it names.
        """
        looked_up = any(isinstance(message, ToolMessage) for message in self.earlier)
        for index in range(len(self.earlier) - 1, -1, -1):
            message = self.earlier[index]
            if (
                looked_up
                and isinstance(message, AIMessage)
                and not message.tool_calls
                and not (index > 0 and isinstance(self.earlier[index - 1], ToolMessage))
            ):
                continue
            refs = _refs_in_message(message)
            if refs:
                return refs[0]
        return None

    def previous_call(self, name: str) -> dict[str, Any] | None:
        """Returns the arguments of the latest earlier call of a tool, or None."""
        for message in reversed(self.earlier):
            if isinstance(message, AIMessage):
                for call in reversed(message.tool_calls):
                    if call["name"] == name:
                        return dict(call["args"])
        return None

    def previous_tool(self) -> str | None:
        """Returns the tool the previous exchange called last, or None; only that exchange makes a follow-up."""
        for message in reversed(self.earlier):
            if isinstance(message, AIMessage) and message.tool_calls:
                return str(message.tool_calls[-1]["name"])
            if isinstance(message, HumanMessage):
                return None
        return None

    def previous_results(self) -> list[str]:
        """Returns the ids the previous exchange's last tool listed (a search's results), in its order."""
        for message in reversed(self.earlier):
            if isinstance(message, HumanMessage):
                return []
            if isinstance(message, ToolMessage):
                try:
                    payload = json.loads(_message_text(message))
                except ValueError:
                    return []
                items = (
                    payload.get("results") or payload.get("incidents") or []
                    if isinstance(payload, dict)
                    else []
                )
                return [str(item["id"]) for item in items if isinstance(item, dict) and item.get("id")]
        return []

    def previous_question(self) -> str | None:
        """Returns the person's message before this one, or None."""
        for message in reversed(self.earlier):
            if isinstance(message, HumanMessage):
                return strip_mentions(_message_text(message))
        return None


def _context_values(lines: dict[str, str]) -> dict[str, Any]:
    def value(key: str) -> str | None:
        text = lines.get(key, "").strip()
        return None if text.lower() in {"", "none", "null", "unknown"} else text

    now_text = value("Current time")
    now: datetime | None = None
    if now_text:
        try:
            now = datetime.fromisoformat(now_text.replace("Z", "+00:00"))
        except ValueError:
            now = None
        if now is not None and now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
    focus_refs = find_incident_refs(value("Incident in focus") or "")
    return {
        "now": now,
        "channel": value("Channel"),
        "focus": focus_refs[0] if focus_refs else None,
        "user": value("Asking"),
    }


# --- what a question says ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Signals:
    """The values a question names, read once and shared by the intent rules and the argument filling."""

    text: str
    refs: list[int] = field(default_factory=list)
    this_incident: bool = False
    pronoun: bool = False
    severities: list[Severity] = field(default_factory=list)
    status_filter: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)
    excluded_services: list[str] = field(default_factory=list)
    """Services the question sets aside ("anything open apart from payments?")."""
    time_frame: str | None = None
    bare_refs: list[int] = field(default_factory=list)
    """Bare numbers that can only mean an incident ("what caused 498?"); used when nothing else is named."""
    counting: bool = False
    history: bool = False
    """The question looks back over the whole history ("ever", "have we seen ... before?")."""
    literal: str | None = None
    """Text to find as written: a quoted phrase or an identifier like an error code or a host name."""
    residue: list[str] = field(default_factory=list)
    """Words that are none of the above nor filler: the question's topic, if it has one. Over a store,
    only the words some incident title holds are kept (`OfflineChatModel`)."""
    described: list[str] = field(default_factory=list)
    """Every such word, kept or not: whether the question describes something at all."""
    mentioned: list[str] = field(default_factory=list)
    """Of those, the words some incident mentions in any field (a company only a summary names); over a
    store, set by `OfflineChatModel`, else every described word."""


# A sentence that comments on the question rather than asking it ("feels like everything is on fire today",
# "need it for the weekly ops email"): its words restrict nothing.
_ASIDE_RE = re.compile(
    r"^\s*(?:feels? like|seems like|looks like|i think|i guess|i feel|fwiw|btw|asking (?:for|bc|because|cause|cuz|since)|"
    r"need (?:it|this) "
    r"for|for the|just curious|no rush|sorry|thanks|ty|cheers|support wants|the friend)\b"
    # A gloss on the question: "i.e. postmortem still outstanding", "e.g. the payflow one".
    r"|^\s*(?:i\.\s?e\.?|e\.\s?g\.?|aka|as in)\s"
    # Who wants to know: "someone in #infra is asking", "my mgr wants it".
    r"|^\s*(?:some(?:one|body)|people|folks|my (?:manager|mgr|boss|lead)|the (?:team|execs?|boss))"
    r"(?: (?:in|from|on) #?[\w-]+)? (?:is |are |was |keeps? )?(?:asking|wants? (?:it|this|to know))\b"
    # A restatement after the question ("login stuff basically").
    r"|^[^?]*\b(?:basically|i guess|i mean|more or less|or whatever|etc)\s*[.!]*$",
    re.IGNORECASE,
)
# A purpose or a feeling, as a sentence or a clause: "trying to figure out how bad this week was",
# "need to know wrt the kafka migration", "prepping for the upgrade".
_PURPOSE_RE = re.compile(
    r"^\s*(?:just\s+)?(?:want|wanna|trying|hoping|looking|going) to\b[^?]*$"
    r"|^\s*need (?:to know |it |this |them )?(?:wrt|for|because|re)\b[^?]*$"
    r"|^\s*(?:prepping|preparing|getting ready) for\b[^?]*$"
    # What the answer is for: "writing the exec summary", "prepping the qbr deck".
    r"|^\s*(?:writing|prepping|preparing|drafting|putting together|working on) (?:up )?(?:the|a|an|my|our)\b[^?]*$"
    r"|^\s*(?:and )?(?:kinda|kind of|a bit|pretty|really|so|bit) (?:nervous|worried|stressed|scared|anxious|tired|"
    r"confused|lost)\b[^?]*$",
    re.IGNORECASE,
)
# A colon ends a lead-in ("sanity check before the exec sync: how many ...?") as a full stop does.
_SENTENCE_SPLIT_RE = re.compile(r"(?<=[?!.;:])(?<!i\.e\.)(?<!e\.g\.)\s+|\s+[—–]\s+|\s+-\s+|\(|\)")


def real_words() -> frozenset[str]:
    """Returns the English words of the embedding model's vocabulary (never taken for misspellings)."""
    # Lazy: importing the embedding module loads chromadb (0.64 s measured), which a count never needs.
    from agent.search.embedding import known_words

    return known_words()


def split_sentences(text: str) -> list[str]:
    """Returns the sentences and clauses of a message ("ignore that. anyway, how many sev1s?")."""
    return [part.strip() for part in _SENTENCE_SPLIT_RE.split(text) if part and part.strip()]


# A statement about the asker ("i was offline all day", "i'm new here") tells why they ask, not what.
_ABOUT_ME_RE = re.compile(
    r"^\s*(?:i (?:was|am|have been|had been|just|only|got|missed|slept|came|lost)|i'?m|i'?ve|im|"
    r"(?:been|was) (?:heads[\s-]down|out|off|away|offline|busy|asleep|on (?:leave|pto|vacation))|"
    # Slack drops the "I": "only saw the tail end of it", "just joined", "missed the start".
    r"(?:only|just) (?:saw|caught|heard|joined|got (?:in|here|back|on)|woke)|missed (?:the|it|most|all)|"
    r"slept through|joining late|woke up)\b[^?]*$",
    re.IGNORECASE,
)


def without_asides(text: str) -> str:
    """Returns the question without its asides, or the whole text when nothing else would be left."""
    sentences = [part for part in _SENTENCE_SPLIT_RE.split(text) if part and part.strip()]
    # Clauses too: "been heads down on the login ddos all week, which got resolved?", "list em, need to
    # know wrt the kafka migration".
    # An opener like "looks like" starts an aside only as a sentence of its own.
    parts = [
        (clause, clause is sentence)
        for sentence in sentences
        for clause in (
            [sentence]
            if not any(_ABOUT_ME_RE.match(c) or _PURPOSE_RE.match(c) for c in re.split(r",\s+", sentence))
            else re.split(r",\s+", sentence)
        )
        if clause.strip()
    ]
    # A sentence that asks something is never an aside, however it opens; nor is a hedged severity
    # ("sev4 i guess"), which is the value the person means.
    kept = [
        part
        for part, whole in parts
        if part.rstrip().endswith("?")
        or _SEVERITY_WORD_RE.search(part)
        or not ((whole and _ASIDE_RE.match(part)) or _ABOUT_ME_RE.match(part) or _PURPOSE_RE.match(part))
    ]
    if not kept or len(kept) == len(parts):
        return text
    return " ".join(kept)


# "i was offline wednesday — what got declared that day?": the question points back at the aside's time.
_BACK_TO_THAT_DAY_RE = re.compile(
    r"\b(?:that|the same) (?:day|night|morning|afternoon|evening|week)\b", re.IGNORECASE
)
_WHILE_AWAY_RE = re.compile(
    r"\bwhile i was (?:out|away|off|offline|gone|on pto|on leave|off-grid)\b|\bin the meantime\b|\bmeanwhile\b",
    re.IGNORECASE,
)
_SINCE_THEN_RE = re.compile(r"\bsince then\b", re.IGNORECASE)
_AWAY_RE = re.compile(
    r"\b(?:was|been|i was|i'?ve been)\s+(?:out|off|away|offline|off-grid|on pto|on leave|asleep)\b",
    re.IGNORECASE,
)
# "was offline last weekend — did anything get declared?": what happened is asked of the time of absence.
_WHAT_HAPPENED_RE = re.compile(
    r"\b(?:declared|got declared|kicked off|happened|came in|did i miss|i missed|went down|broke)\b",
    re.IGNORECASE,
)


def _time_pointed_back_at(asked: str, text: str, now: datetime) -> str | None:
    """Returns the time frame the question points back at in the aside it left out, or None.

    "that day" and "while i was out" are the aside's own window; "since then" runs from its start to now.
    """
    window = parse_time_window(text, now)
    if window is None:
        return None
    if _BACK_TO_THAT_DAY_RE.search(asked) or _WHILE_AWAY_RE.search(asked):
        return window.label
    if _WHAT_HAPPENED_RE.search(asked) and _AWAY_RE.search(text):
        return window.label
    if _SINCE_THEN_RE.search(asked):
        label = window.label if window.label.startswith("since") else f"since {window.label}"
        since = parse_time_window(label, now)
        return label if since is not None and since.since == window.since else None
    return None


def read_signals(text: str, *, now: datetime, services: Sequence[ServiceName]) -> Signals:
    """Returns the values a question names (in its asking sentences; asides restrict nothing, unless the
    question points back at the time one names)."""
    asked = without_asides(text)
    signals = _read(asked, now=now, services=services)
    if asked != text and not signals.residue and _POINTS_BACK_RE.search(asked):
        # "customer says apt-get blows up with EXPKEYSIG. anything open for that?": the question points back
        # at what the statement describes.
        told = _read(text, now=now, services=services)
        signals = replace(
            signals,
            residue=told.residue,
            described=told.described,
            mentioned=told.mentioned,
            services=signals.services or told.services,
            literal=signals.literal or told.literal,
        )
    if signals.time_frame is None and asked != text:
        pointed = _time_pointed_back_at(asked, text, now)
        if pointed is not None:
            signals = replace(signals, time_frame=pointed)
    question = _filter_question(asked, now=now, services=services)
    if (
        question is not None
        and _same_filters(question, signals)
        and not (signals.refs or signals.bare_refs or signals.this_incident)
    ):
        # "network or dns incidents this week? the resolver graphs look weird": the question names what
        # to list; the statement around it says why, and restricts nothing.
        signals = replace(question, text=asked)
    return signals if asked == text else replace(signals, text=text)


_ASKING_OPENER_RE = re.compile(
    r"^(?:list|show|give me|count|how many|which|what|any|anything|were there|was there|is there|are there)\b",
    re.IGNORECASE,
)


def _same_filters(one: Signals, other: Signals) -> bool:
    return (one.services, one.severities, one.time_frame, one.status_filter, one.excluded_services) == (
        other.services,
        other.severities,
        other.time_frame,
        other.status_filter,
        other.excluded_services,
    )


def _filter_question(text: str, *, now: datetime, services: Sequence[ServiceName]) -> Signals | None:
    """Returns the signals of a message's one question sentence when it names filters and nothing else,
    and the message says more around it; else None."""
    parts = [
        part.strip()
        for part in re.split(rf"{_SENTENCE_SPLIT_RE.pattern}|,\s+", text)
        if part and part.strip()
    ]
    questions = [
        part
        for part in parts
        if (part.endswith("?") or _ASKING_OPENER_RE.match(part)) and len(part.split()) >= 3
    ]
    if len(questions) != 1 or len(parts) < 2:
        return None
    signals = _read(questions[0], now=now, services=services)
    if (
        signals.residue
        or signals.refs
        or not has_query_filters(signals)
        or _POINTS_BACK_RE.search(questions[0])
    ):
        return None
    return signals


# "... blows up with EXPKEYSIG. do we already have something open for that?": the question is about what
# the statement before it describes.
_POINTS_BACK_RE = re.compile(
    r"\b(?:for|about|on|with|like|of|to) (?:that|this|it|them|those|these)\b|\b(?:that|this) (?:issue|problem|error|thing)\b",
    re.IGNORECASE,
)


def _read(text: str, *, now: datetime, services: Sequence[ServiceName]) -> Signals:
    window = parse_time_window(text, now)
    # "ever" and "on record" restrict nothing; they ask to look over the whole history.
    # "ever" looks over the whole history; "before june" starts there too, but ends.
    all_time = window is not None and window.since <= ALL_TIME_START and window.until >= now
    time_frame = None if window is None or all_time else window.label
    residue = _residue(
        without_aspect_phrases(text), time_frame=window.label if window else None, services=services
    )
    service_text = _SEARCH_VERB_RE.sub(" ", text)
    found_services = find_services_fuzzy(service_text, services, real_words=real_words())
    set_aside_text = " ".join(m.group(1) for m in _EXCLUSION_RE.finditer(service_text))
    excluded = [
        name
        for name in find_services_fuzzy(set_aside_text, services, real_words=real_words())
        if name in found_services
    ]
    set_aside_words = {word.lower() for word in re.split(r"[^\w-]+", set_aside_text) if word}
    # "apart from the cdn / edge stuff": set aside, a word of one service's name ("edge" of edge-proxy)
    # names that service.
    name_words = {service.name: set(re.split(r"[\s\-_]+", service.name.lower())) for service in services}
    owners = Counter(word for words in name_words.values() for word in words)
    excluded += [
        name
        for name, words in name_words.items()
        if name not in excluded
        and any(owners[word] == 1 and len(word) >= 4 for word in words & set_aside_words)
    ]
    excluded += [
        name
        for match in _NEGATED_COPULA_RE.finditer(service_text)
        for name in find_services_fuzzy(match.group(1), services, real_words=real_words())
        if name in found_services and name not in excluded
    ]
    found_services = [name for name in found_services if name not in excluded]
    severities = find_severity_filter(text)
    set_aside = {
        severity
        for match in _EXCLUSION_RE.finditer(text)
        for severity in find_severity_filter(match.group(1))
    }
    if set_aside and set_aside >= set(severities):
        # "besides the sev1, what else is open?": every other severity.
        severities = [severity for severity in Severity if severity not in set_aside]
    residue = [word for word in residue if word.lower() not in set_aside_words]
    return Signals(
        text=text,
        # Incidents named inside quoted or pasted text (a vendor's email) are not the ones asked about.
        refs=find_incident_refs(asker_words(text)),
        this_incident=bool(THIS_INCIDENT_RE.search(text)),
        pronoun=bool(_PRONOUN_RE.search(text)),
        severities=severities,
        status_filter=find_status_filter(text, real_words=real_words()),
        services=found_services,
        excluded_services=excluded,
        time_frame=time_frame,
        bare_refs=_bare_refs(_remove_phrase(asker_words(text), window.label if window else None)),
        counting=bool(_COUNT_RE.search(_MEASURED_RE.sub(" ", text))),
        history=all_time or bool(_HISTORY_RE.search(text)),
        literal=_literal(text),
        residue=residue,
        described=residue,
        mentioned=residue,
    )


def _bare_refs(text: str) -> list[int]:
    """Returns the bare numbers of a question that stand for incidents ("bump 512 to sev2")."""
    if find_incident_refs(text):
        return []
    found = []
    for match in _BARE_REF_RE.finditer(text):
        number = int(match.group(1))
        before, after = text[: match.start()], text[match.end() :]
        ratio = _RATIO_AFTER_RE.match(after) or re.search(r"\d\s*(?:in|of|out of|/)\s*$", before)
        compared = _COMPARED_BEFORE_RE.search(before)
        if 1900 <= number <= 2100 or (_NOT_A_REF_BEFORE_RE.search(before) and not compared) or ratio:
            continue
        if 400 <= number <= 599 and (
            _STATUS_CODE_BEFORE_RE.search(before) or _STATUS_CODE_AFTER_RE.match(after)
        ):
            continue  # "get a 403 when they submit": an HTTP status, not incident-403
        found.append(number)
    return list(dict.fromkeys(found))


_REF_SPAN_RE = re.compile(r"(?:\bincident[\s\-_#]*|\binc[\s\-_#]*|#)\d+\b", re.IGNORECASE)
_SEVERITY_SPAN_RE = re.compile(
    r"\bsev(?:erity|s)?[\s\-_:]*[1-5](?:s|'s)?(?:\s*(?:,|/|&|and|or|-|to)\s*(?:sev[\s\-_]*)?[1-5](?:s|'s)?\b)*"
    r"|\bp[1-5]s?\b",
    re.IGNORECASE,
)


def mask_entities(text: str, *, now: datetime | None = None) -> str:
    """Returns the question with its entities replaced by fixed stand-ins, so that only its wording is left
    to compare: "bump 512 to sev2 since monday" -> "bump incident-1 to sev2 last week".

    Quoted titles, time frames, incident references (bare numbers too) and severities are masked; the
    intent classifier embeds examples and questions masked the same way.
    """
    masked = _QUOTED_RE.sub(' "title" ', text)
    window = parse_time_window(masked, now or _REFERENCE_NOW)
    if window is not None and window.label:
        masked = _remove_phrase(masked, window.label).rstrip() + " last week"
    masked = _REF_SPAN_RE.sub("incident-1", masked)
    for number in _bare_refs(masked):
        masked = re.sub(rf"(?<![\w-]){number}(?![\w])", "incident-1", masked, count=1)
    masked = _SEVERITY_SPAN_RE.sub("sev2", masked)
    return " ".join(masked.split())


def _literal(text: str) -> str | None:
    """Returns a quoted phrase, or an identifier such as `ERR_PAYMENT_DECLINED_4012` or `db-primary-03.us-east-1`."""
    quoted = _QUOTED_RE.search(text)
    if quoted:
        phrase = quoted.group(1) or quoted.group(2)
        # "the ones sitting at 'unknown'" quotes a value the filters read, not text to look for.
        if not (
            find_severities(phrase)
            or find_status(phrase)
            or _is_severity_word(phrase.strip().lower())
            or phrase.strip().lower() == "unknown"
        ):
            return phrase
    for token in text.split():
        word = token.strip("\"'“”‘’?!,;:()[]")
        if len(word) < 8 or not re.search(r"\d", word) or find_incident_refs(word) or find_severities(word):
            continue  # "sev2-or-worse" is a severity, not an identifier
        if "_" in word or re.search(r"\w[.-]\w.*[.-]\w", word):
            try:
                datetime.fromisoformat(word)
            except ValueError:
                return word
    return None


def _remove_phrase(text: str, phrase: str | None) -> str:
    if not phrase:
        return text
    return re.sub(re.escape(phrase), " ", text, flags=re.IGNORECASE)


_LIKENESS_SUFFIX_RE = re.compile(r"-(?:ish|like|style|esque|type|y)$", re.IGNORECASE)
_SUBJECT_PRONOUNS = frozenset({"we", "they", "you", "i", "we've", "they've", "we'd", "they'd"})


def _residue(text: str, *, time_frame: str | None, services: Sequence[ServiceName]) -> list[str]:
    named = set(find_services_fuzzy(text, services, real_words=real_words()))
    # "has the app had incidents? mobile folks ask": "mobile" is part of the service the question names.
    service_words = {
        word
        for service in services
        if service.name in named
        for spelling in service.spellings()
        for word in re.split(r"[\s\-_]+", spelling)
        if len(word) > 2
    }
    remaining = remove_services(_remove_phrase(_LIST_VERB_RE.sub(" ", text), time_frame), services)
    remaining = _SEVERITY_WORD_RE.sub(" ", remaining)
    remaining = re.sub(r"(?:\bincident[\s\-_#]*|\binc[\s\-_#]*|#)\d+\b", " ", remaining, flags=re.IGNORECASE)
    words = []
    previous = ""
    for found in _WORD_RE.findall(remaining):
        # "that roblox-ish consul meltdown": the one like roblox's.
        word = _LIKENESS_SUFFIX_RE.sub("", found)
        lowered = word.lower().strip("'.-")
        after_subject, previous = previous in _SUBJECT_PRONOUNS, lowered
        if not lowered or lowered in FILLER_WORDS or lowered.isdigit() or len(lowered) < 2:
            continue
        if after_subject:
            continue  # "how many did we log in october": the word after "we" is a verb, not a topic
        if find_services_fuzzy(lowered, services, real_words=real_words()) or lowered in service_words:
            continue
        if find_status_filter(lowered) or find_severities(lowered) or _is_severity_word(lowered):
            continue
        words.append(word.strip("'.-"))
    return words


def _is_severity_word(word: str) -> bool:
    try:
        parse_severity(word)
    except InvalidSeverity:
        return False
    return word != "unknown"


# --- arguments per tool ------------------------------------------------------------------------------


def resolve_incident(signals: Signals, conversation: Conversation) -> int | None:
    """Returns the incident a question is about: named, "this incident", "it", or the one in focus."""
    if signals.refs:
        return signals.refs[0]
    if signals.bare_refs and not signals.counting:
        return signals.bare_refs[0]
    if signals.this_incident:
        return conversation.focus or conversation.last_discussed()
    if signals.pronoun:
        return conversation.last_discussed() or conversation.focus
    return conversation.focus or conversation.last_discussed()


def names_incident(signals: Signals) -> bool:
    """Returns whether the question points at one incident itself ("incident-12", "this incident", "it")."""
    return bool(
        signals.refs
        or signals.this_incident
        or signals.pronoun
        or (signals.bare_refs and not signals.counting)
    )


def query_arguments(signals: Signals, *, follow_up_of: dict[str, Any] | None = None) -> dict[str, Any]:
    """Returns the `query_incidents` arguments of a question, on top of a previous query's when following up."""
    text = signals.literal or (" ".join(signals.residue) if signals.counting else None)
    found: dict[str, Any] = {
        "status": signals.status_filter or None,
        "severity": [s.value for s in signals.severities] or None,
        "services": signals.services or None,
        "exclude_services": signals.excluded_services or None,
        "time_frame": signals.time_frame,
        "text": text or None,
    }
    if (
        found["status"] == [Status.resolved.value]
        and signals.time_frame
        and not negates_completed(signals.text)
    ):
        # "what got resolved in October": every incident resolved then, completed since or not.
        found["status"] = [Status.resolved.value, Status.completed.value]
    merged = {key: value for key, value in (follow_up_of or {}).items() if key in QUERY_FILTER_KEYS and value}
    merged.update({key: value for key, value in found.items() if value})
    dropped = find_dropped_statuses(signals.text) if follow_up_of else frozenset()
    if dropped:
        # "drop the stable ones" after "what's still open": the statuses listed before, less those.
        before = parse_status_filter(follow_up_of.get("status") or [s.value for s in Status])
        merged["status"] = [status.value for status in Status if status in before - dropped]
    return {key: merged[key] for key in QUERY_FILTER_KEYS if key in merged}


_FOLLOW_UP_PART_RE = re.compile(
    # The second part starts a clause ("?", ",", ";", a dash or "and") and points back at the first.
    r"^(?P<main>.+?)(?:\?\s*|[,;]\s*|\s+[—–-]\s+|\s+(?=and\b|&))(?:and\s+|&\s+)?"
    r"(?P<rest>(?:which|did|were|was|are|is|do|does|have|has|how many|any)\b[^?]*?"
    r"\b(?:of (?:them|those|these)|any of them)\b.*)$",
    re.IGNORECASE | re.DOTALL,
)


def split_follow_up(text: str) -> tuple[str, str] | None:
    """Returns a question's main part and a second part that narrows what the first finds ("how many sev2s
    in october, and did any of them involve search?"), or None when it asks one thing."""
    match = _FOLLOW_UP_PART_RE.match(text.strip())
    if match is None or len(match.group("main").split()) < 2:
        return None
    return match.group("main").strip(" ,?"), match.group("rest").strip()


def has_query_filters(signals: Signals) -> bool:
    """Returns whether a question names any filter `query_incidents` takes."""
    return bool(
        signals.status_filter
        or signals.severities
        or signals.services
        or signals.excluded_services
        or signals.time_frame
    )


def symptom_text(signals: Signals) -> str:
    """Returns the symptom a person describes, without "is there an incident?" and asides around it."""
    text = without_asides(signals.text)
    for pattern in _ASKS_FOR_INCIDENT_RES:
        text = pattern.sub(" ", text)
    text = _remove_phrase(text, signals.time_frame)
    cleaned = " ".join(text.split()).strip(" ,;:-–—?!.")
    if len([w for w in _WORD_RE.findall(cleaned) if w.lower() not in FILLER_WORDS]) == 0:
        cleaned = " ".join(signals.text.split()).strip(" ?!.")
    return cleaned


def topic_text(signals: Signals) -> str | None:
    """Returns what a search is about ("DDOS attacks"), or None when the question names no topic."""
    match = _TOPIC_RE.search(_remove_phrase(signals.text, signals.time_frame))
    if match:
        topic = _TOPIC_TAIL_RE.sub("", match.group("topic").strip(" ?!.,")).strip(" ?!.,\"'“”")
        topic = re.sub(r"^(?:the|a|an|any|some)\s+", "", topic, flags=re.IGNORECASE)
        leading = re.match(r"(\d+)\b", topic)
        compared = leading is not None and int(leading.group(1)) in signals.bare_refs
        if (
            compared
            or find_incident_refs(topic)
            or THIS_INCIDENT_RE.search(topic)
            or _PRONOUN_RE.fullmatch(topic)
        ):
            return None  # "similar to this one", "similar to 293" compare with an incident, not a topic
        if any(w.lower() not in FILLER_WORDS for w in _WORD_RE.findall(topic)):
            return topic
    return core_phrase(signals) if (signals.residue or signals.mentioned) else None


def compares_with_focus(signals: Signals) -> bool:
    """Returns whether the question compares the incident in focus with something it describes."""
    return bool(_COMPARISON_RE.search(asker_words(signals.text)))


def core_phrase(signals: Signals) -> str | None:
    """Returns the question without its time frame and the filler words around its subject.

    "what was the cause of the checkout outage yesterday?" -> "checkout outage".
    """
    words = _WORD_RE.findall(_remove_phrase(without_asides(signals.text), signals.time_frame))
    while words and words[0].lower().strip("'.-") in FILLER_WORDS:
        words.pop(0)
    while words and words[-1].lower().strip("'.-") in FILLER_WORDS:
        words.pop()
    return " ".join(words) or None


def asks_about_now(signals: Signals) -> bool:
    """Returns whether the person asks about what is open now ("related to anything open?"), in their own
    words, rather than across the history."""
    return not signals.history and bool(_NOW_RE.search(asker_words(signals.text)))


def related_arguments(
    signals: Signals, conversation: Conversation, *, query: str | None, history: bool = False
) -> dict[str, Any]:
    """Returns the `related_incidents` arguments: the incident compared with (when not the focus), query, frame.

    With `history`, a search without a stated time frame covers all time instead of what is active now.
    """
    arguments: dict[str, Any] = {}
    if query is None:
        target = resolve_incident(signals, conversation)
        named = signals.refs or (signals.bare_refs and not signals.counting)
        if target is not None and (target != conversation.focus or named):
            # The incident in focus goes without saying, unless the question names it.
            arguments["incident"] = public_id(target)
    else:
        arguments["query"] = query
    if signals.time_frame and not (history and _story_window(signals.time_frame, conversation.reference_now)):
        arguments["time_frame"] = signals.time_frame
    elif history:
        arguments["time_frame"] = ALL_TIME
    return arguments


def _story_window(label: str, now: datetime) -> bool:
    """Returns whether a time frame is the last day or so up to now: in "they pushed a rule this morning,
    have we done this before?" it says when the story began, not where to look."""
    window = parse_time_window(label, now)
    return window is not None and window.since >= now - timedelta(hours=36)


_ORDINALS = {
    "first": 0,
    "1st": 0,
    "second": 1,
    "2nd": 1,
    "third": 2,
    "3rd": 2,
    "fourth": 3,
    "4th": 3,
    "fifth": 4,
    "5th": 4,
    "last": -1,
    "top": 0,
}
_ORDINAL_ONE_RE = re.compile(
    r"\b(?:the )?(first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|last|top) (?:one|incident|item)\b",
    re.IGNORECASE,
)
_DAY_OF_MONTH_RE = re.compile(r"\b(?:on|from) (?:the )?([1-9]|[12]\d|3[01])(?:st|nd|rd|th)\b", re.IGNORECASE)


def _describing_words(item: dict[str, Any]) -> set[str]:
    """Returns the lower-case words of a listed incident's title and services."""
    text = f"{item.get('title', '')} {' '.join(str(s) for s in item.get('services') or [])}"
    return {word.lower() for word in _WORD_RE.findall(text)}


def _shared_words(wanted: set[str], words: set[str]) -> int:
    """Returns how many wanted words a title holds, a shortening counting too ("cert" for "certificate")."""
    return sum(
        1
        for w in wanted
        if w in words
        or (len(w) >= 4 and any(t.startswith(w) or (len(t) >= 4 and w.startswith(t)) for t in words))
    )


def described_incident(description: str, conversation: Conversation) -> str | None:
    """Returns the incident of the latest listed results that a description fits ("the billing-db failover one").

    The title's words must share more with the description than any other listed incident's do.
    """
    # "who's running it" asks for the commander; "running" describes nothing.
    wanted = {
        w.lower()
        for w in _WORD_RE.findall(without_aspect_phrases(description))
        if w.lower() not in FILLER_WORDS
    }
    for message in reversed(conversation.earlier):
        if not isinstance(message, ToolMessage):
            continue
        try:
            payload = json.loads(_message_text(message))
        except ValueError:
            continue
        listed = [
            item
            for key in ("incidents", "results")
            for item in (payload.get(key) or [] if isinstance(payload, dict) else [])
            if isinstance(item, dict) and item.get("id")
        ]
        if not listed:
            continue
        ordinal = _ORDINAL_ONE_RE.search(description)
        if ordinal:
            # "who ran the second one of those?": that place in the list just shown.
            place = _ORDINALS[ordinal.group(1).lower()]
            if -len(listed) <= place < len(listed):
                return str(listed[place]["id"])
        day = _DAY_OF_MONTH_RE.search(description)
        if day:
            # "the one on the 16th": the listed incident declared that day.
            on_that_day = [
                item
                for item in listed
                if str(item.get("declared_at", ""))[8:10] == f"{int(day.group(1)):02d}"
            ]
            if len(on_that_day) == 1:
                return str(on_that_day[0]["id"])
        scored = sorted(
            ((_shared_words(wanted, _describing_words(item)), str(item["id"])) for item in listed),
            reverse=True,
        )
        if scored[0][0] > 0 and (len(scored) == 1 or scored[0][0] > scored[1][0]):
            return scored[0][1]
        return None
    return None


def target_severity(signals: Signals) -> Severity | None:
    """Returns the severity a change asks for: the one after "to"/"as", else the last one named; never one
    inside quoted or pasted text."""
    own = asker_words(signals.text)
    segment = _TARGET_SEGMENT_RE.search(own)
    if segment:
        named = find_severities(segment.group("segment"))
        if named:
            return named[0]
        for word in _WORD_RE.findall(segment.group("segment")):
            if _is_severity_word(word.lower()):
                return parse_severity(word)
    named = find_severities(own)
    if named:
        return named[-1]
    # A bare word ("minor", "critical") names a severity only as one: "it's minor", "a minor incident";
    # "a k8s minor upgrade" describes an upgrade.
    words = [
        word
        for match in _BARE_SEVERITY_WORD_RE.finditer(own)
        if (word := match.group(1) or match.group(2)) and _is_severity_word(word.lower())
    ]
    return parse_severity(words[-1]) if words else None


_BARE_SEVERITY_WORD_RE = re.compile(
    r"(?:\b(?:it'?s|it is|this is|that'?s|is|as|to|be)\s+(?:an?\s+)?([a-z]+)\b)"
    r"|\b([a-z]+)(?=\s+(?:incident|issue|one|outage|sev|severity|priority)\b)",
    re.IGNORECASE,
)


def target_status(signals: Signals) -> Status | None:
    """Returns the status a change asks for: the one after "to"/"as", else the first one named; never one
    inside quoted or pasted text."""
    own = asker_words(signals.text)
    segment = _TARGET_SEGMENT_RE.search(own)
    if segment:
        status = find_status(segment.group("segment"))
        if status is not None:
            return status
    return find_status(own, real_words=real_words())


def declare_arguments(
    signals: Signals, conversation: Conversation, *, services: Sequence[ServiceName]
) -> dict[str, Any] | None:
    """Returns the `declare` arguments, or None when nothing says what the incident is about.

    The title comes from the request, else the symptom asked about just before, else the channel.
    """
    # Spelling is corrected in `signals.text`; a quoted title keeps the person's own words.
    title = _quoted_title(conversation.question) or _quoted_title(signals.text)
    described = _declare_title(signals.text)
    if described is not None and not has_content(remove_services(described, services)):
        # "ok then declare one. sev3, orders + checkout": services only; what it is about was said before.
        described = _previous_symptom(conversation) or described
    title = title or described or _previous_symptom(conversation)
    if not title and conversation.channel:
        title = DEFAULT_DECLARE_TITLE_CHANNEL.format(channel=conversation.channel)
    if not title:
        return None
    arguments: dict[str, Any] = {"title": title}
    if signals.severities:
        arguments["severity"] = signals.severities[0].value
    stated = _SERVICES_STATED_RE.search(asker_words(signals.text))
    # "..., every order. sev3, service is checkout": the services the person states are the list; the
    # words of the title only suggest services when none are stated.
    named = (stated and find_services_fuzzy(stated.group(1), services, real_words=real_words())) or (
        find_services_fuzzy(f"{title} {signals.text}", services, real_words=real_words())
    )
    if named:
        arguments["services"] = named
    if _CUSTOMER_RE.search(title):
        arguments["customer_impact"] = title
    return arguments


_SERVICES_STATED_RE = re.compile(
    r"\b(?:services?|svcs?|components?|systems?)(?:\s+(?:is|are|affected|impacted|hit))?\s*(?:[:=]|\bis\b|\bare\b|-)?\s+"
    r"([^.;!?]+)",
    re.IGNORECASE,
)
_TITLE_CUE_RE = re.compile(r"(?:\b(?:for|called|titled|named|title|re|about)|[:\-–—])\s*$", re.IGNORECASE)
_HEDGE_TAIL_RE = re.compile(
    r"(?:[\s,.]+(?:i guess|i think|i'd say|probably|prob|maybe|imo|for now|pls|please|thx|thanks|asap))+[\s.!?]*$",
    re.IGNORECASE,
)


def _quoted_title(text: str) -> str | None:
    """Returns a quoted title given as the title ("an incident for "Search results stale", sev3"), not a
    quote inside a description ("customers see 'invalid code'")."""
    match = _DECLARE_REST_RE.search(text)
    rest_start = match.start("rest") if match else 0
    for quoted in _QUOTED_RE.finditer(text):
        before = text[rest_start : quoted.start()] if quoted.start() >= rest_start else text[: quoted.start()]
        if not has_content(before) or _TITLE_CUE_RE.search(before):
            return quoted.group(1) or quoted.group(2)
    return None


def _declare_title(text: str) -> str | None:
    match = _DECLARE_REST_RE.search(text)
    rest = match.group("rest") if match else ""
    # "declare a SEV-1 incident for payments being down": the noun after the severity is not the title.
    rest = re.sub(r"^(?:incident|outage)\b\s*(?:for|about|:|-|,)?\s*", "", rest, flags=re.IGNORECASE)
    rest = _SEVERITY_WORD_RE.sub(" ", rest)
    if not has_content(rest):
        # "Payments are failing for EU cards. Declare an incident." says it before the request.
        rest = _DECLARE_CLAUSE_RE.sub(" ", text)
    # The first sentence that says something is the title: "... to everyone.. sev4 i guess", "...
    # for valid codes. checkout svc".
    sentences = [part for part in re.split(r"(?<=[.!?])\s+|\.{2,}", rest) if has_content(part)]
    rest = _HEDGE_TAIL_RE.sub("", sentences[0]) if sentences else rest
    rest = re.sub(r"^(?:the|a|an)\s+", "", " ".join(rest.split()).strip(" ,;:-–—?!."), flags=re.IGNORECASE)
    if not has_content(rest):
        return None
    return (rest[0].upper() + rest[1:])[:200]


def has_content(text: str) -> bool:
    """Returns whether the text says something: a word that is neither filler nor a severity."""
    words = [w.lower() for w in _WORD_RE.findall(text)]
    return any(w not in FILLER_WORDS and not _SEVERITY_WORD_RE.fullmatch(w) for w in words)


def _previous_symptom(conversation: Conversation) -> str | None:
    previous = conversation.previous_call("related_incidents")
    query = previous.get("query") if previous else None
    if isinstance(query, str) and has_content(query):
        return query[0].upper() + query[1:]
    return None


def postmortem_arguments(signals: Signals, incident: int | None) -> dict[str, Any]:
    """Returns the `draft_postmortem` arguments: the incident, a named template, and whether to replace."""
    arguments: dict[str, Any] = {"incident": public_id(incident) if incident is not None else None}
    template = _TEMPLATE_RE.search(signals.text)
    # "the default template" / "the usual template" name no template: the store's default applies.
    if template and template.group(1).lower() not in _NOT_A_TEMPLATE_NAME | {
        "default",
        "usual",
        "standard",
        "normal",
        "regular",
    }:
        arguments["template"] = template.group(1).lower()
    if _REPLACE_RE.search(signals.text):
        arguments["replace"] = True
    return {key: value for key, value in arguments.items() if value is not None}

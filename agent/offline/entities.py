"""The entity stage of the offline model: the values a question names, read once (`read_signals`).

Words become values in `agent.normalize` (severities, statuses, services, incident references) and
`agent.time_windows` (time frames); this module finds them in a question and says which ones it asks with:
what it sets aside ("apart from payments"), bare numbers that can only mean an incident ("what caused
498?"), quoted text and identifiers to look for as written, the words left over that may be its topic,
and the asides around it that restrict nothing. It also masks a question's entities for the intent
classifier (`mask_entities`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from agent.incidents.enums import Severity
from agent.incidents.exceptions import InvalidSeverity
from agent.lexicon import MEASURED_QUANTITY_PHRASES, asker_words, without_aspect_phrases
from agent.normalize import (
    THIS_INCIDENT_RE,
    ServiceName,
    find_incident_refs,
    find_services_fuzzy,
    find_severities,
    find_severity_filter,
    find_status,
    find_status_filter,
    parse_severity,
    remove_services,
)
from agent.time_windows import ALL_TIME_START, parse_time_window

# Without a `Current time:` line, phrases are still recognised against this reference; only the phrase
# is passed on, and the tool resolves it against the run's real clock.
REFERENCE_NOW = datetime(2100, 1, 1, tzinfo=UTC)

PRONOUN_RE = re.compile(
    r"\b(it|its|it's|that one|that incident|the incident|same incident|this one)\b", re.IGNORECASE
)
_COUNT_RE = re.compile(
    r"\b(how many|number of|count|counts|total|tally|how often|how frequently)\b", re.IGNORECASE
)
_MEASURED_RE = re.compile(MEASURED_QUANTITY_PHRASES, re.IGNORECASE)
WORD_RE = re.compile(r"[A-Za-z0-9][\w.'-]*")
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
SEVERITY_WORD_RE = re.compile(r"\b(?:sev(?:erity)?|s)[\s\-_:]*[1-5](?:s|'s)?\b", re.IGNORECASE)

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

_LIST_VERB_RE = re.compile(
    r"\b(?:pull|bring|dig|call|dredge|rustle) up\b|\b(?:dig|look|go) (?:thru|through|into|back)\b",
    re.IGNORECASE,
)
"""Verbs that ask for a list ("pull up dns incidents since august"), whatever "pull" means in a title."""
# "search for ...", "can you search incidents": the verb, not the service. After a quantifier or an article
# ("how many search incidents", "the search outages") the word names the service.
_SEARCH_VERB_RE = re.compile(
    r"(?<!\bmany )(?<!\bany )(?<!\bthe )(?<!\bof )(?<!\ball )(?<!\bour )(?<!\bmost )(?<!\bfew )"
    r"\bsearch (?:for|through|all|the history|incidents|my|our)\b",
    re.IGNORECASE,
)
_HISTORY_RE = re.compile(
    r"\b(ever|before|previously|historically|have we (had|seen)|did we (ever )?(have|see)|"
    # "charged again and again" tells what happened, it does not look back.
    r"has (this|that|it) happened|(the )?last time|once|(?<!and )again(?! and again)|in the past|"
    r"what do we have|have we got|(?:older|past|previous|prior|earlier) (?:incidents|outages|ones)|further back|"
    # Asking how often, or when something has happened, looks back over the history.
    r"how often|how many times|when (?:has|have)|"
    r"familiar|rings? a bell|deja vu|déjà vu)\b",
    re.IGNORECASE,
)
# Quoted text is a literal to look for; a single quote counts only around whole words ("it's" is no quote).
QUOTED_RE = re.compile(r"[\"“]([^\"”]{3,80})[\"”]|(?<![\w'])'([^']{3,80})'(?![\w'])")


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
    # The form the answer should take: "just need the list, not the whole story".
    r"|^\s*(?:just\s+|only\s+)?need (?:the|a|an) (?:list|count|number|names|ids|links?|gist)\b[^?]*$"
    # Who asks: "security is asking:", "my manager wants to know:".
    r"|^\s*(?:[\w'-]+\s+){0,3}(?:(?:is|are|was|were|keeps?|kept)\s+asking|asked|wants? to know)\s*:?\s*$"
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
        or SEVERITY_WORD_RE.search(part)
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


def has_query_filters(signals: Signals) -> bool:
    """Returns whether a question names any filter `query_incidents` takes."""
    return bool(
        signals.status_filter
        or signals.severities
        or signals.services
        or signals.excluded_services
        or signals.time_frame
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
        pronoun=bool(PRONOUN_RE.search(text)),
        severities=severities,
        status_filter=find_status_filter(text, real_words=real_words()),
        services=found_services,
        excluded_services=excluded,
        time_frame=time_frame,
        bare_refs=_bare_refs(remove_phrase(asker_words(text), window.label if window else None)),
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
    masked = QUOTED_RE.sub(' "title" ', text)
    window = parse_time_window(masked, now or REFERENCE_NOW)
    if window is not None and window.label:
        masked = remove_phrase(masked, window.label).rstrip() + " last week"
    masked = _REF_SPAN_RE.sub("incident-1", masked)
    for number in _bare_refs(masked):
        masked = re.sub(rf"(?<![\w-]){number}(?![\w])", "incident-1", masked, count=1)
    masked = _SEVERITY_SPAN_RE.sub("sev2", masked)
    return " ".join(masked.split())


def _literal(text: str) -> str | None:
    """Returns a quoted phrase, or an identifier such as `ERR_PAYMENT_DECLINED_4012` or `db-primary-03.us-east-1`."""
    quoted = QUOTED_RE.search(text)
    if quoted:
        phrase = quoted.group(1) or quoted.group(2)
        # "the ones sitting at 'unknown'" quotes a value the filters read, not text to look for.
        if not (
            find_severities(phrase)
            or find_status(phrase)
            or is_severity_word(phrase.strip().lower())
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


def remove_phrase(text: str, phrase: str | None) -> str:
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
    remaining = remove_services(remove_phrase(_LIST_VERB_RE.sub(" ", text), time_frame), services)
    remaining = SEVERITY_WORD_RE.sub(" ", remaining)
    remaining = re.sub(r"(?:\bincident[\s\-_#]*|\binc[\s\-_#]*|#)\d+\b", " ", remaining, flags=re.IGNORECASE)
    words = []
    previous = ""
    for found in WORD_RE.findall(remaining):
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
        if find_status_filter(lowered) or find_severities(lowered) or is_severity_word(lowered):
            continue
        words.append(word.strip("'.-"))
    return words


def is_severity_word(word: str) -> bool:
    try:
        parse_severity(word)
    except InvalidSeverity:
        return False
    return word != "unknown"

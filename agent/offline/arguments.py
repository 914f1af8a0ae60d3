"""Tool-call arguments for the offline model, from a question's intent and entities.

`agent.offline.entities` reads the values a question names and `agent.offline.conversation` what surrounds
it; this module decides which of those values a question gives to which argument: the incident it is
about, the filters of a query (on top of the previous query's for follow-ups like "and which of those hit
payments?"), what a search looks for, the value a change asks for, and what a declaration or a postmortem
draft is given.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from agent.incidents.enums import Severity, Status
from agent.lexicon import asker_words
from agent.normalize import (
    THIS_INCIDENT_RE,
    ServiceName,
    find_dropped_statuses,
    find_incident_refs,
    find_services_fuzzy,
    find_severities,
    find_status,
    negates_completed,
    parse_severity,
    parse_status_filter,
    remove_services,
)
from agent.offline.conversation import Conversation
from agent.offline.entities import (
    FILLER_WORDS,
    PRONOUN_RE,
    QUOTED_RE,
    SEVERITY_WORD_RE,
    WORD_RE,
    Signals,
    is_severity_word,
    real_words,
    remove_phrase,
    split_sentences,
    without_asides,
)
from agent.time_windows import parse_time_window
from prompts.offline import DEFAULT_DECLARE_TITLE_CHANNEL

QUERY_FILTER_KEYS = ("status", "severity", "services", "exclude_services", "time_frame", "text")
"""The `query_incidents` arguments a follow-up question can add to or replace."""

_IS_THERE_AN_INCIDENT_RE = re.compile(
    r"\b(?:is|are) there (?:already |still )?(?:an? |any )?(?:ongoing |open |known |active |existing |current )?"
    r"(?:incident|issue|outage|problem)s?\b[^.?!]*[.?!]*",
    re.IGNORECASE,
)
_IS_SOMETHING_GOING_ON_RE = re.compile(
    r"\b(?:is|are) (?:something|anything|stuff|things) (?:going on|up|wrong|happening|broken)\b[^.?!]*[.?!]*",
    re.IGNORECASE,
)
_ASKS_FOR_INCIDENT_RES = (
    _IS_THERE_AN_INCIDENT_RE,
    re.compile(r"\bdo we (?:know|have)\b(?: about)?[^.?!]*[.?!]*", re.IGNORECASE),
    _IS_SOMETHING_GOING_ON_RE,
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
    # The topic ends with its sentence: "related to BGP going sideways? trying to see a pattern" (a dot
    # inside a name, "db-primary-03.us-east-1", does not end it).
    r"to do with|linked to|connected to)\s+(?P<topic>(?:[^?!.]|\.(?!\s|$))+)",
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
    r"|\bdeclare(?:\s+(?:pls|please|plz|asap|now))?\s*[:\-–—]|\b(?:declare|open|raise|start|create|file|log|kick off|spin up|trigger)\b.{0,30}?"
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


def public_id(number: int) -> str:
    """Returns the public id of an incident number (`incident-12`)."""
    return f"incident-{number}"


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


def the_question(text: str, signals: Signals) -> str:
    """Returns the sentences of a message that ask, when they hold a topic word and the others only tell
    ("autovacuum keeps falling behind... has xid wraparound ever hit us?" asks about the wraparound)."""
    sentences = split_sentences(text)
    topical = {word.lower() for word in signals.residue}
    asked = [sentence for sentence in sentences if sentence.rstrip().endswith("?")]
    about = any(w.lower() in topical for sentence in asked for w in WORD_RE.findall(sentence))
    return " ".join(asked) if about and len(asked) < len(sentences) else text


def symptom_text(signals: Signals) -> str:
    """Returns the symptom a person describes, without "is there an incident?" and asides around it."""
    told = without_asides(signals.text)
    # The question's own sentence first; when it only asks ("known issue?"), the whole message.
    for text in dict.fromkeys([the_question(told, signals), told]):
        for pattern in _ASKS_FOR_INCIDENT_RES:
            text = pattern.sub(" ", text)
        cleaned = " ".join(remove_phrase(text, signals.time_frame).split()).strip(" ,;:-–—?!.")
        if any(w.lower() not in FILLER_WORDS for w in WORD_RE.findall(cleaned)):
            return cleaned
    return " ".join(signals.text.split()).strip(" ?!.")


def topic_text(signals: Signals) -> str | None:
    """Returns what a search is about ("DDOS attacks"), or None when the question names no topic."""
    match = _TOPIC_RE.search(without_asides(remove_phrase(signals.text, signals.time_frame)))
    if match:
        topic = _TOPIC_TAIL_RE.sub("", match.group("topic").strip(" ?!.,")).strip(" ?!.,\"'“”")
        topic = re.sub(r"^(?:the|a|an|any|some)\s+", "", topic, flags=re.IGNORECASE)
        leading = re.match(r"(\d+)\b", topic)
        compared = leading is not None and int(leading.group(1)) in signals.bare_refs
        if (
            compared
            or find_incident_refs(topic)
            or THIS_INCIDENT_RE.search(topic)
            or PRONOUN_RE.fullmatch(topic)
        ):
            return None  # "similar to this one", "similar to 293" compare with an incident, not a topic
        if any(w.lower() not in FILLER_WORDS for w in WORD_RE.findall(topic)):
            return topic
    before = _RELATED_AFTER_RE.search(remove_phrase(signals.text, signals.time_frame))
    if before:
        # "everything ddos related", "dns-related stuff": the words before "related" are the topic.
        words = [w for w in re.split(r"[\s-]+", before.group("topic")) if w.lower() not in FILLER_WORDS]
        if words:
            return " ".join(words)
    return core_phrase(signals) if (signals.residue or signals.mentioned) else None


_RELATED_AFTER_RE = re.compile(
    r"\b(?P<topic>(?:[\w./]+[\s-]+)?[\w./]+)[\s-]+related\b(?!\s+to\b)", re.IGNORECASE
)


def compares_with_focus(signals: Signals) -> bool:
    """Returns whether the question compares the incident in focus with something it describes."""
    return bool(_COMPARISON_RE.search(asker_words(signals.text)))


def core_phrase(signals: Signals) -> str | None:
    """Returns the question without its time frame and the filler words around its subject.

    "what was the cause of the checkout outage yesterday?" -> "checkout outage".
    """
    words = WORD_RE.findall(
        remove_phrase(the_question(without_asides(signals.text), signals), signals.time_frame)
    )
    while words and words[0].lower().strip("'.-") in FILLER_WORDS:
        words.pop(0)
    while words and words[-1].lower().strip("'.-") in FILLER_WORDS:
        if len(words) > 1 and words[-1].lower() in _PARTICLES and words[-2].lower() not in FILLER_WORDS:
            break  # "couldn't check out", "can't log in": the particle is part of the verb
        words.pop()
    return " ".join(words) or None


_PARTICLES = frozenset({"in", "out", "over", "up", "down", "back", "off", "on"})


def asks_about_now(signals: Signals) -> bool:
    """Returns whether the person asks about what is open now ("related to anything open?"), in their own
    words, rather than across the history."""
    asked = asker_words(signals.text)
    # "Is there an incident?" asks about the present as plainly as "right now" does.
    present = _NOW_RE.search(asked) or _IS_SOMETHING_GOING_ON_RE.search(asked)
    return not signals.history and bool(
        present or (_IS_THERE_AN_INCIDENT_RE.search(asked) and "known" not in asked.lower())
    )


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


def target_severity(signals: Signals) -> Severity | None:
    """Returns the severity a change asks for: the one after "to"/"as", else the last one named; never one
    inside quoted or pasted text."""
    own = asker_words(signals.text)
    segment = _TARGET_SEGMENT_RE.search(own)
    if segment:
        named = find_severities(segment.group("segment"))
        if named:
            return named[0]
        for word in WORD_RE.findall(segment.group("segment")):
            if is_severity_word(word.lower()):
                return parse_severity(word)
    named = find_severities(own)
    if named:
        return named[-1]
    # A bare word ("minor", "critical") names a severity only as one: "it's minor", "a minor incident";
    # "a k8s minor upgrade" describes an upgrade.
    words = [
        word
        for match in _BARE_SEVERITY_WORD_RE.finditer(own)
        if (word := match.group(1) or match.group(2)) and is_severity_word(word.lower())
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
_TITLE_CUE_RE = re.compile(
    r"(?:\b(?:for|called|titled|named|title|re|about|declare)|[:\-–—])\s*$", re.IGNORECASE
)
_HEDGE_TAIL_RE = re.compile(
    r"(?:[\s,.]+(?:i guess|i think|i'd say|probably|prob|maybe|imo|for now|pls|please|thx|thanks|asap))+[\s.!?]*$",
    re.IGNORECASE,
)


def _quoted_title(text: str) -> str | None:
    """Returns a quoted title given as the title ("an incident for "Search results stale", sev3"), not a
    quote inside a description ("customers see 'invalid code'")."""
    match = _DECLARE_REST_RE.search(text)
    rest_start = match.start("rest") if match else 0
    for quoted in QUOTED_RE.finditer(text):
        before = text[rest_start : quoted.start()] if quoted.start() >= rest_start else text[: quoted.start()]
        if not has_content(before) or _TITLE_CUE_RE.search(before):
            return quoted.group(1) or quoted.group(2)
    return None


def _declare_title(text: str) -> str | None:
    match = _DECLARE_REST_RE.search(text)
    rest = match.group("rest") if match else ""
    # "declare a SEV-1 incident for payments being down": the noun after the severity is not the title.
    rest = re.sub(r"^(?:incident|outage)\b\s*(?:for|about|:|-|,)?\s*", "", rest, flags=re.IGNORECASE)
    rest = SEVERITY_WORD_RE.sub(" ", rest)
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
    words = [w.lower() for w in WORD_RE.findall(text)]
    return any(w not in FILLER_WORDS and not SEVERITY_WORD_RE.fullmatch(w) for w in words)


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

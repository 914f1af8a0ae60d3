"""The one place where people's words become domain values.

Severities ("sev1", "Sev-1", "SEV 1", "critical"), statuses ("ongoing", "mitigated"), incident references
(`incident-123`, `#123`, `INC-123`) and service names and aliases are parsed here, time windows in
`agent.time_windows`, so the tools, the offline model, the CLI and Slack agree on what a phrase means.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from agent.incidents.enums import ONGOING_STATUSES, Severity, Status
from agent.incidents.exceptions import InvalidInput, InvalidSeverity, InvalidStatus
from agent.lexicon import CLOSED_PHRASES

# --- severity ----------------------------------------------------------------------------------------

_SEVERITY_WORDS: dict[str, Severity] = {
    "critical": Severity.sev1,
    "crit": Severity.sev1,
    "major": Severity.sev2,
    "high": Severity.sev2,
    "medium": Severity.sev3,
    "moderate": Severity.sev3,
    "minor": Severity.sev4,
    "low": Severity.sev4,
    "trivial": Severity.sev5,
    "cosmetic": Severity.sev5,
    "unknown": Severity.unknown,
}
_SEVERITY_RE = re.compile(r"^\s*(?:sev(?:erity)?|s)?[\s\-_:]*([1-5])\s*$", re.IGNORECASE)
_SEVERITY_IN_TEXT_RE = re.compile(r"\bsev(?:erity)?[\s\-_:]*([1-5])(?:s|'s)?\b", re.IGNORECASE)
SEVERITY_HELP = "use SEV-1 (worst) to SEV-5, or unknown"


def parse_severity(text: str | Severity) -> Severity:
    """Returns the severity named by `text`, or raises InvalidSeverity with the accepted forms."""
    if isinstance(text, Severity):
        return text
    cleaned = text.strip().lower()
    if cleaned in _SEVERITY_WORDS:
        return _SEVERITY_WORDS[cleaned]
    match = _SEVERITY_RE.match(cleaned)
    if match:
        return Severity(f"SEV-{match.group(1)}")
    raise InvalidSeverity(f"'{text}' is not a severity; {SEVERITY_HELP}.")


# "sev1 and 2", "sev 1/2", "sev1-3", "sev 1 to 3": one "sev" before several levels or a range.
_SEVERITY_LIST_RE = re.compile(
    r"\bsev(?:erity|s)?[\s\-_:]*([1-5])((?:\s*(?:,|/|&|\band\b|\bor\b|-|\bto\b|\bthrough\b)\s*[1-5]\b)+)",
    re.IGNORECASE,
)


def _listed_severities(match: re.Match[str]) -> list[Severity]:
    levels = [int(match.group(1))]
    for separator, level in re.findall(
        r"(,|/|&|and|or|-|to|through)\s*([1-5])", match.group(2), re.IGNORECASE
    ):
        if separator.lower() in {"-", "to", "through"}:
            levels += list(range(levels[-1] + 1, int(level) + 1))
        else:
            levels.append(int(level))
    return [Severity(f"SEV-{level}") for level in levels]


# "sev2 or worse", "sev3+", "sev2 and above": that level and every more severe one; "sev3 or lower" the
# less severe ones.
# Words may be joined by spaces or hyphens: "sev2 or worse", "sev2-or-worse".
_SEVERITY_OR_WORSE_RE = re.compile(
    (
        r"\bsev(?:erity)?[\s\-_:]*([1-5])(?:s|'s)?[\s-]*(\+(?!\s*(?:sev|s?[1-5]))|or worse|or higher|or above|and above|"
        r"and up|and higher|and worse|or more severe|or lower|or below|and below|or less|and lower|or better)"
    ).replace(" ", "[\\s-]+"),
    re.IGNORECASE,
)


# "worse than sev3" (SEV-1, SEV-2), "at least sev2" (SEV-1, SEV-2), "less severe than sev3" (SEV-4, SEV-5).
_SEVERITY_THAN_RE = re.compile(
    r"\b(worse than|higher than|more severe than|above|at least|better than|lower than|less severe than|below)\s+"
    r"(?:a\s+)?sev(?:erity)?[\s\-_:]*([1-5])\b",
    re.IGNORECASE,
)


def find_severities(text: str) -> list[Severity]:
    """Returns every severity mentioned in free text, in order of appearance, without repeats."""
    found: list[Severity] = []
    for match in _SEVERITY_THAN_RE.finditer(text):
        word, level = match.group(1).lower(), int(match.group(2))
        if word == "at least":
            levels = range(1, level + 1)
        elif word in {"worse than", "higher than", "more severe than", "above"}:
            levels = range(1, level)
        else:
            levels = range(level + 1, 6)
        found += [Severity(f"SEV-{n}") for n in levels]
    if found:
        # The level named after "than" is not itself asked for.
        return list(dict.fromkeys(found))
    for match in _SEVERITY_OR_WORSE_RE.finditer(text):
        level = int(match.group(1))
        worse = re.sub(r"[\s-]+", " ", match.group(2).lower()) in {
            "+",
            "or worse",
            "or higher",
            "or above",
            "and above",
            "and up",
            "and higher",
            "and worse",
            "or more severe",
        }
        found += [Severity(f"SEV-{n}") for n in (range(1, level + 1) if worse else range(level, 6))]
    for match in _SEVERITY_LIST_RE.finditer(text):
        found += _listed_severities(match)
    found += [Severity(f"SEV-{m.group(1)}") for m in _SEVERITY_IN_TEXT_RE.finditer(text)]
    if re.search(r"\bcritical\b", text, re.IGNORECASE):
        found.append(Severity.sev1)
    return list(dict.fromkeys(found))


_UNKNOWN_SEVERITY_RE = re.compile(
    r"(?:\b|(?<=\s))(unknown|no|missing|unset|without|w/o|lacking|untriaged|unclassified|blank|empty)[\s-]+"
    r"(?:an? |any )?(severity|sev)\b|"
    r"\b(severity|sev)(\s*[:=]+\s*|\s+(?:is|still|was|set to|at|of|as|equals?)\s+|\s+)['\"]?"
    r"(unknown|unset|missing|blank|empty|tbd|none)\b|"
    r"\b(never|not|no one|nobody)\b[\w\s]{0,25}\b(severity|sev)\b|"
    # "still don't have a sev set", "hasn't got a severity yet": a negated having, no level after it.
    r"\b(?:do|does|did|have|has|had)(?:n'?t| not)\b[\w\s]{0,20}\b(?:severity|sev)\b(?![\s:-]*[1-5])|"
    r"\b(severity|sev)\b[\w\s]{0,15}\b(not set|never set)\b|\buntriaged\b|\bunclassified\b",
    re.IGNORECASE,
)


def find_severity_filter(text: str) -> list[Severity]:
    """Returns the severities a question filters by: those `find_severities` finds, and "unknown severity"."""
    found = find_severities(text)
    if _UNKNOWN_SEVERITY_RE.search(text):
        found.append(Severity.unknown)
    return found


# --- status ------------------------------------------------------------------------------------------

_STATUS_WORDS: dict[str, Status] = {
    "active": Status.active,
    "investigating": Status.active,
    "actively": Status.active,
    "firing": Status.active,
    "reopen": Status.active,
    "reopened": Status.active,
    "stable": Status.stable,
    "stabilized": Status.stable,
    "stabilised": Status.stable,
    "mitigated": Status.stable,
    "resolved": Status.resolved,
    "resolve": Status.resolved,
    "fixed": Status.resolved,
    "closed": Status.resolved,
    "completed": Status.completed,
    "complete": Status.completed,
    "done": Status.completed,
}


_MONITORING_STATUS_RE = re.compile(
    r"\b(?:stable|mitigated|active|resolved|investigating)\s*(?:/|,|or|and)\s*monitoring\b"
    r"|\bmonitoring\s*(?:/|,|or)\s*(?:stable|mitigated|resolved)\b"
    r"|\b(?:in|into|to) monitoring\b|\bmonitoring (?:phase|state|status|mode)\b|\bbeing monitored\b",
    re.IGNORECASE,
)


def monitoring_as_status(text: str) -> str:
    """Returns the text with "monitoring" written as "stable" where it names the status page phase (fix in,
    watching: "not the stable/monitoring ones", "moved to monitoring"), not the monitoring service."""
    return _MONITORING_STATUS_RE.sub(
        lambda match: re.sub(r"monitor(?:ing|ed)", "stable", match.group(0), flags=re.IGNORECASE), text
    )


def parse_status(text: str | Status) -> Status:
    """Returns the status named by `text`, or raises InvalidStatus listing the statuses."""
    if isinstance(text, Status):
        return text
    cleaned = text.strip().lower()
    if cleaned in _STATUS_WORDS:
        return _STATUS_WORDS[cleaned]
    raise InvalidStatus(f"'{text}' is not a status; use active, stable, resolved or completed.")


def parse_status_filter(values: Iterable[str]) -> frozenset[Status]:
    """Returns the statuses a filter names; "ongoing" and "open" mean active or stable."""
    statuses: set[Status] = set()
    for value in values:
        cleaned = value.strip().lower()
        if cleaned in {"ongoing", "open", "current", "unresolved"}:
            statuses |= ONGOING_STATUSES
        else:
            statuses.add(parse_status(cleaned))
    return frozenset(statuses)


_DROPPED_STATUS_RE = re.compile(
    r"\b(?:drop|skip|minus|without|excluding|exclude|ignore|hide|leave out|not counting|apart from|except)\s+"
    r"(?:the\s+|any\s+|all\s+)?(stable|mitigated|resolved|completed|active)\b",
    re.IGNORECASE,
)


def find_dropped_statuses(text: str) -> frozenset[Status]:
    """Returns the statuses a follow-up sets aside from the list before it ("drop the stable ones")."""
    return frozenset(parse_status(match.group(1)) for match in _DROPPED_STATUS_RE.finditer(text))


# Words for a status filter in a question; "rn" and "currently" ask about what is going on now.
_ONGOING_FILTER_RE = re.compile(
    # "a cust escalation in progress" tells what else is going on; it filters no incident.
    # "how many did we open in october?": to open an incident is to declare it, not its status.
    r"\b(ongoing|(?<!we )(?<!they )(?<!you )(?<!i )(?<!to )open(?! (?:up|one|an?|new)\b)|unresolved|(?<!escalation )(?<!migration )(?<!deploy )(?<!rollout )(?<!upgrade )in progress|"
    r"still going|current|currently|rn|right now|at the moment|atm|"
    r"as we speak|now|on fire|burning|going on|happening|being worked on|worked on|in flight|live|"
    r"fires? (?:are )?(?:we(?:'re| are)? )?fighting|firefighting|not (?:yet )?(?:resolved|closed|fixed))\b",
    re.IGNORECASE,
)
_NEGATIONS = frozenset(
    """not no never except excluding without besides than isn't aren't nobody noone hasn haven wasn weren isn
    aren dont don ignore ignoring skip skipping exclude minus isnt arent hasnt havent wasnt werent didnt didn
    doesnt doesn aint""".split()
)
# "(mitigated still counts as open for me)" says what "open" covers; it does not ask for mitigated only.
_COUNTS_AS_OPEN_RE = re.compile(
    r"\b(?:mitigated|stable|stabili[sz]ed)\b(?=[^.?!()]*\bcounts?\b[^.?!()]*\b(?:open|ongoing|active|live)\b)"
    # "how many are live? stable ones count too": stable is included in what was asked, not asked alone.
    r"|\b(?:mitigated|stable|stabili[sz]ed)\b(?=[^.?!()]*\b(?:counts?|included?) (?:too|as well|also)\b)",
    re.IGNORECASE,
)
_CLOSED_RE = re.compile(CLOSED_PHRASES, re.IGNORECASE)
_CLOSED_WORD_RE = re.compile(rf"\bclosed\b|{CLOSED_PHRASES}", re.IGNORECASE)
_NEGATED_COMPLETED_RE = re.compile(
    r"\b(?:not|never|isn'?t|aren'?t|but not) (?:yet |been |fully )?complete", re.IGNORECASE
)
_EXPLICIT_ONGOING_RE = re.compile(r"\b(ongoing|open|unresolved|in progress|still going)\b", re.IGNORECASE)
_STATUS_FILTER_WORDS: dict[str, Status] = {
    word: status
    for word, status in _STATUS_WORDS.items()
    if word not in {"done", "complete", "reopen", "resolve"}  # verbs and chat words, not filters
}
# Verbs that ask for a status change ("resolve this", "close it out", "reopen incident-12").
_STATUS_VERBS: dict[str, Status] = {
    "resolve": Status.resolved,
    "close": Status.resolved,
    "reopen": Status.active,
    "re-open": Status.active,
    "mitigate": Status.stable,
    "stabilize": Status.stable,
    "stabilise": Status.stable,
    "complete": Status.completed,
}
_WORD_RE = re.compile(r"[a-z][a-z\-]*", re.IGNORECASE)


_OTHER_WORD_ENDINGS = ("er", "ers", "or", "ors", "ion", "ions", "ment", "ments")
"""Endings that make another word of a stem ("resolver", "completion"), not a misspelling of it."""


def _closest_word(word: str, vocabulary: Iterable[str], cutoff: float = 0.84) -> str | None:
    """Returns the vocabulary word a (possibly misspelt) word stands for, if it is close enough."""
    if len(word) < 5:
        return None  # short words have too many close neighbours to correct safely
    if word.endswith(_OTHER_WORD_ENDINGS):
        return None
    # Typos rarely change the first letter, and requiring it keeps "table" from becoming "stable".
    candidates = [candidate for candidate in vocabulary if candidate[:1] == word[:1]]
    matches = difflib.get_close_matches(word, candidates, n=1, cutoff=cutoff)
    return matches[0] if matches else None


_UNION_RE = re.compile(
    r"\b(incl|including|includes|included|plus|as well as|as well|also|too|along with|together with)\b"
    # "stable or ongoing", "open or mitigated": either, so both (never "stable but still open").
    r"|\b(?:stable|mitigated|active)\s*(?:or|/)\s*(?:ongoing|open|unresolved)\b"
    r"|\b(?:ongoing|open|unresolved)\s*(?:or|/)\s*(?:stable|mitigated|active)\b",
    re.IGNORECASE,
)
_CLAUSE_BOUNDARIES = frozenset({"and", "but", "or", "that", "which", "while", "where"})


# Words that may stand between a negation and the status it negates ("never got moved to completed",
# "not counting the stable ones"); any other word ends its reach ("not declared, resolved").
_NEGATION_BRIDGES = frozenset(
    """got get gotten been be being yet moved to counting including the ones any marked set as has have had
    ever really fully them it its those these that are is care about already even still in into sitting sat
    stuck left parked anything everything s thats on over""".split()
)


def _clause_before(words: Sequence[str], index: int, reach: int = 6) -> list[str]:
    """Returns the words before `words[index]` a negation can reach it across: up to `reach`, negations and
    bridges only ("never got moved to" -> completed), stopping at any other word."""
    before: list[str] = []
    reached = words[max(0, index - reach) : index]
    for position in range(len(reached) - 1, -1, -1):
        word = reached[position]
        if word in _NEGATIONS:
            before.append(word)
            continue
        # "not the stable or mitigated ones": a negation reaches every status of the list it stands before.
        listed = word in _STATUS_WORDS or (
            word in {"or", "and"} and position > 0 and reached[position - 1] in _STATUS_WORDS
        )
        # "skip anything that's already stable": "that's" (split as "that", "s") does not end the reach.
        listed = listed or (word == "that" and reached[position + 1 : position + 2] == ["s"])
        if not listed and (word in _CLAUSE_BOUNDARIES or word not in _NEGATION_BRIDGES):
            break
        before.append(word)
    return before


# "how long, declared to resolved": the two ends of a duration, not a status filter.
_SPAN_RE = re.compile(
    r"\b(?:from )?(?:declar\w*|open\w*|start\w*|detect\w*)\s*(?:to|until|till|->|→|-)\s*"
    r"(?:resolv\w*|resolution|clos\w*|fix\w*|mitigat\w*|stable|stabili[sz]\w*)\b",
    re.IGNORECASE,
)


# "open or closed doesn't matter", "resolved or not, whatever": every status.
_ANY_STATUS_RE = re.compile(
    r"\b(?:open|closed|resolved|ongoing|active|fixed)\s*(?:or|/)\s*(?:not|open|closed|resolved|ongoing|active|fixed)\b"
    r"[,\s]*(?:(?:it )?(?:doesn'?t|does not|don'?t|do not) matter|either way|whatever|regardless|both)",
    re.IGNORECASE,
)


_PARENTHESES_RE = re.compile(r"\(([^()]{1,40})\)")


def find_status_filter(text: str, *, real_words: Collection[str] = frozenset()) -> list[str]:
    """Returns the status filter a question asks for, as `query_incidents` takes it.

    Named statuses ("resolved", "mitigated" -> stable, misspellings like "resovled", but never a word of
    `real_words` such as "resolver") come first, in order;
    "ongoing", "open", "currently", "rn" or "right now" add "ongoing" (active or stable) when no status is
    named, or when "ongoing"/"open" is said alongside one.
    """
    for glossed in _PARENTHESES_RE.findall(text):
        # "closed out (completed)": the word in parentheses names the status exactly.
        named = find_status_filter(glossed, real_words=real_words)
        if named:
            return named
    found: list[str] = []
    if _ANY_STATUS_RE.search(text):
        return []
    text = _SPAN_RE.sub(" ", _COUNTS_AS_OPEN_RE.sub(" ", text))
    # "don't" is read as one word, "dont", as the negations list it.
    words = _WORD_RE.findall(re.sub(r"n[’']t\b", "nt", text.lower()))
    for index, word in enumerate(words):
        status = _STATUS_FILTER_WORDS.get(word)
        if (
            status is None
            and word not in _STATUS_WORDS
            and word not in real_words  # "resolver" is a word of its own, not a misspelt "resolved"
            and word not in _STATUS_VERBS  # "to mitigate this" is a verb, not a misspelt "mitigated"
            and not _ONGOING_FILTER_RE.fullmatch(word)
        ):
            close = _closest_word(word, [*_STATUS_FILTER_WORDS, "ongoing", "unresolved"])
            if close in {"ongoing", "unresolved"}:
                found.append("ongoing")
            elif close is not None:
                status = _STATUS_FILTER_WORDS[close]
        # "not resolved", "nobody has closed", "never got moved to completed", "closed yet?".
        negated = bool(_NEGATIONS & set(_clause_before(words, index))) or words[index + 1 : index + 2] == [
            "yet"
        ]
        if status is not None and negated:
            # "resolved but not completed": a negated status is left out; "not yet resolved" is ongoing.
            status, found = None, [*found, "ongoing"] if status is Status.resolved else found
        if status is not None:
            found.append(status.value)
    closed_phrase = _CLOSED_RE.search(text)
    if not found and closed_phrase:
        before = _WORD_RE.findall(text[: closed_phrase.start()].lower())
        if _NEGATIONS & set(_clause_before([*before, ""], len(before))):
            # "anything that isn't closed out yet": the open ones.
            return ["ongoing"]
        found.append(Status.resolved.value)
    if Status.resolved.value in found and _CLOSED_WORD_RE.search(text) and not negates_completed(text):
        # "closed" means over, whether or not the postmortem is done: resolved or completed.
        found.append(Status.completed.value)
    named = [value for value in found if value != "ongoing"]
    if not named and (found or _ONGOING_FILTER_RE.search(text)):
        return ["ongoing"]
    closed = {Status.resolved.value, Status.completed.value}
    widening = set(named) & closed or _UNION_RE.search(text)
    if named and widening and ("ongoing" in found or _EXPLICIT_ONGOING_RE.search(text)):
        # "resolved or still open", "open incl. the mitigated ones" add the open ones; "stable but still
        # open" is only stable.
        named.append("ongoing")
    if "ongoing" in named:
        # "ongoing" already holds active and stable: "stable or ongoing" is "ongoing".
        named = [value for value in named if value not in {Status.active.value, Status.stable.value}]
    return list(dict.fromkeys(named))


_SET_TO_RE = re.compile(
    r"\b(?:mark|set|move|change|flip|switch|make|put|update|bump|downgrade|upgrade)\b(?:\s+[\w-]+){0,3}?"
    r"\s+(?:as|to|in|into)\s+(.+)$|\b(?:mark|set)\s+(?:it|this|that|[\w-]+)\s+(.+)$",
    re.IGNORECASE,
)


_CHANGE_CLAUSE_RE = re.compile(
    r"\b(?:mark|set|move|change|flip|switch|make|put|update|resolve|close|reopen|re-open|mitigate|"
    r"stabili[sz]e|complete)\b",
    re.IGNORECASE,
)


def negates_completed(text: str) -> bool:
    """Returns whether a question sets completed aside ("resolved but not completed yet")."""
    return bool(_NEGATED_COMPLETED_RE.search(text))


def find_status(text: str, *, real_words: Collection[str] = frozenset()) -> Status | None:
    """Returns the status a request asks to set ("mark as stable", "resolve this", "reopen it"), or None.

    Words in `real_words` are taken as written, never as a misspelt status. The status after a change verb
    wins over one said before it ("296 is done, mark it resolved" sets resolved).
    """
    clauses = [part for part in re.split(r"[,.;!?]|\s[—–-]\s|\band\b|\bso\b", text) if part.strip()]
    ordering = [part for part in clauses if _CHANGE_CLAUSE_RE.search(part)]
    asked = _SET_TO_RE.search(ordering[-1] if ordering else text)
    narrowed = [asked.group(1) or asked.group(2)] if asked else []
    if ordering:
        narrowed.append(ordering[-1])
    for candidate in [*narrowed, text]:
        found = _status_in(candidate, real_words)
        if found is not None:
            return found
    return None


def _status_in(text: str, real_words: Collection[str]) -> Status | None:
    for word in _WORD_RE.findall(text.lower()):
        if word in _STATUS_WORDS:
            return _STATUS_WORDS[word]
        if word in _STATUS_VERBS:
            return _STATUS_VERBS[word]
        if word in real_words:
            continue
        close = _closest_word(word, [*_STATUS_WORDS, *_STATUS_VERBS])
        if close is not None:
            return _STATUS_WORDS.get(close) or _STATUS_VERBS[close]
    return None


# --- incident references -----------------------------------------------------------------------------

# "#123" names an incident, except where it numbers something else: "order #88123", "support case #164070".
_REF_RE = re.compile(
    r"(?:\bincident[\s\-_#]*|\binc[\s\-_#]*|"
    r"(?<!order )(?<!orders )(?<!ticket )(?<!case )(?<!pr )(?<!issue )(?<!invoice )(?<!po )(?<!build )"
    r"(?<!job )(?<!run )(?<!item )(?<!line )(?<!room )#)(\d{1,9})\b",
    re.IGNORECASE,
)
_BARE_NUMBER_RE = re.compile(r"^\s*(\d{1,9})\s*$")
THIS_INCIDENT_RE = re.compile(
    r"\b(this|the current|current|our) (incident|one|channel|outage|thing|issue)\b|\bthis\b(?=\s+to\b)"
    r"|(?<![\w'])(in |over |on |for )?here\b(?!'s|\s+(is|are)\b)",
    re.IGNORECASE,
)


def find_incident_refs(text: str) -> list[int]:
    """Returns the incident numbers referenced in free text, in order, without repeats."""
    return list(dict.fromkeys(int(m.group(1)) for m in _REF_RE.finditer(text)))


def parse_incident_ref(text: str | int, *, focus: int | None = None) -> int:
    """Returns the incident number `text` refers to; "this incident" means `focus`.

    Raises:
        InvalidInput: when the text names no incident, or says "this incident" with none in focus.
    """
    if isinstance(text, int):
        return text
    refs = find_incident_refs(text)
    if refs:
        return refs[0]
    bare = _BARE_NUMBER_RE.match(text)
    if bare:
        return int(bare.group(1))
    if focus is not None and (
        not text.strip() or THIS_INCIDENT_RE.search(text) or text.strip().lower() in {"it", "this"}
    ):
        return focus
    if THIS_INCIDENT_RE.search(text) or text.strip().lower() in {"it", "this", ""}:
        raise InvalidInput("Which incident? There is no incident in focus here; name one like incident-123.")
    raise InvalidInput(f"'{text}' does not name an incident; use incident-123, #123 or INC-123.")


def channel_incident_number(channel_name: str | None, prefix: str = "incident-") -> int | None:
    """Returns the incident number in a channel name like `incident-123-checkout-errors`."""
    if not channel_name or not channel_name.startswith(prefix):
        return None
    match = re.match(r"(\d+)\b", channel_name[len(prefix) :])
    return int(match.group(1)) if match else None


# --- services ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceName:
    """A service and every name people use for it."""

    name: str
    aliases: tuple[str, ...] = ()
    display_name: str | None = None

    def spellings(self) -> list[str]:
        """Returns the lower-case names to recognise, longest first so "payments api" beats "payments"."""
        return list(_spellings(self))


COMMON_SERVICE_NAMES: dict[str, tuple[str, ...]] = {
    "database": ("db", "dbs", "the db", "postgres", "mysql", "rds"),
    "kubernetes": ("k8s", "kube"),
    "email": ("mail", "smtp", "outbound mail"),
    "monitoring": ("observability", "metrics", "alerting", "o11y"),
    "object-storage": ("object store", "blob storage", "s3"),
    "certificates": ("cert", "certs", "tls certs", "ssl certs"),
    "ci-runners": ("ci", "ci runner", "build runners", "runners"),
    "package-registry": ("registry", "package repo", "package repository"),
    "load-balancer": ("lb", "lbs", "load balancers"),
    "identity": ("sso", "idp"),
    "queue": ("message queue", "message broker", "broker", "rabbitmq"),
    "cache": ("caching", "memcached", "redis"),
    "api-gateway": ("gateway", "api gw"),
    "network": ("networking",),
    "deploy-pipeline": ("deploys", "deploy pipeline"),
}
"""Everyday names of services with generic names, for stores that list a service under that name but
record no aliases ("the db" for `database`, "k8s" for `kubernetes`)."""


@lru_cache(maxsize=1024)
def _spellings(service: ServiceName) -> tuple[str, ...]:
    # Cached: questions are matched against every spelling of every service.
    names = {
        service.name,
        *(service.aliases),
        *([service.display_name] if service.display_name else []),
        *COMMON_SERVICE_NAMES.get(service.name.lower(), ()),
    }
    variants = set()
    for name in names:
        lowered = name.lower().strip()
        variants |= {
            lowered,
            lowered.replace("-", " "),
            lowered.replace("_", " "),
            lowered.replace(" ", "-"),
        }
    return tuple(sorted((v for v in variants if v), key=lambda v: (-len(v), v)))


@lru_cache(maxsize=4096)
def _spelling_pattern(spelling: str) -> re.Pattern[str]:
    escaped = re.escape(spelling).replace(r"\ ", r"[\s\-_]+")
    # A trailing "s", "'s" or "-service" still names the service ("payment" and "payments").
    return re.compile(rf"(?<![\w-]){escaped}(?:s|'s|-related|-ish|-side|-wise)?(?![\w-])", re.IGNORECASE)


def find_services(text: str, services: Sequence[ServiceName]) -> list[str]:
    """Returns the canonical names of the services mentioned in free text, in order of appearance."""
    hits: list[tuple[int, str]] = []
    for service in services:
        for spelling in service.spellings():
            match = _spelling_pattern(spelling).search(text)
            if match:
                hits.append((match.start(), service.name))
                break
            if spelling.endswith("s") and len(spelling) > 4:
                match = _spelling_pattern(spelling[:-1]).search(text)
                if match:
                    hits.append((match.start(), service.name))
                    break
    return list(dict.fromkeys(name for _, name in sorted(hits)))


def resolve_service(name: str, services: Sequence[ServiceName]) -> str:
    """Returns the canonical name of one service, or raises InvalidInput naming the known services."""
    wanted = name.strip().lower()
    for service in services:
        if wanted in service.spellings() or wanted.rstrip("s") in service.spellings():
            return service.name
    found = find_services(name, services)
    if len(found) == 1:
        return found[0]
    known = ", ".join(s.name for s in services)
    raise InvalidInput(f"There is no service called '{name}'. Known services: {known}.")


def service_as_written(name: str, text: str, services: Sequence[ServiceName]) -> str | None:
    """Returns the spelling of the service `name` that the text uses ("waf" for edge), as `find_services`
    finds it, or None when the text names it in no spelling of its own."""
    for service in services:
        if service.name == name:
            return next((s for s in service.spellings() if _spelling_pattern(s).search(text)), None)
    return None


def remove_services(text: str, services: Sequence[ServiceName]) -> str:
    """Returns the text with every exact mention of a service blanked out, longest spellings first."""
    spellings = sorted((s for service in services for s in service.spellings()), key=len, reverse=True)
    for spelling in spellings:
        text = _spelling_pattern(spelling).sub(" ", text)
    return text


def find_services_fuzzy(
    text: str, services: Sequence[ServiceName], *, real_words: Collection[str] = frozenset()
) -> list[str]:
    """Returns the services mentioned in free text, forgiving typos ("paymnets"), in order of appearance.

    Exact mentions are found as `find_services` finds them; a word of five letters or more that names no
    service exactly is matched to the closest one-word spelling, if it is close enough and is not a word of
    `real_words` ("what broke" is not a misspelt "broker").
    """
    exact = find_services(text, services)
    by_spelling = {
        spelling: service.name
        for service in services
        for spelling in service.spellings()
        if " " not in spelling and len(spelling) >= 4
    }
    hits: list[tuple[int, str]] = []
    for match in _WORD_RE.finditer(text.lower()):
        word = match.group(0).strip("-")
        if word in by_spelling or word.rstrip("s") in by_spelling or word in real_words:
            continue
        close = _closest_word(word, by_spelling)
        if close is not None:
            hits.append((match.start(), by_spelling[close]))
    fuzzy = [name for _, name in sorted(hits) if name not in exact]
    return list(dict.fromkeys([*exact, *fuzzy]))

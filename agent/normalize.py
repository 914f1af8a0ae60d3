"""The one place where people's words become domain values.

Severities ("sev1", "Sev-1", "SEV 1", "critical"), statuses ("ongoing", "mitigated"), incident references
(`incident-123`, `#123`, `INC-123`), service names and aliases, and relative time windows ("past week",
"since Monday", "last 2 hours") are all parsed here, so the tools, the offline model, the CLI and Slack
agree on what a phrase means.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
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
    r"\b(severity|sev) (is |still |was |set to |at |of )?['\"]?(unknown|unset|missing|blank|empty|tbd|none)\b|"
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
    r"\b(ongoing|open|unresolved|in progress|still going|current|currently|rn|right now|at the moment|atm|"
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
    stuck left parked anything everything s thats""".split()
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


def find_status_filter(text: str, *, real_words: Collection[str] = frozenset()) -> list[str]:
    """Returns the status filter a question asks for, as `query_incidents` takes it.

    Named statuses ("resolved", "mitigated" -> stable, misspellings like "resovled", but never a word of
    `real_words` such as "resolver") come first, in order;
    "ongoing", "open", "currently", "rn" or "right now" add "ongoing" (active or stable) when no status is
    named, or when "ongoing"/"open" is said alongside one.
    """
    found: list[str] = []
    text = _SPAN_RE.sub(" ", _COUNTS_AS_OPEN_RE.sub(" ", text))
    words = _WORD_RE.findall(text.lower())
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


def remove_services(text: str, services: Sequence[ServiceName]) -> str:
    """Returns the text with every exact mention of a service blanked out, longest spellings first."""
    spellings = sorted((s for service in services for s in service.spellings()), key=len, reverse=True)
    for spelling in spellings:
        text = _spelling_pattern(spelling).sub(" ", text)
    return text


def find_services_fuzzy(text: str, services: Sequence[ServiceName]) -> list[str]:
    """Returns the services mentioned in free text, forgiving typos ("paymnets"), in order of appearance.

    Exact mentions are found as `find_services` finds them; a word of five letters or more that names no
    service exactly is matched to the closest one-word spelling, if it is close enough.
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
        if word in by_spelling or word.rstrip("s") in by_spelling:
            continue
        close = _closest_word(word, by_spelling)
        if close is not None:
            hits.append((match.start(), by_spelling[close]))
    fuzzy = [name for _, name in sorted(hits) if name not in exact]
    return list(dict.fromkeys([*exact, *fuzzy]))


# --- time windows ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeWindow:
    """A half-open interval [since, until) in UTC, with the words it came from."""

    since: datetime
    until: datetime
    label: str


_UNIT_SECONDS = {
    "minute": 60,
    "min": 60,
    "m": 60,
    "hour": 3600,
    "hr": 3600,
    "h": 3600,
    "day": 86400,
    "d": 86400,
    "week": 7 * 86400,
    "wk": 7 * 86400,
    "w": 7 * 86400,
    "month": 30 * 86400,
    "mo": 30 * 86400,
    "quarter": 91 * 86400,
    "year": 365 * 86400,
    "yr": 365 * 86400,
    "y": 365 * 86400,
}
NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
}
"""Numbers people spell out; callers add the words of their own phrases ("a week", "no incidents")."""
_NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    **NUMBER_WORDS,
    "twelve": 12,
    "fourteen": 14,
    "thirty": 30,
    "few": 3,
    "couple": 2,
    "couple of": 2,
}
_UNIT = r"(minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|wks?|w|months?|mos?|quarters?|years?|yrs?|y)"
_NUM = (
    r"(\d+|(?:a )?few|(?:a )?couple(?: of)?|a|an|one|two|three|four|five|six|seven|eight|nine|ten|twelve|"
    r"fourteen|thirty)"
)
_LAST_N_RE = re.compile(
    rf"\b(?:past|last|previous|prev|within(?: the)?(?: last| past)?|in the (?:last|past)|"
    rf"(?:look(?:ing)?|go(?:ing)?|went|check(?:ing)?|search(?:ing)?) back(?: over)?(?: the)?(?: last| past)?)"
    rf"\s+{_NUM}\s*{_UNIT}\b",
    re.IGNORECASE,
)
_N_AGO_RE = re.compile(rf"\b{_NUM}\s*{_UNIT}\s+(?:ago|back)\b", re.IGNORECASE)
_LAST_UNIT_RE = re.compile(
    r"\b(?:past|last|previous|prev|this past)\s+(hour|day|week|month|quarter|year|24\s*h(?:ours|rs)?)\b",
    re.IGNORECASE,
)
_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_SINCE_RE = re.compile(
    r"\bsince\s+(.+?)(?:[?.!,;:(—–]|\s-\s|\band\b|\bthat\b|\bwhich\b|\bhow\b|\bwhen\b|$)", re.IGNORECASE
)


def _unit_seconds(unit: str) -> int:
    unit = unit.lower()
    if unit in _UNIT_SECONDS:
        return _UNIT_SECONDS[unit]
    return _UNIT_SECONDS[unit.rstrip("s")]


def _number(word: str) -> int:
    word = word.lower().removeprefix("a ")
    return int(word) if word.isdigit() else _NUMBER_WORDS[word]


def _start_of_day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _since_phrase(phrase: str, now: datetime) -> datetime | None:
    phrase = phrase.strip().lower()
    month = re.match(rf"({_MONTH_NAMES})\b(?!\s+\d)", phrase)
    if month:
        # "since october", "since september — how many?": from the start of that month.
        return _month_start(month.group(1), now)
    if phrase in {"yesterday"}:
        return _start_of_day(now) - timedelta(days=1)
    if phrase in {"today", "this morning"}:
        return _start_of_day(now)
    first = phrase.removeprefix("last ").split(" ")[0]
    phrase = _WEEKDAY_ABBREVIATIONS.get(first, phrase)
    for index, day in enumerate(_WEEKDAYS):
        if phrase in {day, f"last {day}"} or phrase.startswith(day):
            # The most recent such day before today; "since Monday" on a Monday means a week ago.
            days_back = (now.weekday() - index) % 7 or 7
            return _start_of_day(now) - timedelta(days=days_back)
    import dateparser  # lazy: slow to import, and only needed for absolute dates

    parsed = dateparser.parse(
        phrase,
        settings={
            "RELATIVE_BASE": now.replace(tzinfo=None),
            "TIMEZONE": "UTC",
            "RETURN_AS_TIMEZONE_AWARE": True,
            "PREFER_DATES_FROM": "past",
        },
    )
    if parsed is None or parsed > now:
        return None
    return parsed.astimezone(UTC)


def parse_time_window(text: str, now: datetime) -> TimeWindow | None:
    """Returns the time window a question mentions ("past week", "since Monday"), or None if it names none."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    lowered = text.lower()
    calendar = _calendar_window(lowered, now)
    if calendar is not None:
        return calendar
    match = _LAST_N_RE.search(lowered) or _N_AGO_RE.search(lowered)
    if match:
        seconds = _number(match.group(1)) * _unit_seconds(match.group(2))
        return TimeWindow(now - timedelta(seconds=seconds), now, match.group(0).strip())
    match = _LAST_UNIT_RE.search(lowered)
    if match:
        unit = match.group(1)
        seconds = 86400 if unit.startswith("24") else _unit_seconds(unit)
        return TimeWindow(now - timedelta(seconds=seconds), now, match.group(0).strip())
    if re.search(r"\btoday\b", lowered):
        return TimeWindow(_start_of_day(now), now, "today")
    if re.search(r"\byesterday\b", lowered) and "since" not in lowered:
        start = _start_of_day(now) - timedelta(days=1)
        return TimeWindow(start, start + timedelta(days=1), "yesterday")
    earlier = re.search(r"\bearlier (?:this|in the) (week|month)\b", lowered)
    if earlier:
        # "there was a payflow outage earlier this month": before today, not the one that began an hour ago.
        today = _start_of_day(now)
        start = today - timedelta(days=now.weekday()) if earlier.group(1) == "week" else today.replace(day=1)
        return TimeWindow(start, today if today > start else now, earlier.group(0))
    if re.search(r"\bthis week\b", lowered):
        return TimeWindow(_start_of_day(now) - timedelta(days=now.weekday()), now, "this week")
    if re.search(r"\bthis month\b", lowered):
        return TimeWindow(_start_of_day(now).replace(day=1), now, "this month")
    if re.search(r"\bthis (?:year|yr)\b", lowered):
        return TimeWindow(_start_of_day(now).replace(month=1, day=1), now, "this year")
    match = _SINCE_RE.search(text)
    if match:
        since = _since_phrase(match.group(1), now)
        if since is not None:
            return TimeWindow(since, now, f"since {match.group(1).strip(' ?.!,')}")
    return _everyday_window(lowered, now)


ALL_TIME_START = datetime(1970, 1, 1, tzinfo=UTC)
"""Where "all time" and "ever" begin."""
_ALL_TIME_RE = re.compile(r"\b(?:of )?all[\s-]time\b|\bever\b|\bon record\b|\bin (?:our )?history\b")
_ABBREVIATED_LAST_RE = re.compile(r"\b(?:past|last|previous|prev|this past)\s+(wk|hr|mo|yr|fortnight)\b")
_ABBREVIATED_SECONDS = {
    "wk": 7 * 86400,
    "hr": 3600,
    "mo": 30 * 86400,
    "yr": 365 * 86400,
    "fortnight": 14 * 86400,
}
_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_MONTH_NAMES = "|".join(_MONTHS) + "|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec"
"""A month's name or its short form, as a regular-expression alternation."""
_IN_MONTH_RE = re.compile(rf"\b(?:in|during|from)\s+({_MONTH_NAMES})\b(?!\s+\d)")
# A full month name on its own ("and september?"); "may" is left to "in may", being a verb too.
_BARE_MONTH_RE = re.compile(
    r"\b(january|february|march|april|june|july|august|september|october|november|december)\b(?!\s+\d)"
)
_QUARTER_RE = re.compile(r"\b(?:(?:in|during|for)\s+)?q([1-4])\b|\b(?:last|previous|prev)\s+quarter\b")
_SINCE_MONTH_START_RE = re.compile(rf"\b(?:since|from) (?:the )?(?:start|beginning) of ({_MONTH_NAMES})\b")
_DAY = r"([1-9]|[12]\d|3[01])(?:st|nd|rd|th)?"
# "nov 18", "oct 26", "18th nov", "18th/19th nov": those days of that month (the most recent such month).
_MONTH_DAY_RE = re.compile(
    rf"\b({_MONTH_NAMES})\.?\s+{_DAY}(?:\s*(?:[/&-]|and|or|to)\s*{_DAY})?\b(?!\s*(?::|am|pm|\d))"
    rf"|\b{_DAY}(?:\s*(?:[/&-]|and|or|to)\s*{_DAY})?\s+(?:of\s+)?({_MONTH_NAMES})\b"
)
# "the last ~10 days of october", "first week of june" is `_WEEK_OF_MONTH_RE`'s.
_DAYS_OF_MONTH_RE = re.compile(
    rf"\b(?:the\s+)?(last|final|first)\s+~?\s*(\d{{1,2}})\s+days\s+of\s+({_MONTH_NAMES})\b"
)
_ON_ORDINAL_RE = re.compile(r"\bon (?:the )?([1-9]|[12]\d|3[01])(?:st|nd|rd|th)\b(?!\s+of\b)")
_SINCE_ORDINAL_RE = re.compile(r"\bsince (?:the )?([1-9]|[12]\d|3[01])(?:st|nd|rd|th)\b(?!\s+of\b)")
_MONTH_WORD_RE = re.compile(r"\b(?:in|during|from|for|of)\s+([a-z]{4,10})\b(?!\s+\d)")


def _day_of_month(moment: datetime, day: int) -> datetime | None:
    try:
        return moment.replace(day=day)
    except ValueError:
        return None


class _MonthMatch:
    """A month name found despite a typo ("in ocotber"), shaped like the `re.Match` of `_IN_MONTH_RE`."""

    def __init__(self, month: str, phrase: str) -> None:
        self._month = month
        self._phrase = phrase

    def group(self, index: int = 0) -> str:
        return self._phrase if index == 0 else self._month


def _misspelt_month(lowered: str) -> _MonthMatch | None:
    for match in _MONTH_WORD_RE.finditer(lowered):
        close = difflib.get_close_matches(match.group(1), _MONTHS, n=1, cutoff=0.75)
        if close:
            return _MonthMatch(close[0], match.group(0))
    return None


_WEEKEND_RE = re.compile(r"\b(?:over|on|during|this|last|past)\s+(?:the\s+)?weekend\b")
_WEEKDAY_ABBREVIATIONS = {
    "mon": "monday",
    "tue": "tuesday",
    "tues": "tuesday",
    "wed": "wednesday",
    "weds": "wednesday",
    "thu": "thursday",
    "thur": "thursday",
    "thurs": "thursday",
    "fri": "friday",
    "sat": "saturday",
    "sun": "sunday",
}
# A full day's name names that day; a short form ("sat", "sun" are words too) only after "on" or "last".
_WEEKDAY_RE = re.compile(
    r"\b(?:(?:on|last|this past|past)\s+)?(monday|tuesday|wednesday|thursday|friday|saturday|sunday)(?:'?s)?\b"
    r"|\b(?:on|last)\s+(mon|tues?|weds?|thu|thurs?|fri|sat|sun)\b(?:'?s)?(?![\w-])"
)


_HALF_RE = re.compile(r"\b(?:in |during |for )?h([12])\b")
_YEAR_TO_DATE_RE = re.compile(r"\b(?:ytd|year to date|so far this year)\b")
# "so far in 2026", "since 2025", "back in 2025": a year standing alone (not in a date, a code or a host).
_YEAR_RE = re.compile(r"(?:\b(since|from|after)\s+)?(?<![\w.:/-])(20\d\d)(?![\w.:/-]|\s*-\s*\d)")
_WEEK_OF_MONTH_RE = re.compile(
    rf"\b(first|1st|second|2nd|third|3rd|fourth|4th|last) week of ({_MONTH_NAMES})\b"
)
_BETWEEN_DAYS_RE = re.compile(
    rf"\b(?:between|from) (?:the )?(\d{{1,2}})(?:st|nd|rd|th)? (?:and|to|-|until|till|through) (?:the )?(\d{{1,2}})"
    rf"(?:st|nd|rd|th)?(?: of ({_MONTH_NAMES}|this month|last month))?\b"
)
_WEEK_INDEX = {"first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3}


def _month_start(name: str, now: datetime) -> datetime:
    """Returns the first day of the most recent month of that name that has begun ("in December" asked in
    November means last year's)."""
    this_year = _month_of_year(name, now.year)
    return this_year if this_year.month <= now.month else this_year.replace(year=now.year - 1)


def _next_month_start(start: datetime) -> datetime:
    """Returns the first day of the month after the one `start` begins."""
    return datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=UTC)


_PERIOD_START_RE = re.compile(
    r"\b(?:since|from) (?:the )?(?:start|beginning) of (?:the |this )?(year|quarter|month|week)\b"
)
_SINCE_QUARTER_RE = re.compile(r"\b(?:since|from) (?:the )?(?:(?:start|beginning) of )?q([1-4])\b")
_PART_OF_MONTH_RE = re.compile(
    rf"\b(since |from )?(?:the )?(mid|middle of|early|start of|beginning of|late|end of)[\s-]+({_MONTH_NAMES})\b"
)
_SEASON_RE = re.compile(
    r"\b(?:this|last|over the|in the|during the|in|during|over)\s+(summer|fall|autumn|winter|spring)\b"
)
_SEASON_FIRST_MONTH = {"spring": 3, "summer": 6, "fall": 9, "autumn": 9, "winter": 12}
_A_FEW_RE = re.compile(
    r"\b(?:last|past) (?:a |one )?(day|week|month) or two\b|\b(?:last|past) half (?:a )?year\b"
)


def _period_start(period: str, now: datetime) -> datetime:
    """Returns when the current year, quarter, month or week began."""
    today = _start_of_day(now)
    if period == "year":
        return today.replace(month=1, day=1)
    if period == "quarter":
        return today.replace(month=3 * ((now.month - 1) // 3) + 1, day=1)
    if period == "month":
        return today.replace(day=1)
    return today - timedelta(days=now.weekday())


def _part_of_month(match: re.Match[str], now: datetime) -> TimeWindow | None:
    """ "mid-November" (from the 11th to the 20th), "early October" (1st-10th), "late September" (21st to
    the end); with "since", from then to now."""
    start = _month_start(match.group(3), now)
    end = _next_month_start(start)
    part = match.group(2)
    first, last = {"mid": (10, 20), "middle of": (10, 20), "late": (20, None), "end of": (20, None)}.get(
        part, (0, 10)
    )
    since = start + timedelta(days=first)
    if since > now:
        return None
    until = now if match.group(1) else min(now, end if last is None else start + timedelta(days=last))
    return TimeWindow(since, until, match.group(0).strip())


def _season(match: re.Match[str], now: datetime) -> TimeWindow:
    """The most recent meteorological season of that name that has begun (northern hemisphere)."""
    first_month = _SEASON_FIRST_MONTH[match.group(1)]
    year = now.year if first_month <= now.month else now.year - 1
    start = datetime(year, first_month, 1, tzinfo=UTC)
    end = start
    for _ in range(3):
        end = _next_month_start(end)
    return TimeWindow(start, min(now, end), match.group(0))


_MONTH_YEAR_RE = re.compile(rf"\b({_MONTH_NAMES})\.?,?\s+(?:of\s+)?(last year|this year|20\d\d)\b")
_LAST_MONTH_NAME_RE = re.compile(rf"\b(?:last|previous)\s+({_MONTH_NAMES})\b")
_DAY_RANGE_RE = re.compile(
    rf"\b({_MONTH_NAMES})\.? (\d{{1,2}})(?:st|nd|rd|th)?\s*(?:through|thru|to|until|till|and|-|–)\s*"
    rf"(?:({_MONTH_NAMES})\.? )?(\d{{1,2}})(?:st|nd|rd|th)?\b"
)
_MONTH_RANGE_RE = re.compile(
    rf"\b({_MONTH_NAMES}) (?:through|thru|to|until|till|-|–) (?:the )?(?:end of )?({_MONTH_NAMES})\b"
)


def _month_of_year(name: str, year: int) -> datetime:
    month = next(i for i, full in enumerate(_MONTHS, start=1) if full.startswith(name[:3]))
    return datetime(year, month, 1, tzinfo=UTC)


_MONTH_ONWARDS_RE = re.compile(
    rf"\b(?:(?:from|since|starting(?: in| from)?) )?(?:the (?:start|beginning) of )?({_MONTH_NAMES})\.?"
    r" (?:onwards?|on|forwards?|and (?:later|after|since))\b"
)
_AFTER_MONTH_RE = re.compile(rf"\bafter ({_MONTH_NAMES})\b")


def _explicit_month_window(lowered: str, now: datetime) -> TimeWindow | None:
    """Months said with their year or as a range: "december last year", "dec 2025", "last november" (asked
    in November: a year ago), "nov 10 through nov 15", "jan to end of march", "october onwards", "after
    october"."""
    match = _MONTH_ONWARDS_RE.search(lowered)
    if match:
        return TimeWindow(_month_start(match.group(1), now), now, match.group(0))
    match = _AFTER_MONTH_RE.search(lowered)
    if match:
        start = _next_month_start(_month_start(match.group(1), now))
        if start <= now:
            return TimeWindow(start, now, match.group(0))
    match = _MONTH_YEAR_RE.search(lowered)
    if match:
        qualifier = match.group(2)
        year = (
            now.year - 1
            if qualifier == "last year"
            else now.year
            if qualifier == "this year"
            else int(qualifier)
        )
        start = _month_of_year(match.group(1), year)
        if start <= now:
            return TimeWindow(start, min(now, _next_month_start(start)), match.group(0))
    match = _LAST_MONTH_NAME_RE.search(lowered)
    if match:
        start = _month_start(match.group(1), now)
        if start.month == now.month and start.year == now.year:
            start = start.replace(year=now.year - 1)
        return TimeWindow(start, min(now, _next_month_start(start)), match.group(0))
    match = _DAY_RANGE_RE.search(lowered)
    if match:
        first_month = _month_start(match.group(1), now)
        last_month = _month_start(match.group(3), now) if match.group(3) else first_month
        first = _day_of_month(first_month, int(match.group(2)))
        last = _day_of_month(last_month, int(match.group(4)))
        if first is not None and last is not None and first <= last and first <= now:
            # Both days count: "nov 10 through nov 15" ends at the end of the 15th.
            return TimeWindow(first, min(now, last + timedelta(days=1)), match.group(0))
    match = _MONTH_RANGE_RE.search(lowered)
    if match:
        first = _month_start(match.group(1), now)
        last = _month_start(match.group(2), now)
        if first <= last:
            return TimeWindow(first, min(now, _next_month_start(last)), match.group(0))
    return None


def _nth_weekday(year: int, month: int, weekday: int, nth: int) -> date:
    """Returns the nth (1-based; -1 for the last) given weekday (Monday = 0) of a month."""
    if nth < 0:
        last = (datetime(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).date()
        return last - timedelta(days=(last.weekday() - weekday) % 7)
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))


def _thanksgiving(year: int) -> date:
    return _nth_weekday(year, 11, 3, 4)


# Named days people date things by ("since thanksgiving", "over halloween"); floating ones by the US
# calendar, which is what the on-call folk who say them mean.
_NAMED_DAYS: dict[str, Callable[[int], date]] = {
    r"new year'?s(?: day)?": lambda y: date(y, 1, 1),
    r"valentine'?s(?: day)?": lambda y: date(y, 2, 14),
    r"memorial day": lambda y: _nth_weekday(y, 5, 0, -1),
    r"(?:independence day|(?:the )?(?:4th|fourth) of july|july (?:4th|4))": lambda y: date(y, 7, 4),
    r"labou?r day": lambda y: _nth_weekday(y, 9, 0, 1),
    r"hall?owe'?en": lambda y: date(y, 10, 31),
    r"thanksgiving(?: day)?": _thanksgiving,
    r"black friday": lambda y: _thanksgiving(y) + timedelta(days=1),
    r"cyber monday": lambda y: _thanksgiving(y) + timedelta(days=4),
    r"christmas eve|xmas eve": lambda y: date(y, 12, 24),
    r"christmas(?: day)?|xmas": lambda y: date(y, 12, 25),
    r"boxing day": lambda y: date(y, 12, 26),
    r"new year'?s eve|nye": lambda y: date(y, 12, 31),
}
_NAMED_DAY_RE = re.compile(
    r"\b(?:(since|after|from)\s+)?(" + "|".join(f"(?:{name})" for name in _NAMED_DAYS) + r")\b"
)


def _named_day_window(lowered: str, now: datetime) -> TimeWindow | None:
    """Returns the window of a named day: since its latest occurrence, or that day ("over thanksgiving")."""
    match = _NAMED_DAY_RE.search(lowered)
    if match is None:
        return None
    day_of = next(rule for name, rule in _NAMED_DAYS.items() if re.fullmatch(name, match.group(2)))
    day = day_of(now.year)
    if day > now.date():
        day = day_of(now.year - 1)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    end = now if match.group(1) else min(now, start + timedelta(days=1))
    return TimeWindow(start, end, match.group(0))


def _calendar_window(lowered: str, now: datetime) -> TimeWindow | None:
    """Returns the window of calendar phrases read before the relative ones ("last quarter", "since the 3rd")."""
    today = _start_of_day(now)
    named = _named_day_window(lowered, now)
    if named is not None:
        return named
    explicit = _explicit_month_window(lowered, now)
    if explicit is not None:
        return explicit
    match = _PERIOD_START_RE.search(lowered)
    if match:
        return TimeWindow(_period_start(match.group(1), now), now, match.group(0))
    match = _SINCE_QUARTER_RE.search(lowered)
    if match:
        first_month = 3 * (int(match.group(1)) - 1) + 1
        year = now.year if first_month <= now.month else now.year - 1
        return TimeWindow(datetime(year, first_month, 1, tzinfo=UTC), now, match.group(0))
    match = _A_FEW_RE.search(lowered)
    if match:
        days = {"day": 2, "week": 14, "month": 61}.get(match.group(1) or "", 182)
        return TimeWindow(now - timedelta(days=days), now, match.group(0))
    match = _HALF_RE.search(lowered)
    if match:
        # "h1": January to June; the most recent such half that has begun.
        first_month = 1 if match.group(1) == "1" else 7
        year = now.year if first_month <= now.month else now.year - 1
        start = datetime(year, first_month, 1, tzinfo=UTC)
        end = datetime(year, 7, 1, tzinfo=UTC) if first_month == 1 else datetime(year + 1, 1, 1, tzinfo=UTC)
        return TimeWindow(start, min(now, end), match.group(0))
    match = _YEAR_TO_DATE_RE.search(lowered)
    if match:
        return TimeWindow(today.replace(month=1, day=1), now, match.group(0))
    match = _YEAR_RE.search(lowered)
    if match and int(match.group(2)) <= now.year:
        start = datetime(int(match.group(2)), 1, 1, tzinfo=UTC)
        end = now if match.group(1) else min(now, datetime(start.year + 1, 1, 1, tzinfo=UTC))
        return TimeWindow(start, end, match.group(0))
    match = _WEEK_OF_MONTH_RE.search(lowered)
    if match:
        start = _month_start(match.group(2), now)
        end = _next_month_start(start)
        if match.group(1) == "last":
            return TimeWindow(max(start, end - timedelta(days=7)), min(now, end), match.group(0))
        since = start + timedelta(days=7 * _WEEK_INDEX[match.group(1)])
        return TimeWindow(since, min(now, since + timedelta(days=7), end), match.group(0))
    match = _BETWEEN_DAYS_RE.search(lowered)
    if match and int(match.group(1)) <= int(match.group(2)) <= 31:
        which = match.group(3)
        if which is None or which == "this month":
            month_start = today.replace(day=1)
        elif which == "last month":
            month_start = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
        else:
            month_start = _month_start(which, now)
        first = _day_of_month(month_start, int(match.group(1)))
        last = _day_of_month(month_start, int(match.group(2)))
        if first is not None and last is not None and first <= now:
            # Both days count: "between the 10th and the 14th" ends at the end of the 14th.
            return TimeWindow(first, min(now, last + timedelta(days=1)), match.group(0))
    match = _QUARTER_RE.search(lowered)
    if match:
        quarter_start = today.replace(month=3 * ((now.month - 1) // 3) + 1, day=1)
        if match.group(1):
            # "in Q3": the most recent such quarter that has begun.
            first_month = 3 * (int(match.group(1)) - 1) + 1
            year = now.year if first_month <= now.month else now.year - 1
            start = datetime(year, first_month, 1, tzinfo=UTC)
        else:
            # "last quarter": the calendar quarter before this one.
            start = (quarter_start - timedelta(days=1)).replace(day=1)
            start = start.replace(month=3 * ((start.month - 1) // 3) + 1)
        end = datetime(start.year + (start.month + 2) // 12, (start.month + 2) % 12 + 1, 1, tzinfo=UTC)
        return TimeWindow(start, min(now, end), match.group(0))
    match = _PART_OF_MONTH_RE.search(lowered)
    if match:
        window = _part_of_month(match, now)
        if window is not None:
            return window
    match = _SEASON_RE.search(lowered)
    if match:
        return _season(match, now)
    match = _SINCE_MONTH_START_RE.search(lowered)
    if match:
        return TimeWindow(_month_start(match.group(1), now), now, match.group(0))
    match = _DAYS_OF_MONTH_RE.search(lowered)
    if match:
        start = _month_start(match.group(3), now)
        end = _next_month_start(start)
        days = timedelta(days=int(match.group(2)))
        since, until = (end - days, end) if match.group(1) != "first" else (start, start + days)
        return TimeWindow(max(start, since), min(now, end, until), match.group(0))
    match = _MONTH_DAY_RE.search(lowered)
    if match and not re.search(
        r"\b(?:since|from|after|before|until|till|through|to)\s*$", lowered[: match.start()]
    ):
        month, first, last = (
            (match.group(1), match.group(2), match.group(3))
            if match.group(1)
            else (match.group(6), match.group(4), match.group(5))
        )
        start = _month_start(month, now)
        since, until = _day_of_month(start, int(first)), _day_of_month(start, int(last or first))
        if since is not None and until is not None and since <= until and since <= now:
            return TimeWindow(since, min(now, until + timedelta(days=1)), match.group(0))
    match = _ON_ORDINAL_RE.search(lowered)
    day = _latest_day(today, int(match.group(1))) if match else None
    if match and day is not None:
        # "on the 18th": that whole day.
        return TimeWindow(day, min(now, day + timedelta(days=1)), match.group(0))
    match = _SINCE_ORDINAL_RE.search(lowered)
    day = _latest_day(today, int(match.group(1))) if match else None
    if match and day is not None:
        # "since the 3rd": from that day on.
        return TimeWindow(day, now, match.group(0))
    return None


def _latest_day(today: datetime, day: int) -> datetime | None:
    """Returns the most recent date with this day of the month, today included: this month's, unless it
    is still to come, else last month's (None when last month has no such day)."""
    candidate = _day_of_month(today, day)
    if candidate is None or candidate > today:
        candidate = _day_of_month(today.replace(day=1) - timedelta(days=1), day)
    return candidate


def _everyday_window(lowered: str, now: datetime) -> TimeWindow | None:
    """Returns the window of phrases the main patterns leave out ("past wk", "last night", "in October")."""
    today = _start_of_day(now)
    match = _ALL_TIME_RE.search(lowered)
    if match:
        return TimeWindow(ALL_TIME_START, now, match.group(0))
    match = _ABBREVIATED_LAST_RE.search(lowered)
    if match:
        return TimeWindow(now - timedelta(seconds=_ABBREVIATED_SECONDS[match.group(1)]), now, match.group(0))
    if re.search(r"\bthis morning\b", lowered):
        return TimeWindow(today, min(now, today + timedelta(hours=12)), "this morning")
    if re.search(r"\b(?:last|yesterday) night\b|\bovernight\b", lowered):
        return TimeWindow(today - timedelta(hours=6), min(now, today + timedelta(hours=9)), "last night")
    match = _WEEKEND_RE.search(lowered)
    if match:
        # The most recent weekend, or the one under way.
        saturday = today - timedelta(days=(now.weekday() - 5) % 7)
        return TimeWindow(saturday, min(now, saturday + timedelta(days=2)), match.group(0))
    match = _WEEKDAY_RE.search(lowered)
    if match:
        # "on tuesday", "monday's failover": that whole day, the most recent one before today.
        day = match.group(1) or _WEEKDAY_ABBREVIATIONS[match.group(2)]
        start = today - timedelta(days=(now.weekday() - _WEEKDAYS.index(day)) % 7 or 7)
        return TimeWindow(start, start + timedelta(days=1), match.group(0).strip())
    if re.search(r"\bthis quarter\b", lowered):
        start = today.replace(month=3 * ((now.month - 1) // 3) + 1, day=1)
        return TimeWindow(start, now, "this quarter")
    match = _IN_MONTH_RE.search(lowered) or _BARE_MONTH_RE.search(lowered) or _misspelt_month(lowered)
    if match:
        start = _month_start(match.group(1), now)
        return TimeWindow(start, min(now, _next_month_start(start)), match.group(0))
    return None


def parse_window_argument(value: str | None, now: datetime) -> TimeWindow | None:
    """Returns the window a tool argument names; accepts phrases ("past week") and ISO-8601 dates."""
    if value is None or not value.strip():
        return None
    window = parse_time_window(value, now) or parse_time_window(f"past {value}", now)
    if window is not None:
        return window
    try:
        since = datetime.fromisoformat(value.strip())
    except ValueError:
        since = None
    if since is not None:
        since = since if since.tzinfo else since.replace(tzinfo=UTC)
        return TimeWindow(since.astimezone(UTC), now, f"since {value.strip()}")
    raise InvalidInput(
        f"'{value}' is not a time frame I understand; try 'past 7 days', 'last 2 hours' or 'since Monday'."
    )

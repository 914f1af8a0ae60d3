"""Summaries and postmortem sections written by a real chat model, within a token budget.

The offline path (:mod:`agent.summaries.extract`, :mod:`agent.postmortems.extract`) needs no model; this module is used when one is
configured. It keeps the same promises as the offline path:

* **Nothing is left out silently.** A timeline is cut into chunks that each fit the per-call budget, and
  every live entry lands in some chunk (an entry too long for one chunk is split into numbered parts, all
  kept). Long timelines are summarised map-reduce: one call per chunk, then reduce calls that merge the
  partial notes, in several rounds when the notes themselves do not fit one call.
* **Nothing is invented.** The model cites entries as ``[#<id>]``; every citation is checked against the
  incident's real (non-deleted) entry ids afterwards. Invalid citations are removed and counted; a point
  or line that cited only invalid entries is dropped, and a section says how many were removed.
* **Sections are drafted concurrently**: one call per AI section, sent together with ``model.batch``
  (LangChain runs them on a thread pool, at most ``max_concurrency`` at once).

Tokens are counted locally as ``ceil(characters / 4)``, OpenAI's rule of thumb for English text; the
model's own ``get_num_tokens`` downloads a tokenizer and fails offline. The default budget leaves ample
headroom for that approximation on any current OpenAI model. Every call's input and output is counted in
:class:`LLMStats`, so a benchmark can report calls and tokens without a network.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from agent.incidents.exceptions import IncidentCopilotError
from agent.postmortems.extract import Section, _ref, _unique
from agent.summaries.extract import (
    MAX_POINTS_PER_SECTION,
    SUMMARY_SECTIONS,
    Citation,
    EntryView,
    IncidentView,
    Point,
    Summary,
    citation_for,
    clock_time,
    collapse_space,
    live_entries,
    spans_days,
    utc_stamp,
)
from prompts.postmortem import (
    POSTMORTEM_SYSTEM_PROMPT,
    SECTION_PROMPTS,
    SUMMARY_MAP_PROMPT,
    SUMMARY_REDUCE_PROMPT,
)

__all__ = [
    "CHARS_PER_TOKEN",
    "DEFAULT_CONTEXT_TOKENS",
    "DEFAULT_MAX_CONCURRENCY",
    "LLMStats",
    "ModelCallFailed",
    "chunk_timeline",
    "count_tokens",
    "draft_sections",
    "format_incident",
    "model_label",
    "summarize_with_model",
]

CHARS_PER_TOKEN = 4
"""Characters per token of the local token estimate."""

DEFAULT_CONTEXT_TOKENS = 12_000
"""Input budget of one model call (prompt, incident record and timeline part), in estimated tokens."""

DEFAULT_MAX_CONCURRENCY = 8
"""Most model calls in flight at once."""

MIN_TIMELINE_TOKENS = 200
"""Smallest room for timeline text that a call must leave; below it the budget is refused."""

_CITATION_RE = re.compile(r"\[#(\d+)(?:[ \t][^\]\n]*)?\]")
_BULLET_RE = re.compile(r"^(?:[-*•+]|\d+[.)])\s+")
_HEADER_RE = re.compile(r"^[#*_\s]*([A-Za-z][A-Za-z _-]*?)[*_\s]*(?::[*_\s]*(.*))?$")
_RECORD_MARK = "(incident record)"
_NO_ENTRIES = "(no timeline entries)"


class ModelCallFailed(IncidentCopilotError):
    """The chat model could not be reached or failed; nothing was stored."""


@dataclass
class LLMStats:
    """What the model path cost and what it had to correct.

    Attributes:
        calls: Model calls made.
        input_tokens: Estimated input tokens over all calls (system and user messages).
        output_tokens: Estimated output tokens over all calls.
        chunks: Timeline chunks the entries were cut into.
        map_calls: Calls that read one timeline chunk.
        reduce_calls: Calls that merged partial notes.
        section_calls: Calls that drafted one postmortem section.
        invalid_citations: Citations of entries that do not exist in the timeline, removed.
        dropped_points: Points or lines dropped because they cited no real entry.
    """

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    chunks: int = 0
    map_calls: int = 0
    reduce_calls: int = 0
    section_calls: int = 0
    invalid_citations: int = 0
    dropped_points: int = 0

    def as_dict(self) -> dict[str, int]:
        """Returns the counters as a JSON-ready dict."""
        return asdict(self)


def count_tokens(text: str) -> int:
    """Estimate the tokens of a text locally (``ceil(len / 4)``), with no tokenizer download.

    Args:
        text: Any text.

    Returns:
        The estimated token count.
    """
    return -(-len(text) // CHARS_PER_TOKEN)


def model_label(model: BaseChatModel) -> str:
    """Name a chat model the way ``--model`` does, e.g. ``"openai:gpt-4o-mini"``.

    Args:
        model: The chat model.

    Returns:
        ``<provider>:<model>`` for OpenAI models, else the model name or LangChain's type name.
    """
    llm_type = getattr(model, "_llm_type", type(model).__name__)
    name = getattr(model, "model_name", None) or getattr(model, "model", None)
    if isinstance(name, str) and name:
        return f"openai:{name}" if "openai" in llm_type else name
    return llm_type


def format_incident(incident: IncidentView) -> str:
    """Render the incident record for the ``{incident}`` prompt placeholder.

    Args:
        incident: The incident record.

    Returns:
        One ``Field: value`` line per field; missing values say "not recorded".
    """

    def value(text: str | None) -> str:
        return collapse_space(text) or "not recorded"

    def moment(at: datetime | None) -> str:
        return utc_stamp(at) if at is not None else "not recorded"

    return "\n".join(
        [
            f"Id: {incident.public_id}",
            f"Title: {incident.title}",
            f"Severity: {incident.severity}",
            f"Status: {incident.status}",
            f"Declared: {moment(incident.declared_at)}",
            f"Marked stable: {moment(incident.stable_at)}",
            f"Resolved: {moment(incident.resolved_at)}",
            f"Commander: {value(incident.commander)}",
            f"Services: {', '.join(incident.services) or 'not recorded'}",
            f"Customer impact: {value(incident.customer_impact)}",
            f"Root cause: {value(incident.root_cause)}",
            f"Remediation: {value(incident.remediation)}",
            f"Summary: {value(incident.summary)}",
        ]
    )


def chunk_timeline(entries: Iterable[EntryView], *, max_tokens: int) -> list[str]:
    """Cut a timeline into parts of at most ``max_tokens`` estimated tokens each.

    Entries are rendered one per line as ``[#<id> <time> <author>] (<kind>) <text>`` in time order;
    deleted entries are left out. An entry longer than a whole part is split into numbered pieces
    (``(message, part 2/3)``) that keep its id, so no text is ever dropped.

    Args:
        entries: The timeline, in any order.
        max_tokens: Budget of one part.

    Returns:
        The parts, oldest first; empty when there are no live entries.

    Raises:
        ValueError: If ``max_tokens`` is below :data:`MIN_TIMELINE_TOKENS`.
    """
    if max_tokens < MIN_TIMELINE_TOKENS:
        raise ValueError(
            f"a timeline part needs at least {MIN_TIMELINE_TOKENS} tokens, got {max_tokens}; "
            "raise the context budget"
        )
    live = live_entries(entries)
    with_date = spans_days(entry.at for entry in live)
    parts: list[str] = []
    lines: list[str] = []
    used = 0
    for entry in live:
        for line in _entry_lines(entry, with_date=with_date, max_tokens=max_tokens):
            cost = count_tokens(line + "\n")
            if lines and used + cost > max_tokens:
                parts.append("\n".join(lines))
                lines, used = [], 0
            lines.append(line)
            used += cost
    if lines:
        parts.append("\n".join(lines))
    return parts


def summarize_with_model(
    model: BaseChatModel,
    incident: IncidentView,
    entries: Iterable[EntryView],
    *,
    now: datetime,
    message_count: int,
    context_tokens: int = DEFAULT_CONTEXT_TOKENS,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
) -> tuple[Summary, LLMStats]:
    """Summarise an incident with a model: map over timeline chunks, then reduce the notes.

    A timeline that fits one call is summarised in that one call.

    Args:
        model: The chat model.
        incident: The incident record.
        entries: Its timeline, in any order; deleted entries are ignored.
        now: Current time, for ``generated_at``.
        message_count: Message count from the store, reported in the summary.
        context_tokens: Input budget of each call, in estimated tokens.
        max_concurrency: Most calls in flight at once.

    Returns:
        The summary (``method="model"``; every point cites real entries or the incident record)
        and the call statistics.

    Raises:
        ModelCallFailed: If a model call fails.
        ValueError: If the budget leaves no room for timeline text.
    """
    timeline = live_entries(entries)
    stats = LLMStats()
    incident_text = format_incident(incident)
    notes = _map_and_reduce(
        model,
        incident_text,
        timeline,
        context_tokens=context_tokens,
        max_concurrency=max_concurrency,
        stats=stats,
    )
    by_id = {entry.id: entry for entry in timeline}
    sections = _parse_summary_sections(notes, by_id, stats)
    record_status = Point(
        text=f"Status: {incident.status}. Severity: {incident.severity}. {_RECORD_MARK}",
    )
    sections["status"] = [record_status, *sections["status"]][:MAX_POINTS_PER_SECTION]
    summary = Summary(
        incident_public_id=incident.public_id,
        incident_title=incident.title,
        generated_at=now,
        method="model",
        message_count=message_count,
        **sections,
    )
    return summary, stats


def draft_sections(
    model: BaseChatModel,
    incident: IncidentView,
    entries: Iterable[EntryView],
    fields: Sequence[str],
    *,
    context_tokens: int = DEFAULT_CONTEXT_TOKENS,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
) -> tuple[dict[str, Section], LLMStats]:
    """Draft the AI sections of a postmortem with a model, all sections at once.

    When the whole timeline fits one section call, every section reads it verbatim. Otherwise the
    timeline is first condensed map-reduce (as for a summary) into cited notes that fit, and every
    section reads those notes.

    Args:
        model: The chat model.
        incident: The incident record.
        entries: Its timeline, in any order; deleted entries are ignored.
        fields: AI variables to draft, e.g. ``["ai_summary", "ai_action_items"]``.
        context_tokens: Input budget of each call, in estimated tokens.
        max_concurrency: Most calls in flight at once.

    Returns:
        AI variable -> section (citations rendered as ``[#12 14:03 alice]``, linked when the entry has a
        permalink, and checked against the timeline), and the call statistics.

    Raises:
        ModelCallFailed: If a model call fails.
        ValueError: If a field has no section prompt, or the budget leaves no room for timeline text.
    """
    unknown = [field for field in fields if field not in SECTION_PROMPTS]
    if unknown:
        raise ValueError(f"no section prompt for {', '.join(unknown)}")
    timeline = live_entries(entries)
    stats = LLMStats()
    if not fields:
        return {}, stats
    incident_text = format_incident(incident)
    room = context_tokens - max(
        count_tokens(POSTMORTEM_SYSTEM_PROMPT)
        + _overhead(SECTION_PROMPTS[field], incident=incident_text, timeline="")
        for field in fields
    )
    context = _map_and_reduce(
        model,
        incident_text,
        timeline,
        context_tokens=context_tokens,
        max_concurrency=max_concurrency,
        stats=stats,
        fit_tokens=room,
    )
    requests = [
        [
            SystemMessage(POSTMORTEM_SYSTEM_PROMPT),
            HumanMessage(SECTION_PROMPTS[field].format(incident=incident_text, timeline=context)),
        ]
        for field in fields
    ]
    stats.section_calls += len(requests)
    texts = _call_all(model, requests, stats, max_concurrency=max_concurrency)
    by_id = {entry.id: entry for entry in timeline}
    with_date = spans_days([incident.declared_at, *(entry.at for entry in timeline)])
    sections = {
        field: _checked_section(text, by_id, with_date, stats)
        for field, text in zip(fields, texts, strict=True)
    }
    return sections, stats


# --- map-reduce ------------------------------------------------------------------------------------


def _map_and_reduce(
    model: BaseChatModel,
    incident_text: str,
    timeline: list[EntryView],
    *,
    context_tokens: int,
    max_concurrency: int,
    stats: LLMStats,
    fit_tokens: int | None = None,
) -> str:
    """Condense a timeline with map calls (one per chunk) and reduce calls, reading every entry.

    Without ``fit_tokens`` the result is one merged set of notes (a single chunk's notes are used as
    they are). With ``fit_tokens``, a timeline that fits is returned verbatim with no call, and notes
    are only merged, in rounds, until together they fit.
    """
    if fit_tokens is not None and fit_tokens >= MIN_TIMELINE_TOKENS:
        verbatim = chunk_timeline(timeline, max_tokens=fit_tokens)
        if len(verbatim) <= 1:
            stats.chunks = len(verbatim)
            return verbatim[0] if verbatim else _NO_ENTRIES
    # Room for the timeline part: the prompt with the widest chunk numbers it could carry.
    map_room = context_tokens - _overhead(
        SUMMARY_MAP_PROMPT, incident=incident_text, timeline="", chunk_number=9999, chunk_count=9999
    )
    chunks = chunk_timeline(timeline, max_tokens=map_room) or [_NO_ENTRIES]
    stats.chunks = len(chunks)
    requests: list[list[BaseMessage]] = [
        [
            HumanMessage(
                SUMMARY_MAP_PROMPT.format(
                    incident=incident_text, timeline=chunk, chunk_number=number, chunk_count=len(chunks)
                )
            )
        ]
        for number, chunk in enumerate(chunks, start=1)
    ]
    stats.map_calls += len(requests)
    by_id = {entry.id: entry for entry in timeline}
    notes = _clean_notes(_call_all(model, requests, stats, max_concurrency=max_concurrency), by_id, stats)
    reduce_room = context_tokens - _overhead(SUMMARY_REDUCE_PROMPT, incident=incident_text, partials="")
    if reduce_room < MIN_TIMELINE_TOKENS:
        raise ValueError(f"a context budget of {context_tokens} tokens leaves no room to merge notes")
    while len(notes) > 1 and (fit_tokens is None or count_tokens(_join_partials(notes)) > fit_tokens):
        requests = [
            [
                HumanMessage(
                    SUMMARY_REDUCE_PROMPT.format(incident=incident_text, partials=_join_partials(group))
                )
            ]
            for group in _groups(notes, reduce_room)
        ]
        stats.reduce_calls += len(requests)
        notes = _clean_notes(_call_all(model, requests, stats, max_concurrency=max_concurrency), by_id, stats)
    return notes[0] if len(notes) == 1 else _join_partials(notes)


def _groups(notes: list[str], room: int) -> list[list[str]]:
    """Consecutive groups of notes that fit one reduce call; every group has at least two notes.

    Two notes are grouped even when together they exceed the room, so that every round at least
    halves the number of notes and the rounds end.
    """
    groups: list[list[str]] = []
    current: list[str] = []
    for note in notes:
        if len(current) >= 2 and count_tokens(_join_partials([*current, note])) > room:
            groups.append(current)
            current = []
        current.append(note)
    if len(current) == 1 and groups:
        groups[-1].append(current[0])
    elif current:
        groups.append(current)
    return groups


def _join_partials(notes: Sequence[str]) -> str:
    return "\n\n".join(f"Part {number}:\n{note.strip()}" for number, note in enumerate(notes, start=1))


def _overhead(prompt: str, **values: Any) -> int:
    """Tokens a prompt costs before its variable text (pass the variable text empty)."""
    return count_tokens(prompt.format(**values))


def _entry_lines(entry: EntryView, *, with_date: bool, max_tokens: int) -> list[str]:
    """One prompt line for an entry, or numbered pieces when it would not fit one part."""
    head = f"[#{entry.id} {clock_time(entry.at, with_date)} {entry.author}]"
    text = collapse_space(entry.text)
    line = f"{head} ({entry.kind}) {text}"
    if count_tokens(line + "\n") <= max_tokens:
        return [line]
    # Worst-case label width, so that every piece with its label fits.
    label_chars = len(f"{head} ({entry.kind}, part 9999/9999) \n")
    size = max_tokens * CHARS_PER_TOKEN - label_chars
    pieces = [text[start : start + size] for start in range(0, len(text), size)]
    return [
        f"{head} ({entry.kind}, part {number}/{len(pieces)}) {piece}"
        for number, piece in enumerate(pieces, start=1)
    ]


def _call_all(
    model: BaseChatModel,
    requests: list[list[BaseMessage]],
    stats: LLMStats,
    *,
    max_concurrency: int,
) -> list[str]:
    """Send requests concurrently and return the reply texts in request order."""
    stats.calls += len(requests)
    stats.input_tokens += sum(count_tokens(message.text) for request in requests for message in request)
    try:
        replies = model.batch(requests, config={"max_concurrency": max_concurrency})  # type: ignore[arg-type]
    except Exception as error:  # any provider or network failure: report it, store nothing
        raise ModelCallFailed(
            f"The model {model_label(model)} failed ({type(error).__name__}: {error}); nothing was stored. "
            "Try again, or use the offline draft."
        ) from error
    texts = [reply.text for reply in replies]
    stats.output_tokens += sum(count_tokens(text) for text in texts)
    return texts


# --- checking the model's output -------------------------------------------------------------------


def _section_aliases() -> dict[str, str]:
    aliases: dict[str, str] = {}
    for field, heading in SUMMARY_SECTIONS:
        for alias in (field, field.replace("_", " "), heading):
            aliases[alias.lower()] = field
    return aliases


_SECTION_ALIASES = _section_aliases()


def _parse_summary_sections(
    text: str, by_id: dict[int, EntryView], stats: LLMStats
) -> dict[str, list[Point]]:
    """Read sectioned notes (``impact:`` / ``## Impact`` / ``**impact**`` then bullets) into points.

    Only points that cite a real entry, or say they come from the incident record, are kept.
    """
    sections: dict[str, list[Point]] = {field: [] for field, _ in SUMMARY_SECTIONS}
    current: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        bullet = _BULLET_RE.match(line)
        if bullet is None:
            header = _HEADER_RE.match(line)
            field = _SECTION_ALIASES.get(header.group(1).strip().lower()) if header else None
            if header is not None and field is not None:
                current = field
                line = (header.group(2) or "").strip()
                if not line:
                    continue
        else:
            line = line[bullet.end() :]
        if current is None:
            continue
        point = _checked_point(line, by_id, stats)
        if point is not None and len(sections[current]) < MAX_POINTS_PER_SECTION:
            sections[current].append(point)
    return sections


def _checked_point(text: str, by_id: dict[int, EntryView], stats: LLMStats) -> Point | None:
    """A point with its valid citations, or None when it cites nothing real."""
    cited = [int(match.group(1)) for match in _CITATION_RE.finditer(text)]
    valid = [by_id[entry_id] for entry_id in cited if entry_id in by_id]
    stats.invalid_citations += len(cited) - len(valid)
    clean = collapse_space(_CITATION_RE.sub("", text)).rstrip(" ,;")
    if not clean or (not valid and _RECORD_MARK not in clean.lower()):
        stats.dropped_points += 1
        return None
    citations: list[Citation] = [citation_for(entry) for entry in _unique(valid)]
    return Point(text=clean, citations=citations)


def _checked_section(text: str, by_id: dict[int, EntryView], with_date: bool, stats: LLMStats) -> Section:
    """Check a drafted section's citations and render the valid ones as ``[#12 14:03 alice]`` references."""
    checked = _check_lines(text, by_id, stats, render=lambda entry: _ref(entry, with_date))
    lines = checked.lines
    if checked.removed:
        lines += [
            "",
            f"_Checked: {checked.removed} citation(s) to timeline entries that do not exist were removed"
            + (f", with {checked.dropped} line(s) that cited only those" if checked.dropped else "")
            + "._",
        ]
    return Section(
        text="\n".join(lines).strip(), citations=[citation_for(entry) for entry in _unique(checked.cited)]
    )


def _clean_notes(texts: list[str], by_id: dict[int, EntryView], stats: LLMStats) -> list[str]:
    """Remove invented citations from intermediate notes, so they never reach a later call."""
    return [
        "\n".join(_check_lines(text, by_id, stats, render=lambda entry: f"[#{entry.id}]").lines)
        for text in texts
    ]


@dataclass
class _Checked:
    lines: list[str]
    cited: list[EntryView]
    removed: int
    dropped: int


def _check_lines(
    text: str, by_id: dict[int, EntryView], stats: LLMStats, *, render: Callable[[EntryView], str]
) -> _Checked:
    """Check citations line by line: a line citing only unknown entries is dropped, unknown ones removed."""
    checked = _Checked(lines=[], cited=[], removed=0, dropped=0)
    for line in text.strip().splitlines():
        ids = [int(match.group(1)) for match in _CITATION_RE.finditer(line)]
        valid = [by_id[entry_id] for entry_id in ids if entry_id in by_id]
        checked.removed += len(ids) - len(valid)
        if ids and not valid:
            checked.dropped += 1  # every source it named is invented: the statement is unsupported
            continue
        checked.cited += valid

        def replace(match: re.Match[str]) -> str:
            entry = by_id.get(int(match.group(1)))
            return render(entry) if entry is not None else ""

        checked.lines.append(_CITATION_RE.sub(replace, line).rstrip())
    stats.invalid_citations += checked.removed
    stats.dropped_points += checked.dropped
    return checked

"""Prompts for drafting postmortem sections and incident summaries with a model.

These are used on the real-model path; the offline path
(:mod:`agent.postmortems.extract`, :mod:`agent.summaries.extract`) needs none of them. Every prompt is a
``str.format`` template (literal braces are doubled) with these placeholders:

* ``{incident}``: the incident record rendered as text (id, title, severity,
  status, times, commander, services, recorded impact, root cause, remediation).
* ``{timeline}``: timeline entries, one per line, as
  ``[#<entry_id> <HH:MM> <author>] (<kind>) <text>``, deleted entries left out.
* ``{chunk_number}`` / ``{chunk_count}`` (map step only): which slice of a long
  timeline this is.
* ``{partials}`` (reduce step only): the map-step outputs, in time order.

The sections a summary asks for are the fields of
:class:`agent.summaries.extract.Summary`, so the model output can be parsed
into the same model the offline summary produces.
"""

from __future__ import annotations

__all__ = [
    "AI_ACTION_ITEMS_PROMPT",
    "AI_CUSTOMER_IMPACT_PROMPT",
    "AI_KEY_TIMELINE_PROMPT",
    "AI_LESSONS_LEARNED_PROMPT",
    "AI_ROOT_CAUSE_PROMPT",
    "AI_SUMMARY_PROMPT",
    "AI_SYSTEM_OVERVIEW_PROMPT",
    "POSTMORTEM_SYSTEM_PROMPT",
    "SECTION_PROMPTS",
    "SUMMARY_MAP_PROMPT",
    "SUMMARY_REDUCE_PROMPT",
]

POSTMORTEM_SYSTEM_PROMPT = """\
You draft sections of incident postmortems for an engineering team. A human will \
review and edit your draft before anyone else reads it, so be accurate rather than \
complete: a gap marked "Not known" is useful, a confident guess is harmful.
"""
"""System message for every section prompt. No placeholders."""

# Shared by every section prompt, so the citation and honesty rules cannot drift apart.
_RULES = """\
Rules:
- Use only the incident record and the timeline below. Do not use outside knowledge \
and do not guess.
- Cite the timeline entries every statement comes from as [#<entry_id>], e.g. [#12] or \
[#12][#15], right after the statement. Statements taken from the incident record cite \
nothing but end with "(incident record)".
- When the record and the timeline do not say, write "Not known" and say what is missing. \
Never invent causes, numbers, names or times.
- Write Markdown without headings (the template already has the heading). Be concise.
- Do not quote secrets, credentials or personal data that appear in messages.

Incident record:
{incident}

Timeline (one entry per line: [#<entry_id> <time> <author>] (<kind>) <text>):
{timeline}
"""

AI_SUMMARY_PROMPT = (
    """\
Write the Summary section of the postmortem: one short paragraph (3 to 5 sentences) \
saying what happened, who or what was affected, how long it lasted, how it was \
mitigated, and the root cause if, and only if, it is recorded.

"""
    + _RULES
)
"""Prompt for ``{{incident.ai_summary}}``. Placeholders: ``{incident}``, ``{timeline}``."""

AI_SYSTEM_OVERVIEW_PROMPT = (
    """\
Write the System overview section: which services and components were involved, what \
each does as far as the timeline explains it, and how they depend on each other in \
this incident. Do not describe architecture the timeline does not mention.

"""
    + _RULES
)
"""Prompt for ``{{incident.ai_system_overview}}``. Placeholders: ``{incident}``, ``{timeline}``."""

AI_KEY_TIMELINE_PROMPT = (
    """\
Write the Key timeline section: a bulleted, chronological list of the 5 to 15 moments \
that matter (first signal, declaration, severity and status changes, key findings, \
mitigations, resolution), each as "- **HH:MM** what happened [#id]". Use the times \
of the cited entries; never invent a time.

"""
    + _RULES
)
"""Prompt for ``{{incident.ai_key_timeline}}``. Placeholders: ``{incident}``, ``{timeline}``."""

AI_CUSTOMER_IMPACT_PROMPT = (
    """\
Write the Customer impact section: who was affected (customers, users, regions, \
features), how (errors, latency, unavailability), how many or what share if stated, \
and for how long. Quote numbers exactly as they appear; do not estimate numbers \
that are not given.

"""
    + _RULES
)
"""Prompt for ``{{incident.ai_customer_impact}}``. Placeholders: ``{incident}``, ``{timeline}``."""

AI_ACTION_ITEMS_PROMPT = (
    """\
Write the Action items section: a Markdown checklist ("- [ ] ...") of follow-ups that \
people proposed or agreed in the timeline, plus any recorded remediation still to do. \
Name an owner only when the timeline names one. Do not add action items nobody \
proposed; if there are none, write "Not known: no follow-ups were recorded."

"""
    + _RULES
)
"""Prompt for ``{{incident.ai_action_items}}``. Placeholders: ``{incident}``, ``{timeline}``."""

AI_LESSONS_LEARNED_PROMPT = (
    """\
Write the Lessons learned section: what responders said went well, what went badly, \
and what they would do differently, as bullets. Only report lessons someone actually \
expressed in the timeline; if there are none, write "Not known: no lessons were \
recorded in the timeline."

"""
    + _RULES
)
"""Prompt for ``{{incident.ai_lessons_learned}}``. Placeholders: ``{incident}``, ``{timeline}``."""

AI_ROOT_CAUSE_PROMPT = (
    """\
Write the Root cause section. If the incident record has a root cause, state it and \
support it with the timeline entries that show it. If the record has no root cause, \
start with "Not known: no root cause has been recorded." and then, only if the \
timeline discusses hypotheses, list them as unconfirmed hypotheses with citations. \
Never present a hypothesis as the root cause.

"""
    + _RULES
)
"""Prompt for ``{{incident.ai_root_cause}}``. Placeholders: ``{incident}``, ``{timeline}``."""

SECTION_PROMPTS: dict[str, str] = {
    "ai_summary": AI_SUMMARY_PROMPT,
    "ai_system_overview": AI_SYSTEM_OVERVIEW_PROMPT,
    "ai_key_timeline": AI_KEY_TIMELINE_PROMPT,
    "ai_customer_impact": AI_CUSTOMER_IMPACT_PROMPT,
    "ai_action_items": AI_ACTION_ITEMS_PROMPT,
    "ai_lessons_learned": AI_LESSONS_LEARNED_PROMPT,
    "ai_root_cause": AI_ROOT_CAUSE_PROMPT,
}
"""AI template variable (without ``incident.``) -> section prompt."""

_SUMMARY_SECTIONS = """\
- what_is_happening: what the incident is about and the latest understanding of it.
- impact: who or what is affected and how badly.
- status: current status and severity, and recent changes.
- tried: what responders have tried or found so far.
- who: people involved, incident commander first.
- next_steps: planned next steps and follow-ups.
- unknowns: open questions and what is not known yet (such as the root cause, when none \
is recorded)."""

SUMMARY_MAP_PROMPT = (
    """\
You help someone catch up on an ongoing incident. The timeline is long, so it is split \
into parts; this is part {chunk_number} of {chunk_count}, in time order.

Extract the facts from this part only, grouped under these sections:
"""
    + _SUMMARY_SECTIONS
    + """

For each section give at most 5 short points, each citing the entries it comes from \
as [#<entry_id>]. Skip sections this part says nothing about. Keep questions that this \
part leaves unanswered under unknowns. Do not guess; never state a root cause that is \
not recorded or confirmed in the timeline.

Incident record:
{incident}

Timeline part {chunk_number} of {chunk_count} (one entry per line: \
[#<entry_id> <time> <author>] (<kind>) <text>):
{timeline}
"""
)
"""Map step of the long-timeline summary. Placeholders: ``{incident}``, ``{timeline}``,
``{chunk_number}``, ``{chunk_count}``."""

SUMMARY_REDUCE_PROMPT = (
    """\
You help someone catch up on an ongoing incident. Below are notes extracted from \
consecutive parts of its timeline, oldest part first. Merge them into one summary with \
these sections:
"""
    + _SUMMARY_SECTIONS
    + """

Rules:
- At most 5 points per section, preferring the most recent and most informative.
- When parts disagree, the later part wins (the situation has moved on); drop questions \
that a later part answers.
- Keep the [#<entry_id>] citations of every point you keep; do not invent new ones.
- Status and severity come from the incident record first.
- If a section has nothing, leave it empty rather than guessing. Never state a root \
cause that is not recorded or confirmed.

Incident record:
{incident}

Notes from each part, oldest first:
{partials}
"""
)
"""Reduce step of the long-timeline summary. Placeholders: ``{incident}``, ``{partials}``."""

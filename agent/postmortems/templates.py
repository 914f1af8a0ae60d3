"""Postmortem templates: Markdown with ``{{incident.<field>}}`` variables.

A template is an ordinary Markdown document. Wherever it says
``{{incident.title}}`` (whitespace inside the braces is allowed, so
``{{ incident.title }}`` is the same variable) the rendered postmortem gets
that field of the incident. There are two kinds of variables:

* fixed fields, copied from the incident record: see :data:`FIXED_FIELDS`;
* AI fields (``ai_summary``, ``ai_root_cause``, ...), written by a model or, offline,
  extracted from the timeline: see :data:`AI_FIELDS`.

Rules checked by :func:`validate_template` (all problems are reported, each with
a 1-based line and column):

* every variable must have a Markdown ATX heading (``#`` to ``######``) on or
  before its line, because the AI path drafts one section per heading and a
  variable before the first heading would have no section to live in. A
  variable inside a heading line (``# {{incident.title}}``) is fine.
  Setext headings (text underlined with ``===``) do not count.
* only the known variables are allowed; anything else (``{{incident.foo}}``,
  ``{{user.name}}``) is refused, naming the allowed ones.
* braces must be well formed: ``{{incident.title}``, ``{incident.title}}``,
  ``{{ }}``, a ``{{`` left open at the end of its line (variables never span
  lines), ``{{{`` and a stray ``}}`` are all refused.

Fenced code blocks (lines between ````` ``` ````` or ``~~~`` fences) are skipped
entirely: braces there are neither checked nor substituted, so a template can
show the variable syntax literally. A fence that is never closed runs to the
end of the document, as in CommonMark. Inline code spans and indented code
blocks are *not* skipped. Single braces (``{like this}``) are plain text.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import prompts

__all__ = [
    "AI_FIELDS",
    "ALLOWED_VARIABLES",
    "BUILTIN_TEMPLATES",
    "BUILTIN_TEMPLATE_DIR",
    "FIXED_FIELDS",
    "NOT_KNOWN",
    "Template",
    "TemplateError",
    "TemplateValidationError",
    "Variable",
    "load_builtin_template",
    "load_builtin_templates",
    "parse_template",
    "render_template",
    "validate_template",
]

FIXED_FIELDS: tuple[str, ...] = (
    "title",
    "public_id",
    "severity",
    "status",
    "declared_at",
    "resolved_at",
    "duration",
    "commander",
    "services",
    "customer_impact",
    "root_cause",
    "remediation",
    "timeline",
)
"""Variables filled from the incident record, e.g. ``{{incident.severity}}``."""

AI_FIELDS: tuple[str, ...] = (
    "ai_summary",
    "ai_system_overview",
    "ai_key_timeline",
    "ai_customer_impact",
    "ai_action_items",
    "ai_lessons_learned",
    "ai_root_cause",
)
"""Variables drafted by a model (or extracted offline), e.g. ``{{incident.ai_summary}}``."""

ALLOWED_VARIABLES: tuple[str, ...] = tuple(f"incident.{field}" for field in FIXED_FIELDS + AI_FIELDS)
"""Every variable name a template may use, in documentation order."""

NOT_KNOWN = "_Not known._"
"""Rendered in place of a variable that has no value, so gaps are visible rather than blank."""

BUILTIN_TEMPLATE_DIR: Path = Path(prompts.__file__).resolve().parent / "templates"
"""Directory holding the built-in templates shipped with the project."""

BUILTIN_TEMPLATES: dict[str, Path] = {
    "plain": BUILTIN_TEMPLATE_DIR / "plain.md",
    "ai": BUILTIN_TEMPLATE_DIR / "ai.md",
}
"""Built-in template name -> file. ``plain`` uses fixed fields only; ``ai`` uses the AI fields."""

_PREFIX = "incident."
_ALLOWED_FIELDS = frozenset(FIXED_FIELDS + AI_FIELDS)

# ATX heading: up to three spaces, 1-6 '#', then a space/tab or the end of the line
# ("#hashtag" is not a heading in CommonMark).
_HEADING_RE = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*$")
_FENCE_OPEN_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_FENCE_CLOSE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*$")
_BRACE_RUN_RE = re.compile(r"\{+|\}+")
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_VARIABLE_HINT = "a variable is written `{{incident.<field>}}`"


@dataclass(frozen=True)
class TemplateError:
    """One problem found in a template.

    Attributes:
        line: 1-based line number.
        column: 1-based column of the first character of the offending braces.
        reason: Human-readable explanation, including how to fix it.
    """

    line: int
    column: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.reason}"


class TemplateValidationError(ValueError):
    """Raised by :func:`parse_template` when a template has problems.

    Attributes:
        errors: Every problem found, in document order.
    """

    def __init__(self, errors: list[TemplateError]) -> None:
        self.errors = list(errors)
        lines = "\n".join(f"- {error}" for error in self.errors)
        super().__init__(f"template has {len(self.errors)} problem(s):\n{lines}")


@dataclass(frozen=True)
class Variable:
    """One well-formed, known variable occurrence in a template.

    Attributes:
        field: Field name without the ``incident.`` prefix, e.g. ``"title"`` or ``"ai_summary"``.
        line: 1-based line number.
        column: 1-based column of the opening ``{{``.
        start: Offset of the opening ``{{`` in the template text.
        end: Offset just after the closing ``}}``.
        heading: Text of the nearest heading on or before the variable.
        in_heading: Whether the variable sits inside a heading line.
    """

    field: str
    line: int
    column: int
    start: int
    end: int
    heading: str
    in_heading: bool = False

    @property
    def name(self) -> str:
        """Full variable name, e.g. ``"incident.title"``."""
        return _PREFIX + self.field

    @property
    def is_ai(self) -> bool:
        """Whether this is an AI variable (``ai_*``)."""
        return self.field in AI_FIELDS


@dataclass(frozen=True)
class Template:
    """A validated template.

    Attributes:
        text: The template source, unchanged.
        variables: Every variable occurrence in document order (fenced code excluded).
    """

    text: str
    variables: tuple[Variable, ...]

    @property
    def fields(self) -> tuple[str, ...]:
        """Distinct field names used, in order of first use."""
        return tuple(dict.fromkeys(variable.field for variable in self.variables))

    @property
    def ai_fields(self) -> tuple[str, ...]:
        """Distinct AI field names used, in order of first use."""
        return tuple(field for field in self.fields if field in AI_FIELDS)

    @property
    def uses_ai(self) -> bool:
        """Whether rendering needs any AI-drafted (or extracted) section."""
        return bool(self.ai_fields)


def validate_template(text: str) -> list[TemplateError]:
    """Check a template and return every problem found.

    Args:
        text: Template source (Markdown).

    Returns:
        All problems in document order; an empty list means the template is valid.
        A template without any variable is valid.
    """
    return _analyse(text)[1]


def parse_template(text: str) -> Template:
    """Parse and validate a template.

    Args:
        text: Template source (Markdown).

    Returns:
        The parsed template with its variable occurrences.

    Raises:
        TemplateValidationError: If the template has any problem; ``errors`` lists all of them.
    """
    variables, errors = _analyse(text)
    if errors:
        raise TemplateValidationError(errors)
    return Template(text=text, variables=tuple(variables))


def render_template(
    template: Template | str,
    fixed: Mapping[str, str | None] | None = None,
    ai: Mapping[str, str | None] | None = None,
) -> str:
    """Substitute every variable of a template.

    Substitution is a single pass over the original text, so a value that itself
    contains ``{{incident.x}}`` is copied literally, never expanded. Inside a heading
    line a value is collapsed onto one line, since a newline would end the heading.

    Args:
        template: A parsed template, or template source (parsed and validated here).
        fixed: Values of fixed fields keyed by field name (``"title"``, ``"severity"``...).
        ai: Values of AI fields keyed by field name, with or without the ``ai_``
            prefix (``"ai_summary"`` or ``"summary"``), so the keys of
            :func:`agent.postmortems.extract.extract_ai_sections` can be used directly.

    Returns:
        The rendered Markdown. A variable without a value, or with a blank one,
        becomes :data:`NOT_KNOWN`.

    Raises:
        TemplateValidationError: If ``template`` is source text that does not validate.
    """
    parsed = parse_template(template) if isinstance(template, str) else template
    fixed = fixed or {}
    ai = ai or {}
    parts: list[str] = []
    position = 0
    for variable in parsed.variables:
        if variable.is_ai:
            value = ai.get(variable.field)
            if value is None:
                value = ai.get(variable.field.removeprefix("ai_"))
        else:
            value = fixed.get(variable.field)
        if value is None or not value.strip():
            value = NOT_KNOWN
        else:
            value = value.strip("\r\n")
        if variable.in_heading:
            value = " ".join(value.split())
        parts.append(parsed.text[position : variable.start])
        parts.append(value)
        position = variable.end
    parts.append(parsed.text[position:])
    return "".join(parts)


def load_builtin_templates() -> dict[str, str]:
    """Read the source of every built-in template.

    Returns:
        Template name (``"plain"``, ``"ai"``) -> Markdown source.
    """
    return {name: path.read_text(encoding="utf-8") for name, path in BUILTIN_TEMPLATES.items()}


def load_builtin_template(name: str) -> Template:
    """Read and parse one built-in template.

    Args:
        name: ``"plain"`` or ``"ai"``.

    Returns:
        The parsed template.

    Raises:
        KeyError: If there is no built-in template with that name.
    """
    if name not in BUILTIN_TEMPLATES:
        raise KeyError(f"no built-in template {name!r}; choose one of {', '.join(BUILTIN_TEMPLATES)}")
    return parse_template(BUILTIN_TEMPLATES[name].read_text(encoding="utf-8"))


# --- scanning -------------------------------------------------------------------------------


def _analyse(text: str) -> tuple[list[Variable], list[TemplateError]]:
    """Scan a template once, collecting variables and problems.

    Args:
        text: Template source.

    Returns:
        Known, well-formed variables (also those that break the heading rule) and all problems.
    """
    variables: list[Variable] = []
    errors: list[TemplateError] = []
    heading: str | None = None
    fence: str | None = None  # the opening fence while inside a fenced code block
    offset = 0
    for lineno, raw_line in enumerate(text.splitlines(keepends=True), start=1):
        line_offset = offset
        offset += len(raw_line)
        line = raw_line.rstrip("\r\n")
        if fence is not None:
            close = _FENCE_CLOSE_RE.match(line)
            if close and close.group(1)[0] == fence[0] and len(close.group(1)) >= len(fence):
                fence = None
            continue
        opening = _FENCE_OPEN_RE.match(line)
        # CommonMark: a backtick fence's info string may not contain backticks.
        if opening and not (opening.group(1)[0] == "`" and "`" in opening.group(2)):
            fence = opening.group(1)
            continue
        heading_match = _HEADING_RE.match(line)
        if heading_match:
            heading = (heading_match.group(2) or "").rstrip("#").strip()
        _scan_line(
            line,
            lineno=lineno,
            line_offset=line_offset,
            heading=heading,
            in_heading=heading_match is not None,
            variables=variables,
            errors=errors,
        )
    return variables, errors


def _scan_line(
    line: str,
    *,
    lineno: int,
    line_offset: int,
    heading: str | None,
    in_heading: bool,
    variables: list[Variable],
    errors: list[TemplateError],
) -> None:
    """Find the variables and brace problems on one line (outside code fences).

    Works on runs of consecutive braces so that every malformed form maps to
    exactly one error and scanning carries on after it (all errors are reported).

    Args:
        line: The line without its line ending.
        lineno: 1-based line number.
        line_offset: Offset of the line's first character in the template.
        heading: Text of the nearest heading so far, or None before the first heading.
        in_heading: Whether this line is itself a heading.
        variables: Receives the well-formed, known variables.
        errors: Receives the problems.
    """
    runs = list(_BRACE_RUN_RE.finditer(line))
    # Lone "{" still open on this line: their "}" are text too, even when they come
    # as "}}" (JSON such as {"a": {"b": 1}} is not a stray variable end).
    single_depth = 0
    i = 0
    while i < len(runs):
        run = runs[i]
        token = run.group()
        column = run.start() + 1
        following = runs[i + 1] if i + 1 < len(runs) else None
        closes = following is not None and following.group()[0] == "}"

        if token[0] == "}":
            matched = min(len(token), single_depth)
            single_depth -= matched
            if len(token) - matched >= 2:
                errors.append(
                    TemplateError(lineno, column, f"`{token}` has no matching `{{{{`; {_VARIABLE_HINT}")
                )
            i += 1
            continue

        if len(token) >= 3:
            end = following.end() if closes and following is not None else len(line)
            errors.append(
                TemplateError(
                    lineno,
                    column,
                    f"`{line[run.start() : end]}`: nested or tripled braces `{token}` are not allowed; "
                    f"{_VARIABLE_HINT}",
                )
            )
            # Skip the closing run that goes with it so one mistake gives one error.
            i += 2 if closes else 1
            continue

        if len(token) == 1:
            # A lone "{" is text, unless it is clearly a variable missing a brace: "{incident.title}}".
            if following is not None and following.group() == "}}":
                name = line[run.end() : following.start()].strip()
                if _NAME_RE.fullmatch(name) and "." in name:
                    errors.append(
                        TemplateError(
                            lineno,
                            column,
                            f"`{line[run.start() : following.end()]}` is missing an opening brace; "
                            f"write `{{{{{name}}}}}`",
                        )
                    )
                    i += 2
                    continue
            single_depth += 1
            i += 1
            continue

        # token == "{{"
        if following is None:
            errors.append(
                TemplateError(
                    lineno,
                    column,
                    f"`{line[run.start() :]}`: `{{{{` is not closed before the end of the line "
                    "(variables cannot span lines); close it with `}}`",
                )
            )
            i += 1
            continue
        content = line[run.end() : following.start()]
        closing = following.group()
        snippet = line[run.start() : following.end()]
        if closing[0] == "{":
            errors.append(
                TemplateError(
                    lineno,
                    column,
                    f"`{line[run.start() : following.start()]}`: `{{{{` is not closed before the next "
                    f"`{{`; {_VARIABLE_HINT}",
                )
            )
            i += 1  # rescan from the next opening, which may be a valid variable
            continue
        i += 2
        if closing == "}":
            errors.append(
                TemplateError(
                    lineno,
                    column,
                    f"`{snippet}` is missing a closing brace; write `{{{{{content.strip()}}}}}`",
                )
            )
            continue
        if len(closing) > 2:
            errors.append(
                TemplateError(
                    lineno,
                    column,
                    f"`{snippet}` has too many closing braces; write `{{{{{content.strip()}}}}}`",
                )
            )
            continue

        name = content.strip()
        if not name:
            errors.append(
                TemplateError(lineno, column, f"`{snippet}` is an empty variable; {_VARIABLE_HINT}")
            )
            continue
        if not _NAME_RE.fullmatch(name):
            errors.append(
                TemplateError(lineno, column, f"`{snippet}` is not a valid variable name; {_VARIABLE_HINT}")
            )
            continue
        field = name.removeprefix(_PREFIX)
        known = name.startswith(_PREFIX) and field in _ALLOWED_FIELDS
        if not known:
            errors.append(TemplateError(lineno, column, _unknown_reason(name)))
        if heading is None:
            errors.append(
                TemplateError(
                    lineno,
                    column,
                    f"`{{{{{name}}}}}` comes before any Markdown heading; put every variable under a "
                    "heading (`#` to `######`)",
                )
            )
        if known:
            variables.append(
                Variable(
                    field=field,
                    line=lineno,
                    column=column,
                    start=line_offset + run.start(),
                    end=line_offset + following.end(),
                    heading=heading or "",
                    in_heading=in_heading,
                )
            )


def _unknown_reason(name: str) -> str:
    """Explain an unknown variable, with a suggestion when one is close.

    Args:
        name: The variable name as written, e.g. ``"incident.titel"``.

    Returns:
        The error reason naming every allowed variable.
    """
    suggestion = ""
    field = name.removeprefix(_PREFIX)
    if field in _ALLOWED_FIELDS:  # the prefix is missing or wrong, e.g. {{title}} or {{user.title}}
        suggestion = f" (did you mean `{{{{{_PREFIX + field}}}}}`?)"
    else:
        # Compare field names only: the shared "incident." prefix would make every name look close.
        close = difflib.get_close_matches(name.rsplit(".", 1)[-1], FIXED_FIELDS + AI_FIELDS, n=1)
        if close:
            suggestion = f" (did you mean `{{{{{_PREFIX + close[0]}}}}}`?)"
    allowed = ", ".join(ALLOWED_VARIABLES)
    return f"unknown variable `{{{{{name}}}}}`{suggestion}; allowed variables are: {allowed}"

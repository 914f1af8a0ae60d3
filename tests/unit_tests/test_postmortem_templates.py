"""Tests for postmortem template parsing, validation and rendering, and the section prompts."""

from __future__ import annotations

import re
import string

import pytest

from agent.postmortems.templates import (
    AI_FIELDS,
    ALLOWED_VARIABLES,
    BUILTIN_TEMPLATES,
    FIXED_FIELDS,
    NOT_KNOWN,
    TemplateValidationError,
    load_builtin_template,
    load_builtin_templates,
    parse_template,
    render_template,
    validate_template,
)
from prompts.postmortem import (
    POSTMORTEM_SYSTEM_PROMPT,
    SECTION_PROMPTS,
    SUMMARY_MAP_PROMPT,
    SUMMARY_REDUCE_PROMPT,
)

# --- built-in templates ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["plain", "ai"])
def test_builtin_templates_are_valid(name: str) -> None:
    source = load_builtin_templates()[name]
    assert validate_template(source) == []
    template = load_builtin_template(name)
    assert template.variables, "a built-in template without variables would render nothing"
    assert all(variable.heading for variable in template.variables)


def test_builtin_template_names_and_files() -> None:
    assert set(BUILTIN_TEMPLATES) == {"plain", "ai"}
    assert all(path.is_file() for path in BUILTIN_TEMPLATES.values())


def test_plain_template_uses_fixed_fields_only_and_has_blank_checklist() -> None:
    template = load_builtin_template("plain")
    assert not template.uses_ai
    assert set(template.fields) <= set(FIXED_FIELDS)
    for heading in (
        "## Summary",
        "## Impact",
        "## Timeline",
        "## Root cause",
        "## Remediation",
        "## Action items",
    ):
        assert heading in template.text
    assert "- [ ]" in template.text.split("## Action items", 1)[1]


def test_ai_template_uses_every_ai_field() -> None:
    template = load_builtin_template("ai")
    assert set(template.ai_fields) == set(AI_FIELDS)


def test_unknown_builtin_template_name() -> None:
    with pytest.raises(KeyError, match="plain"):
        load_builtin_template("fancy")


# --- headings ----------------------------------------------------------------------------------


def test_variable_before_any_heading_is_refused() -> None:
    errors = validate_template("Intro {{incident.title}}\n# Heading\n{{incident.status}}\n")
    assert [(e.line, e.column) for e in errors] == [(1, 7)]
    assert "heading" in errors[0].reason


def test_variable_in_heading_line_counts_as_under_heading() -> None:
    template = parse_template("# Postmortem: {{ incident.title }}\n")
    (variable,) = template.variables
    assert variable.in_heading
    assert variable.field == "title"


@pytest.mark.parametrize("level", range(1, 7))
def test_every_atx_heading_level_counts(level: int) -> None:
    assert validate_template("#" * level + " Section\n{{incident.severity}}\n") == []


@pytest.mark.parametrize(
    "not_a_heading",
    [
        "#hashtag",  # no space after '#'
        "####### seven",  # more than six '#'
        "    # indented code",  # four spaces make it code, not a heading
        "Title\n=====",  # setext headings are not accepted
    ],
)
def test_non_atx_headings_do_not_count(not_a_heading: str) -> None:
    errors = validate_template(f"{not_a_heading}\n{{{{incident.title}}}}\n")
    assert len(errors) == 1
    assert "heading" in errors[0].reason


def test_variable_records_nearest_heading() -> None:
    template = parse_template("# Top\n## Impact ##\n{{incident.customer_impact}}\n")
    assert template.variables[0].heading == "Impact"


def test_template_without_variables_is_valid() -> None:
    assert validate_template("Just text, {single braces} and no headings.\n") == []
    assert parse_template("").variables == ()


# --- unknown variables -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["incident.foo", "user.name", "title", "incident.ai_foo"])
def test_unknown_variables_are_refused_naming_allowed_ones(name: str) -> None:
    errors = validate_template(f"# H\n\ntext {{{{{name}}}}}\n")
    assert len(errors) == 1
    error = errors[0]
    assert (error.line, error.column) == (3, 6)
    assert f"unknown variable `{{{{{name}}}}}`" in error.reason
    for allowed in ALLOWED_VARIABLES:
        assert allowed in error.reason


def test_unknown_variable_suggests_close_name() -> None:
    (error,) = validate_template("# H\n{{incident.titel}}\n")
    assert "did you mean `{{incident.title}}`" in error.reason
    (error,) = validate_template("# H\n{{title}}\n")
    assert "did you mean `{{incident.title}}`" in error.reason


def test_unknown_variable_before_heading_reports_both_problems() -> None:
    errors = validate_template("{{user.name}}\n")
    assert len(errors) == 2
    assert any("unknown" in e.reason for e in errors)
    assert any("heading" in e.reason for e in errors)


# --- malformed braces --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("snippet", "column", "fragment"),
    [
        ("{{incident.title}", 3, "missing a closing brace"),
        ("{incident.title}}", 3, "missing an opening brace"),
        ("{{ }}", 3, "empty variable"),
        ("{{}}", 3, "empty variable"),
        ("{{incident.title", 3, "not closed before the end of the line"),
        ("{{incident.title {{incident.status}}", 3, "not closed before the next"),
        ("{{{incident.title}}}", 3, "nested or tripled braces"),
        ("{{{incident.title}}", 3, "nested or tripled braces"),
        ("{{incident.title}}}", 3, "too many closing braces"),
        ("a }} b", 5, "no matching"),
        ("{{incident title}}", 3, "not a valid variable name"),
    ],
)
def test_malformed_braces_are_refused_with_position(snippet: str, column: int, fragment: str) -> None:
    source = f"# Heading\n\n- {snippet} trailing\n"
    errors = validate_template(source)
    assert len(errors) == 1, errors
    assert (errors[0].line, errors[0].column) == (3, column)
    assert fragment in errors[0].reason
    with pytest.raises(TemplateValidationError) as raised:
        parse_template(source)
    assert raised.value.errors == errors


def test_variable_cannot_span_lines() -> None:
    errors = validate_template("# H\n{{incident.\ntitle}}\n")
    assert [e.line for e in errors] == [2, 3]


def test_all_errors_are_reported_in_document_order() -> None:
    source = (
        "{{incident.title}}\n"  # 1: before heading
        "# Title {{incident.title}}\n"  # 2: fine
        "{{incident.status}\n"  # 3: missing closing brace
        "text\n"
        "{incident.severity}} and {{incident.nope}}\n"  # 5: opening brace, unknown
        "{{ }}\n"  # 6: empty
    )
    errors = validate_template(source)
    assert [(e.line, e.column) for e in errors] == [(1, 1), (3, 1), (5, 1), (5, 26), (6, 1)]
    with pytest.raises(TemplateValidationError) as raised:
        parse_template(source)
    assert len(raised.value.errors) == 5
    assert "5 problem(s)" in str(raised.value)
    assert str(errors[1]).startswith("line 3, column 1: ")


def test_single_braces_are_plain_text() -> None:
    assert validate_template('# H\nJSON: {"a": {"b": 1}} and {x}\n') == []


# --- code fences -------------------------------------------------------------------------------


def test_braces_inside_fenced_code_are_ignored() -> None:
    source = (
        "```\n"
        "{{ broken } {{{ {{user.name}}\n"
        "```\n"
        "# Heading\n"
        "~~~~ text\n"
        "{{incident.nope\n"
        "```\n"  # a backtick fence does not close a tilde fence
        "~~~~\n"
        "{{incident.title}}\n"
        "```python\n"
        "print('{{incident.title}}')\n"
        "```\n"
    )
    template = parse_template(source)
    assert [(v.field, v.line) for v in template.variables] == [("title", 9)]
    rendered = render_template(template, {"title": "DB outage"})
    assert "{{ broken } {{{ {{user.name}}" in rendered
    assert "print('{{incident.title}}')" in rendered
    assert "\nDB outage\n" in rendered


def test_heading_inside_fence_does_not_count() -> None:
    (error,) = validate_template("```\n# not a heading\n```\n{{incident.title}}\n")
    assert error.line == 4
    assert "heading" in error.reason


def test_unclosed_fence_runs_to_end_of_document() -> None:
    assert validate_template("# H\n```\n{{ oops\n") == []


def test_errors_after_a_fence_keep_their_line_numbers() -> None:
    (error,) = validate_template("# H\n```\n{{x\n```\n{{incident.title}\n")
    assert error.line == 5


# --- rendering ---------------------------------------------------------------------------------


def test_render_substitutes_every_variable() -> None:
    source = (
        "# {{incident.public_id}}: {{ incident.title }}\n"
        "## Summary\n"
        "{{incident.ai_summary}}\n"
        "## Root cause\n"
        "{{incident.ai_root_cause}}\n"
        "Severity {{incident.severity}}, again {{incident.severity}}.\n"
    )
    rendered = render_template(
        parse_template(source),
        fixed={"public_id": "INC-7", "title": "Checkout errors", "severity": "SEV-2"},
        ai={"ai_summary": "It broke.\n", "root_cause": "Bad config."},
    )
    assert rendered == (
        "# INC-7: Checkout errors\n"
        "## Summary\n"
        "It broke.\n"
        "## Root cause\n"
        "Bad config.\n"
        "Severity SEV-2, again SEV-2.\n"
    )


def test_render_missing_or_blank_values_are_not_known() -> None:
    rendered = render_template(
        "# H\n{{incident.root_cause}} / {{incident.commander}} / {{incident.ai_lessons_learned}}\n",
        fixed={"commander": "   "},
    )
    assert rendered == f"# H\n{NOT_KNOWN} / {NOT_KNOWN} / {NOT_KNOWN}\n"


def test_render_keeps_fixed_and_ai_values_apart() -> None:
    # A fixed value must never fill an AI variable (and vice versa): the sources differ in trust.
    rendered = render_template(
        "# H\n{{incident.root_cause}}|{{incident.ai_root_cause}}\n",
        fixed={"ai_root_cause": "x"},
        ai={"root_cause": "from model"},
    )
    assert rendered == f"# H\n{NOT_KNOWN}|from model\n"


def test_render_does_not_expand_variables_inside_values() -> None:
    rendered = render_template("# H\n{{incident.title}}\n", fixed={"title": "{{incident.severity}}"})
    assert rendered == "# H\n{{incident.severity}}\n"


def test_render_collapses_multiline_values_in_headings() -> None:
    rendered = render_template("# {{incident.title}}\n{{incident.title}}\n", fixed={"title": "Two\nlines"})
    assert rendered == "# Two lines\nTwo\nlines\n"


def test_render_preserves_crlf_line_endings() -> None:
    rendered = render_template("# H\r\n{{incident.status}}\r\nend\r\n", fixed={"status": "resolved"})
    assert rendered == "# H\r\nresolved\r\nend\r\n"


def test_render_invalid_source_raises() -> None:
    with pytest.raises(TemplateValidationError):
        render_template("{{incident.title}}", fixed={"title": "x"})


def test_render_builtin_templates_leave_no_variables() -> None:
    fixed = dict.fromkeys(FIXED_FIELDS, "value")
    ai = dict.fromkeys(AI_FIELDS, "drafted")
    for name in BUILTIN_TEMPLATES:
        rendered = render_template(load_builtin_template(name), fixed, ai)
        assert "{{" not in rendered and "}}" not in rendered


# --- prompts -----------------------------------------------------------------------------------


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def test_section_prompts_cover_every_ai_variable() -> None:
    assert set(SECTION_PROMPTS) == set(AI_FIELDS)
    for name, prompt in SECTION_PROMPTS.items():
        assert _placeholders(prompt) == {"incident", "timeline"}, name
        formatted = prompt.format(incident="INC-1 record", timeline="[#1 14:03 alice] (message) hi")
        assert "[#<entry_id>]" in formatted and "Not known" in formatted, name
        assert "INC-1 record" in formatted and "[#1 14:03 alice]" in formatted


def test_summary_map_reduce_prompts_format() -> None:
    assert _placeholders(SUMMARY_MAP_PROMPT) == {"incident", "timeline", "chunk_number", "chunk_count"}
    assert _placeholders(SUMMARY_REDUCE_PROMPT) == {"incident", "partials"}
    mapped = SUMMARY_MAP_PROMPT.format(incident="I", timeline="T", chunk_number=2, chunk_count=3)
    assert "part 2 of 3" in mapped
    reduced = SUMMARY_REDUCE_PROMPT.format(incident="I", partials="P")
    for section in ("what_is_happening", "impact", "status", "tried", "who", "next_steps", "unknowns"):
        assert section in mapped and section in reduced
    assert not re.search(r"\{\w+\}", POSTMORTEM_SYSTEM_PROMPT)

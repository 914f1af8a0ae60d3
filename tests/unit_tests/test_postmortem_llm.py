"""Tests of the real-model path (map-reduce summaries, concurrent sections, citation checks) with a scripted fake."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import PrivateAttr

from agent.postmortems import llm
from agent.postmortems.templates import AI_FIELDS
from agent.summaries.extract import SUMMARY_SECTIONS, EntryView, IncidentView, Summary

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
INVENTED = (999_999, 424_242)
ENTRY_ID_RE = re.compile(r"^\[#(\d+) ", re.MULTILINE)
CITED_RE = re.compile(r"\[#(\d+)\]")


@dataclass(frozen=True)
class Call:
    """One request the fake model received."""

    kind: str  # "map", "reduce" or "section"
    prompt: str
    thread: int


class ScriptedChatModel(BaseChatModel):
    """Records every prompt and answers with canned text that cites entries, some of them invented.

    With `section_barrier` set, every section call waits until that many section calls are in flight at
    once, so the drafting only completes when sections really are requested in parallel.
    """

    model_name: str = "scripted-fake"
    section_barrier: int = 0
    fail: bool = False
    _calls: list[Call] = PrivateAttr(default_factory=list)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _barrier: threading.Barrier | None = PrivateAttr(default=None)

    def model_post_init(self, context: Any) -> None:
        super().model_post_init(context)
        if self.section_barrier:
            self._barrier = threading.Barrier(self.section_barrier)

    @property
    def _llm_type(self) -> str:
        return "scripted-fake"

    @property
    def calls(self) -> list[Call]:
        return list(self._calls)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        prompt = "\n".join(message.text for message in messages)
        if isinstance(messages[0], SystemMessage):
            kind = "section"
        elif "Notes from each part" in prompt:
            kind = "reduce"
        else:
            kind = "map"
        with self._lock:
            self._calls.append(Call(kind, prompt, threading.get_ident()))
        if self.fail:
            raise ConnectionError("model endpoint unreachable")
        if kind == "section" and self._barrier is not None:
            self._barrier.wait(timeout=10)  # broken (and the test fails) unless all sections run at once
        reply = {"map": self._map_reply, "reduce": self._reduce_reply, "section": self._section_reply}[kind]
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=reply(prompt)))])

    @staticmethod
    def _map_reply(prompt: str) -> str:
        ids = ENTRY_ID_RE.findall(prompt)
        first, last = ids[0], ids[-1]
        return (
            f"**what_is_happening:**\n- Checkout errors reported [#{first}]\n"
            f"impact: error rate reached 12% [#{last}]\n"
            f"## Tried\n- Rolled back the deploy [#{first}][#{INVENTED[0]}]\n"
            f"- An invented finding [#{INVENTED[1]}]\n"
            "- A claim with no source at all\n"
            f"unknowns:\n- Why the pool shrank [#{last}]\n"
        )

    @staticmethod
    def _reduce_reply(prompt: str) -> str:
        ids = CITED_RE.findall(prompt.split("Notes from each part")[1])
        return (
            f"what_is_happening:\n- Checkout errors after a deploy [#{ids[0]}]\n"
            f"status:\n- Mitigated [#{ids[-1]}]\n"
            f"next_steps:\n- Made-up follow-up [#{INVENTED[0]}]\n"
        )

    @staticmethod
    def _section_reply(prompt: str) -> str:
        timeline = prompt.split("Timeline (one entry per line")[1]  # past the rules' examples ([#12])
        first = ENTRY_ID_RE.findall(timeline) or CITED_RE.findall(timeline)
        return (
            f"- Errors began after the deploy [#{first[0]}]\n"
            f"- Invented statement [#{INVENTED[0]}]\n"
            f"- Partly sourced [#{first[0]}][#{INVENTED[1]}]\n"
            "Customers were told via the status page (incident record)"
        )


def _incident() -> IncidentView:
    return IncidentView(
        public_id="incident-7",
        title="Checkout failing",
        severity="SEV-2",
        status="resolved",
        declared_at=T0,
        resolved_at=T0 + timedelta(hours=3),
        commander="alice",
        services=("checkout-api",),
        customer_impact="Customers could not pay",
        root_cause="Connection pool too small",
    )


def _entries(count: int, *, first_id: int = 101) -> list[EntryView]:
    authors = ("alice", "bob", "carol")
    return [
        EntryView(
            id=first_id + index,
            at=T0 + timedelta(minutes=index),
            author=authors[index % 3],
            kind="message",
            text=f"Update {index}: checkout-api error rate is {index % 13}% after rollback step {index}",
            permalink=f"https://acme.slack.com/archives/C1/p{index}",
        )
        for index in range(count)
    ]


def _summary_ids(summary: Summary) -> set[int]:
    return {
        citation.entry_id
        for field, _ in SUMMARY_SECTIONS
        for point in getattr(summary, field)
        for citation in point.citations
    }


def test_chunks_cover_every_entry_within_the_budget() -> None:
    entries = _entries(60)
    long_text = "word " * 900  # about 1,125 tokens: longer than one part
    entries.append(EntryView(id=500, at=T0 + timedelta(hours=2), author="dave", kind="note", text=long_text))
    entries.append(EntryView(id=501, at=T0, author="eve", kind="message", text="deleted text", deleted=True))
    chunks = llm.chunk_timeline(entries, max_tokens=400)
    assert all(llm.count_tokens(chunk) <= 400 for chunk in chunks)
    text = "\n".join(chunks)
    assert {int(i) for i in ENTRY_ID_RE.findall(text)} == {e.id for e in entries if not e.deleted}
    pieces = re.findall(r"^\[#500 [^\]]*\] \(note, part (\d+)/(\d+)\) (.*)$", text, re.MULTILINE)
    assert len(pieces) == int(pieces[0][1]) > 1
    assert "".join(piece for _, _, piece in pieces) == long_text.strip()
    with pytest.raises(ValueError, match="at least 200 tokens"):
        llm.chunk_timeline(entries, max_tokens=50)


def test_short_timeline_is_summarised_in_one_call() -> None:
    model = ScriptedChatModel()
    summary, stats = llm.summarize_with_model(
        model, _incident(), _entries(12), now=T0 + timedelta(hours=4), message_count=12
    )
    assert [call.kind for call in model.calls] == ["map"]
    assert (stats.calls, stats.map_calls, stats.reduce_calls, stats.chunks) == (1, 1, 0, 1)
    assert summary.method == "model" and summary.message_count == 12
    assert summary.status[0].text.startswith("Status: resolved. Severity: SEV-2.")


def test_long_timeline_is_summarised_map_reduce_reading_every_entry() -> None:
    entries = _entries(300)
    model = ScriptedChatModel()
    summary, stats = llm.summarize_with_model(
        model,
        _incident(),
        entries,
        now=T0 + timedelta(hours=6),
        message_count=300,
        context_tokens=2_000,
        max_concurrency=4,
    )
    kinds = [call.kind for call in model.calls]
    assert stats.map_calls == stats.chunks == kinds.count("map") > 2
    assert stats.reduce_calls == kinds.count("reduce") >= 1
    assert stats.calls == len(model.calls) == stats.map_calls + stats.reduce_calls
    # Every map call precedes every reduce call, and the last call is the single final merge.
    assert kinds == ["map"] * stats.map_calls + ["reduce"] * stats.reduce_calls
    map_prompts = [call.prompt for call in model.calls if call.kind == "map"]
    seen = {int(i) for prompt in map_prompts for i in ENTRY_ID_RE.findall(prompt)}
    assert seen == {entry.id for entry in entries}
    assert all(f"of {stats.chunks} (one entry per line" in prompt for prompt in map_prompts)
    assert stats.input_tokens == sum(llm.count_tokens(call.prompt) for call in model.calls)
    assert all(llm.count_tokens(call.prompt) <= 2_000 for call in model.calls)

    cited = _summary_ids(summary)
    assert cited and cited <= {entry.id for entry in entries}
    assert stats.invalid_citations >= 1 and stats.dropped_points >= 1
    assert not any("Made-up" in point.text for point in summary.next_steps)


def test_summary_drops_invented_and_unsourced_points() -> None:
    model = ScriptedChatModel()
    summary, stats = llm.summarize_with_model(
        model, _incident(), _entries(15), now=T0 + timedelta(hours=4), message_count=15
    )
    texts = [point.text for field, _ in SUMMARY_SECTIONS for point in getattr(summary, field)]
    assert "Rolled back the deploy" in texts  # kept: one real citation, the invented one removed
    assert not any("invented finding" in text or "no source" in text for text in texts)
    assert (stats.invalid_citations, stats.dropped_points) == (2, 2)
    assert [c.entry_id for c in summary.tried[0].citations] == [101]
    assert summary.impact[0].text == "error rate reached 12%"
    assert [c.entry_id for c in summary.impact[0].citations] == [115]


def test_sections_are_requested_concurrently_and_citations_checked() -> None:
    fields = list(AI_FIELDS)
    model = ScriptedChatModel(section_barrier=len(fields))
    entries = _entries(20)
    sections, stats = llm.draft_sections(model, _incident(), entries, fields)

    assert [call.kind for call in model.calls] == ["section"] * len(fields)  # short: read verbatim, no map
    assert len({call.thread for call in model.calls}) == len(fields)
    assert stats.section_calls == stats.calls == len(fields)
    assert all("[#120 " in call.prompt for call in model.calls)  # the whole timeline, verbatim
    assert set(sections) == set(fields)
    for field, section in sections.items():
        assert "[#101 09:00 alice](https://acme.slack.com/archives/C1/p0)" in section.text, field
        assert "Invented statement" not in section.text
        assert "Partly sourced" in section.text and "424242" not in section.text
        assert "(incident record)" in section.text
        assert "2 citation(s) to timeline entries that do not exist were removed" in section.text
        assert [c.entry_id for c in section.citations] == [101]
    assert (stats.invalid_citations, stats.dropped_points) == (2 * len(fields), len(fields))


def test_sections_of_a_long_timeline_read_condensed_notes_of_every_entry() -> None:
    entries = _entries(400)
    model = ScriptedChatModel()
    sections, stats = llm.draft_sections(
        model, _incident(), entries, ["ai_summary", "ai_key_timeline"], context_tokens=3_000
    )
    kinds = [call.kind for call in model.calls]
    assert kinds.count("section") == 2 and stats.map_calls == kinds.count("map") > 1
    seen = {int(i) for call in model.calls if call.kind == "map" for i in ENTRY_ID_RE.findall(call.prompt)}
    assert seen == {entry.id for entry in entries}
    assert all(llm.count_tokens(call.prompt) <= 3_000 for call in model.calls)
    assert all(section.citations for section in sections.values())


def test_model_failure_is_reported_as_a_domain_error() -> None:
    with pytest.raises(llm.ModelCallFailed, match="ConnectionError: model endpoint unreachable"):
        llm.draft_sections(ScriptedChatModel(fail=True), _incident(), _entries(3), ["ai_summary"])
    with pytest.raises(ValueError, match="no section prompt for ai_weather"):
        llm.draft_sections(ScriptedChatModel(), _incident(), _entries(3), ["ai_weather"])


class _OpenAILike(ScriptedChatModel):
    @property
    def _llm_type(self) -> str:
        return "openai-chat"  # what ChatOpenAI reports; importing it here would cost seconds


def test_model_label() -> None:
    assert llm.model_label(ScriptedChatModel(model_name="tiny")) == "tiny"
    assert llm.model_label(_OpenAILike(model_name="gpt-4o-mini")) == "openai:gpt-4o-mini"

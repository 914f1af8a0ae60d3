"""Held-out evaluation questions are only scored: none of them, nor a near copy, may be used anywhere else."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from evals.dataset import load_split

ROOT = Path(__file__).resolve().parents[2]
_WORD = re.compile(r"[a-z0-9]+")
# Where code, rules, examples and tests live; the held-out files themselves are not searched.
SEARCHED = ("agent", "tools", "prompts", "tests", "evals", "graph.py")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _heldout_questions() -> list[str]:
    return [
        turn.question for cases in load_split("heldout").values() for case in cases for turn in case.turns
    ]


def _strings_in_code() -> list[str]:
    """Every string literal of the project's Python files, and every line of its other text files."""
    found: list[str] = []
    for top in SEARCHED:
        root = ROOT / top
        for path in [root] if root.is_file() else sorted(root.rglob("*")):
            if not path.is_file() or "heldout" in path.parts or "__pycache__" in path.parts:
                continue
            if path.suffix == ".py":
                tree = ast.parse(path.read_text(encoding="utf-8"))
                found += [
                    n.value
                    for n in ast.walk(tree)
                    if isinstance(n, ast.Constant) and isinstance(n.value, str)
                ]
            elif path.suffix in {".jsonl", ".md", ".yaml", ".json", ".txt"}:
                found += path.read_text(encoding="utf-8", errors="replace").splitlines()
    return found


def _near_copy(question: list[str], text: list[str]) -> bool:
    """Returns whether `text` holds the question's words in order, or nearly all of them as a set."""
    if len(question) < 4:
        return False
    if " ".join(question) in " ".join(text):
        return True
    wanted = set(question)
    return len(text) <= 3 * len(question) and len(wanted & set(text)) / len(wanted | set(text)) >= 0.8


def test_there_are_held_out_questions() -> None:
    assert len(_heldout_questions()) >= 200


def test_no_held_out_question_appears_in_code_rules_examples_tests_or_dev_data() -> None:
    texts = [_words(text) for text in _strings_in_code()]
    leaks = [q for q in _heldout_questions() if any(_near_copy(_words(q), text) for text in texts)]
    assert leaks == []


def test_the_near_copy_check_catches_copies_and_light_edits() -> None:
    question = _words("quick q: how many sev2s did payments have since the 3rd?")
    assert _near_copy(
        question, _words("prefix: Quick Q - how many SEV2s did payments have since the 3rd? more")
    )
    assert _near_copy(question, _words("quick q how many sev2s did payments have since 3rd"))
    assert not _near_copy(question, _words("how many incidents are ongoing"))

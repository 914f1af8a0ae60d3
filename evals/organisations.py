"""The stores evaluation cases run over: the generated demo organisation and real public incidents.

`demo` is generated (`agent.demo`); `public` is imported from `evals/orgs/public/incidents.jsonl`:
publicly documented incidents, paraphrased and re-dated into the year before `EVAL_NOW`, so that no score
is tied to the demo's own vocabulary. Each store is built once and cached by a fingerprint of what it
is built from; a store is built into a temporary folder and moved into place only when complete.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from agent.db import session_scope
from agent.importers.jsonl import import_jsonl
from agent.postmortems.service import ensure_builtin_templates
from evals.dataset import EVAL_NOW, ORGANISATIONS
from evals.runner import EvalError
from evals.store import build_cached_store, demo_fingerprint, prepare_demo

PUBLIC_INCIDENTS = Path(__file__).parent / "orgs" / "public" / "incidents.jsonl"
"""The public organisation's incidents, in the `incident-copilot import` format."""

PUBLIC_ACTOR = "eval-public-org"
"""Who the audit log says imported the public organisation."""


def _public_fingerprint() -> str:
    # The import and index code is what the demo's fingerprint already covers.
    digest = hashlib.sha256(demo_fingerprint(now=EVAL_NOW, seed=0).encode())
    digest.update(PUBLIC_INCIDENTS.read_bytes())
    return "public-" + digest.hexdigest()[:16]


def prepare_public(*, cache_root: Path, rebuild: bool = False) -> Path:
    """Returns a folder holding the public organisation's store (`incidents.db` + `chroma/`), cached."""

    def build(engine: Engine, index: Any) -> None:
        import_jsonl(engine=engine, path=PUBLIC_INCIDENTS, now=EVAL_NOW, actor=PUBLIC_ACTOR, index=index)
        with session_scope(engine) as db_session:
            ensure_builtin_templates(db_session=db_session, now=EVAL_NOW)
        with session_scope(engine) as db_session:
            index.sync(db_session)

    return build_cached_store(cache_root / _public_fingerprint(), build, rebuild=rebuild)


def prepare_organisation(name: str, *, cache_root: Path, rebuild: bool = False) -> Path:
    """Returns the built store of an organisation (`demo` or `public`).

    Raises:
        EvalError: for an unknown organisation.
    """
    if name == "demo":
        return prepare_demo(cache_root=cache_root / "demo", rebuild=rebuild)
    if name == "public":
        return prepare_public(cache_root=cache_root / "public", rebuild=rebuild)
    raise EvalError(f"Unknown organisation '{name}'; use one of {', '.join(ORGANISATIONS)}.")

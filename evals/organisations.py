"""The stores evaluation cases run over: the generated demo organisation and real public incidents.

`demo` is generated (`agent.demo`); `public` is imported from `evals/orgs/public/incidents.jsonl`:
publicly documented incidents, paraphrased and re-dated into the year before `EVAL_NOW`, so that no score
is tied to the demo's own vocabulary. Each store is built once and cached by a fingerprint of what it
is built from; a store is built into a temporary folder and moved into place only when complete.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

from agent.db import make_engine, session_scope, upgrade
from evals.dataset import EVAL_NOW, ORGANISATIONS
from evals.runner import EvalError, demo_fingerprint, prepare_demo

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
    from agent.importers.jsonl import import_jsonl  # noqa: PLC0415 - loads the store's models
    from agent.postmortems.service import ensure_builtin_templates  # noqa: PLC0415
    from agent.search.index import open_index  # noqa: PLC0415 - loads the embedding model

    target = cache_root / _public_fingerprint()
    if rebuild:
        shutil.rmtree(target, ignore_errors=True)
    if (target / "incidents.db").is_file() and (target / "chroma").is_dir():
        return target
    cache_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="building-", dir=cache_root))
    try:
        engine = make_engine(f"sqlite:///{staging / 'incidents.db'}")
        upgrade(engine)
        index = open_index(path=staging / "chroma")
        import_jsonl(engine=engine, path=PUBLIC_INCIDENTS, now=EVAL_NOW, actor=PUBLIC_ACTOR, index=index)
        with session_scope(engine) as db_session:
            ensure_builtin_templates(db_session=db_session, now=EVAL_NOW)
        with session_scope(engine) as db_session:
            index.sync(db_session)
        index.client.close()
        engine.dispose()
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


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

"""The evaluation's stores: the demo organisation, built once and cached, and a fresh copy for each case.

`read_snapshot` says what a store holds after a case, for the state checks.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from agent.db import make_engine, upgrade
from agent.demo.build import build_demo
from agent.incidents.models import AuditRecord, Incident, Service, TimelineEntry, incident_services
from agent.postmortems.models import Postmortem
from agent.search.index import open_index
from evals.dataset import EVAL_NOW, EVAL_SEED
from evals.scoring import StoreSnapshot

_DEMO_SOURCES = (
    "agent/demo",
    "agent/importers",
    "agent/incidents",
    "agent/migrations",
    "agent/postmortems",
    "agent/search",
    "agent/summaries",
    "agent/db.py",
    "agent/normalize.py",
    "agent/serialize.py",
    "prompts",
)
"""What `build_demo` runs; a change to any of it invalidates a cached demo store."""

_PROJECT_ROOT = Path(__file__).resolve().parent.parent


def demo_fingerprint(*, now: datetime, seed: int) -> str:
    """Returns a hash of everything a built demo store depends on: the clock, the seed and the build code."""
    import chromadb  # lazy: its version shapes the index files

    digest = hashlib.sha256(f"{now.isoformat()}|{seed}|chromadb {chromadb.__version__}".encode())
    for source in _DEMO_SOURCES:
        root = _PROJECT_ROOT / source
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        for path in files:
            if path.is_file() and path.suffix in {".py", ".md", ".txt", ".json", ".mako"}:
                digest.update(path.relative_to(_PROJECT_ROOT).as_posix().encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def build_cached_store(
    target: Path, build: Callable[[Engine, Any], object], *, rebuild: bool = False
) -> Path:
    """Returns `target` holding a store (`incidents.db` + `chroma/`) that `build(engine, index)` filled.

    A store is built into a temporary folder beside `target` and moved into place only when complete, so
    an interrupted build is never reused; a complete one is reused unless `rebuild`. Other stores of the
    same cache folder (other fingerprints) are removed.
    """
    if rebuild:
        shutil.rmtree(target, ignore_errors=True)
    if (target / "incidents.db").is_file() and (target / "chroma").is_dir():
        return target
    cache_root = target.parent
    cache_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="building-", dir=cache_root))
    try:
        engine = make_engine(f"sqlite:///{staging / 'incidents.db'}")
        upgrade(engine)
        index = open_index(path=staging / "chroma")
        build(engine, index)
        index.client.close()
        engine.dispose()
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for stale in cache_root.iterdir():
        if stale != target and stale.is_dir() and not stale.name.startswith("building-"):
            shutil.rmtree(stale, ignore_errors=True)
    return target


def prepare_demo(
    *, cache_root: Path, now: datetime = EVAL_NOW, seed: int = EVAL_SEED, rebuild: bool = False
) -> Path:
    """Returns a folder holding the demo store (`incidents.db` + `chroma/`), built now or found in the cache
    (keyed by `demo_fingerprint`)."""

    def build(engine: Engine, index: Any) -> None:
        build_demo(engine=engine, index=index, now=now, seed=seed)

    return build_cached_store(cache_root / demo_fingerprint(now=now, seed=seed), build, rebuild=rebuild)


def _sqlite_copy(source: Path, target: Path) -> None:
    # The backup API copies pages still in the write-ahead log, which a file copy could miss.
    with (
        contextlib.closing(sqlite3.connect(source)) as origin,
        contextlib.closing(sqlite3.connect(target)) as copy,
    ):
        origin.backup(copy)


def snapshot_store(source: Path, target: Path) -> Path:
    """Returns `target` holding a consistent copy of the demo store in `source` (SQLite database and Chroma folder).

    The databases are copied with SQLite's backup API, so the copy is one self-contained file each even
    while `source` is open in WAL mode; `copy_store` then clones that copy with plain file copies.
    """
    target.mkdir(parents=True)
    _sqlite_copy(source / "incidents.db", target / "incidents.db")
    shutil.copytree(source / "chroma", target / "chroma", ignore=shutil.ignore_patterns("chroma.sqlite3*"))
    _sqlite_copy(source / "chroma" / "chroma.sqlite3", target / "chroma" / "chroma.sqlite3")
    return target


def copy_store(template: Path, target: Path) -> Path:
    """Returns `target` holding a copy of a store made by `snapshot_store` (cheap: plain file copies)."""
    shutil.copytree(template, target)
    return target


def open_store(data_dir: Path) -> Engine:
    """Returns an engine on the SQLite store of a demo folder (the caller disposes of it)."""
    return make_engine(f"sqlite:///{data_dir / 'incidents.db'}")


def store_fingerprint(data_dir: Path) -> tuple[int, ...]:
    """Returns counts that every write moves: incidents and their versions, audit records, postmortems, entries."""
    engine = open_store(data_dir)
    try:
        with engine.connect() as connection:
            incidents = connection.execute(
                select(
                    func.count(),
                    func.coalesce(func.sum(Incident.version), 0),
                    func.coalesce(func.max(Incident.id), 0),
                )
            ).one()
            audit = connection.execute(select(func.count(), func.coalesce(func.max(AuditRecord.id), 0))).one()
            others = [
                connection.scalar(select(func.count()).select_from(model))
                for model in (Postmortem, TimelineEntry)
            ]
    finally:
        engine.dispose()
    return (*incidents, *audit, *(count or 0 for count in others))


def read_snapshot(data_dir: Path) -> StoreSnapshot:
    """Returns what the state check compares, read with plain SQL from the store in `data_dir`."""
    engine = open_store(data_dir)
    try:
        with engine.connect() as connection:
            services: dict[int, list[str]] = {}
            joined = select(incident_services.c.incident_id, Service.name).join(
                Service, Service.id == incident_services.c.service_id
            )
            for number, name in connection.execute(joined):
                services.setdefault(number, []).append(name)
            entries = dict(
                connection.execute(
                    select(TimelineEntry.incident_id, func.count()).group_by(TimelineEntry.incident_id)
                ).all()
            )
            incidents: dict[int, dict[str, Any]] = {}
            table = Incident.__table__
            for row in connection.execute(select(table)).mappings():
                fields = {
                    name: row[name]
                    for name in (
                        "title",
                        "severity",
                        "status",
                        "commander",
                        "customer_impact",
                        "root_cause",
                        "remediation",
                        "summary",
                        "private",
                        "version",
                        "slack_channel_name",
                    )
                }
                fields["services"] = sorted(services.get(row["id"], []))
                fields["timeline_entries"] = entries.get(row["id"], 0)
                incidents[row["id"]] = fields
            postmortems = {
                pm_id: (number, bool(linked))
                for pm_id, number, linked in connection.execute(
                    select(Postmortem.id, Postmortem.incident_id, Postmortem.linked)
                )
            }
            audit = {
                record_id: (action, number)
                for record_id, action, number in connection.execute(
                    select(AuditRecord.id, AuditRecord.action, AuditRecord.incident_id)
                )
            }
    finally:
        engine.dispose()
    return StoreSnapshot(incidents=incidents, postmortems=postmortems, audit=audit)

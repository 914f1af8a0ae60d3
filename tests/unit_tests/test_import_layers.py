"""The import contracts of pyproject.toml (`[tool.importlinter]`) hold: imports point down, never in loops.

The layers are drawn in docs/architecture.md. import-linter reads every import, those inside functions
and under `TYPE_CHECKING` too, so a lazy import cannot hide an import that runs back up.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_imports_keep_the_layers() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run(
        [str(lint_imports), "--no-cache", "--no-logo"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stdout + run.stderr


# Where SQL may be written: the domain (incidents, the per-concept stores beside it, the engine and the
# migrations). The front doors, the agent and the features listed reach the store only through the
# domain's functions; search and postmortems still hold SQL of their own.
_NO_SQL_PACKAGES = (
    "agent/slack",
    "agent/cli",
    "agent/offline",
    "tools",
    "agent/importers",
    "agent/demo",
    "agent/summaries",
)
_NO_SQL_MODULES = ("agent/runner.py", "agent/graph.py", "agent/models.py", "agent/checkpoints.py", "graph.py")
_QUERY_CONSTRUCTS = frozenset(
    {"select", "insert", "update", "delete", "text", "func", "bindparam", "and_", "or_", "exists", "literal"}
)


def _sql_imports(path: Path) -> list[str]:
    """Returns the SQLAlchemy query constructs a module imports."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            if (node.module or "").startswith(("sqlalchemy.sql", "sqlalchemy.dialects")):
                found.append(f"{node.module}")
            found += [alias.name for alias in node.names if alias.name in _QUERY_CONSTRUCTS]
    return found


def test_only_the_domain_writes_sql() -> None:
    paths = [p for package in _NO_SQL_PACKAGES for p in sorted((ROOT / package).rglob("*.py"))]
    paths += [ROOT / module for module in _NO_SQL_MODULES]
    written = {str(p.relative_to(ROOT)): names for p in paths if (names := _sql_imports(p))}
    assert written == {}


def test_the_sql_check_sees_a_query_construct(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from sqlalchemy import Engine, select\nfrom sqlalchemy.sql import expression\n")
    assert _sql_imports(module) == ["select", "sqlalchemy.sql"]

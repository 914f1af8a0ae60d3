"""The import contracts of pyproject.toml (`[tool.importlinter]`) hold: imports point down, never in loops.

The layers are drawn in docs/architecture.md. import-linter reads every import, those inside functions
and under `TYPE_CHECKING` too, so a lazy import cannot hide an import that runs back up.
"""

from __future__ import annotations

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

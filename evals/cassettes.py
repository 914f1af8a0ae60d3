"""Recorded model calls: the vcrpy configuration of `incident-copilot eval run --record / --replay`.

One cassette per case and model: `evals/cassettes/<model>/<case-id>.yaml`. Requests match on method,
path and body, never on host or port, so a cassette recorded against any OpenAI-compatible server
replays wherever the suite runs; matching on the body means that any change to a prompt or a tool schema
invalidates the recordings (re-record them deliberately). Credentials never reach a file: request headers
that carry them are replaced by `PLACEHOLDER`, and response headers that identify an account or set
cookies are dropped. `find_secrets` is the check the tests run over every committed cassette.

In replay mode (`record_mode="none"`) a request that is not in the cassette raises inside the HTTP
transport and is never sent; `ReplayMiss` is what the runner raises when that happens.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import vcr

CASSETTE_DIR = Path(__file__).parent / "cassettes"
"""Where recordings live; `stub/` holds the ones made against the local stub server, never a model."""

PLACEHOLDER = "PLACEHOLDER"
"""What a credential header's value is replaced by."""

FILTERED_REQUEST_HEADERS = (
    "authorization",
    "api-key",
    "x-api-key",
    "openai-organization",
    "openai-project",
    "cookie",
)
"""Request headers whose values are replaced by the placeholder before a request is stored."""

DROPPED_RESPONSE_HEADERS = frozenset(
    {"set-cookie", "openai-organization", "openai-project", "x-request-id", "cf-ray", "x-openai-proxy-wasm"}
)
"""Response headers left out of recordings: they identify an account or a session."""

MATCH_ON = ("method", "path", "body")

MANIFEST = "RECORDING.json"
"""Beside a model's cassettes: what was recorded, with what server, when, and what each case answered."""

RERECORD_HINT = (
    "the request differs from the recording (a prompt, a tool's schema or a model setting changed): "
    "re-record it with --record against the same server (evals/cassettes/README.md says how)"
)

Mode = Literal["record", "replay"]

_SECRET_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("OpenAI-style key", re.compile(r"\bsk-[A-Za-z0-9_-]{16,}")),
    ("Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("Slack app token", re.compile(r"\bxapp-[A-Za-z0-9-]{10,}")),
    ("LangSmith key", re.compile(r"\blsv2_[A-Za-z0-9_]{16,}")),
    ("bearer token", re.compile(r"\bBearer\s+[A-Za-z0-9._~+/=-]{16,}", re.IGNORECASE)),
    ("GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}")),
    ("AWS access key", re.compile(r"\bAKIA[0-9A-Z]{16}\b")),
)
# A credential header with a value that is not a placeholder: YAML (`authorization:` then `- value` or
# the value on the same line) or JSON (`"authorization": "value"`).
_AUTH_HEADER = re.compile(
    r"(?im)(?:^[ \t]*-?[ \t]*(?:authorization|api-key|x-api-key)[ \t]*:[ \t]*(?:\n[ \t]*-[ \t]*)?"
    r"|[\"'](?:authorization|api-key|x-api-key)[\"'][ \t]*:[ \t]*\[?[ \t]*)"
    r"[\"']?(?P<value>[^\s'\"\],]*)"
)
_ALLOWED_HEADER_VALUES = frozenset({PLACEHOLDER.lower(), "redacted", "filtered", "none", "null", "", "["})


class ReplayMiss(RuntimeError):
    """A model request during replay was not in the case's cassette (it was not sent anywhere)."""


def model_slug(model: str) -> str:
    """Returns a folder name for a model: `openai:gpt-4o-mini` -> `openai-gpt-4o-mini`."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", model).strip("-") or "model"


def cassette_path(cassette_dir: Path, model: str, case_id: str) -> Path:
    """Returns the cassette file of one case recorded with one model."""
    return cassette_dir / model_slug(model) / f"{case_id}.yaml"


def _drop_response_headers(response: dict[str, Any]) -> dict[str, Any]:
    headers = response.get("headers") or {}
    response["headers"] = {k: v for k, v in headers.items() if k.lower() not in DROPPED_RESPONSE_HEADERS}
    return response


def make_vcr(mode: Mode) -> vcr.VCR:
    """Returns the VCR of the suite: `record` overwrites whatever it touches, `replay` never sends a request."""
    return vcr.VCR(
        record_mode="all" if mode == "record" else "none",
        match_on=MATCH_ON,
        filter_headers=[(name, PLACEHOLDER) for name in FILTERED_REQUEST_HEADERS],
        before_record_response=_drop_response_headers,
        decode_compressed_response=True,
        # A failed run must not leave a half-recorded cassette that later replays as if complete.
        record_on_exception=False,
    )


def find_secrets(paths: Iterable[Path]) -> list[str]:
    """Returns `path: what` for every file that holds something looking like a key, token or credential."""
    found: list[str] = []
    for path in paths:
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        found.extend(f"{path}: {name}" for name, pattern in _SECRET_PATTERNS if pattern.search(text))
        for match in _AUTH_HEADER.finditer(text):
            if match.group("value").strip().lower() not in _ALLOWED_HEADER_VALUES:
                found.append(f"{path}: credential header with value {match.group('value')[:6]}…")
    return found


def update_manifest(
    folder: Path, *, label: str, recorded_at: str, cases: Mapping[str, Mapping[str, object]]
) -> Path:
    """Returns the manifest of a model's cassettes, with `cases` added or replaced (others kept).

    Written by `eval run --record`, never by hand: the replay test compares what a replay answers with
    what the recording answered, case by case.
    """
    path = folder / MANIFEST
    data: dict[str, object] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    recorded = dict(data.get("cases") or {})  # type: ignore[call-overload]
    recorded.update(
        {case_id: dict(result) | {"recorded_at": recorded_at} for case_id, result in cases.items()}
    )
    data = {"label": label or data.get("label", ""), "cases": dict(sorted(recorded.items()))}
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path

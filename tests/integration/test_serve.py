"""`serve --detach`, `stop`, and one server per state directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from live import ROOT, Server


def _cli(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runtime", *args, "--state-dir", str(state)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_detach_then_stop(tmp_path: Path) -> None:
    state = tmp_path / "state"
    started = _cli(state, "serve", "--detach", "--port", "0")
    assert started.returncode == 0 and "modelyard serving on http://127.0.0.1:" in started.stdout
    try:
        assert _cli(state, "online-endpoint", "list").stdout.strip() == "[]"
    finally:
        stopped = _cli(state, "stop")
    assert stopped.returncode == 0 and "stopped modelyard" in stopped.stdout
    assert not (state / "server.json").exists()
    again = _cli(state, "online-endpoint", "list")
    assert again.returncode == 1 and "no modelyard server is running" in again.stderr


def test_a_second_server_on_the_same_state_directory_is_refused(server: Server) -> None:
    second = _cli(server.state, "serve", "--port", "0")
    assert second.returncode == 1
    (line,) = second.stderr.strip().splitlines()
    assert line.startswith("modelyard: error: a modelyard server is already running")

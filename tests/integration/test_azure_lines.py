"""A deploy script as Azure ML users write it, run by bash against a real server with `modelyard` on PATH."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from live import FIXTURES, ROOT, Server


@pytest.fixture
def server(shared_server: Server) -> Server:
    """The session's shared server, as new for each test: none of these tests needs one of its own."""
    return shared_server


LINES = ROOT / "tests" / "fixtures" / "azure-lines"


def test_the_command_lines_of_an_az_ml_deploy_script_work_unchanged(server: Server, tmp_path: Path) -> None:
    here = tmp_path / "endpoint"
    shutil.copytree(LINES, here)
    shutil.copytree(FIXTURES / "echo", here / "echo")
    # The venv's own `modelyard` first on PATH, as after `pip install`; no terminal on any stream.
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "MODELYARD_HOME": str(server.state),
        "ENDPOINT_NAME": "my-endpoint",
    }
    run = subprocess.run(
        ["bash", str(here / "deploy.sh"), str(here)],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
    lines = run.stdout.splitlines()
    assert lines[0].startswith('blue answers: {"echo": {"data": [1, 2, 3]}') and '"tag": "blue"' in lines[0]
    assert lines[1] == "deployments: blue green "
    assert lines[2] == "traffic: blue=0 green=100"
    assert '"tag": "green2"' in lines[3]
    assert lines[4] == "refused: modelyard: error: Unable to prompt for confirmation as no tty available. Use --yes."
    assert lines[5:] == ["no-wait create: Creating", "then: Succeeded", "endpoints left: 0"]

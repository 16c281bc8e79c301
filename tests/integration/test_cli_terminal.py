"""The CLI on a real terminal (a pty) and on real pipes: progress, delete confirmations, a reader that goes away."""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from live import FIXTURES, Server


@pytest.fixture
def server(shared_server: Server) -> Server:
    """The session's shared server, as new for each test: none of these tests needs one of its own."""
    return shared_server


MODELYARD = str(Path(sys.executable).parent / "modelyard")  # the installed entry point, as a user runs it
TERMINAL_ENV = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "200"}
TERMINAL_ENV.pop("NO_COLOR", None)


class Pty:
    """A pseudo-terminal: the child gets the slave side, the test reads and types on the master side."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        termios.tcsetwinsize(self.slave, (40, 200))  # wide enough that no line is cut
        self.seen = b""

    def read_until(self, needle: bytes, timeout: float = 60) -> bytes:
        deadline = time.monotonic() + timeout
        while needle not in self.seen:
            assert time.monotonic() < deadline, f"{needle!r} not seen on the terminal: {self.seen[-2000:]!r}"
            if select.select([self.master], [], [], 0.2)[0]:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # EIO: every slave descriptor is closed
                    chunk = b""
                assert chunk, f"the terminal closed before {needle!r}: {self.seen[-2000:]!r}"
                self.seen += chunk
        return self.seen

    def drain(self) -> bytes:
        while select.select([self.master], [], [], 0.1)[0]:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                break
            if not chunk:
                break
            self.seen += chunk
        return self.seen

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def close(self) -> None:
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


@pytest.fixture
def pty() -> Iterator[Pty]:
    terminal = Pty()
    try:
        yield terminal
    finally:
        terminal.close()


def _run(server: Server, *args: str, **how: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [MODELYARD, *args, "--state-dir", str(server.state)], env=TERMINAL_ENV, **how
    )


def test_create_on_a_terminal_shows_progress_and_prints_what_a_pipe_gets(
    server: Server, pty: Pty, tmp_path: Path
) -> None:
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    go = tmp_path / "init-may-finish"
    held = ["--set", f"environment_variables.INIT_WAIT_FOR={go}"]
    deployment = str(FIXTURES / "echo-deployment.yml")
    proc = _run(
        server, "online-deployment", "create", "-f", deployment, "-n", "blue", *held,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=pty.slave,
    )  # fmt: skip
    try:
        # While init() is held the terminal shows the state, the time so far and the log's last line.
        pty.read_until(b"Running .. deployment blue: Creating (")
        pty.read_until(b"Invoking user's init function")
    finally:
        go.touch()
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, pty.drain()
    shown = server.cli("online-deployment", "show", "-n", "blue", "-e", "fix").stdout
    assert out.decode() == shown

    # An update waits in its own request while the display polls the deployment beside it.
    go_again = tmp_path / "update-may-finish"
    proc = _run(
        server, "online-deployment", "update", "-n", "blue", "-e", "fix",
        "--set", f"environment_variables.INIT_WAIT_FOR={go_again}",
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=pty.slave,
    )  # fmt: skip
    try:
        pty.read_until(b"Running .. online-deployment update: Updating (")
    finally:
        go_again.touch()
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, pty.drain()
    # The update's answer is the deployment as show gives it, plus whether the update rolled the workers.
    shown_after = json.loads(server.cli("online-deployment", "show", "-n", "blue", "-e", "fix").stdout)
    assert json.loads(out) == {**shown_after, "rolled": True}

    # Without a terminal: the same bytes on stdout and nothing at all on stderr.
    piped = server.cli("online-deployment", "create", "-f", deployment, "-n", "green")
    assert piped.stderr == ""
    assert piped.stdout == server.cli("online-deployment", "show", "-n", "green", "-e", "fix").stdout


def test_a_failed_create_on_a_terminal_is_the_same_one_line_error(server: Server, pty: Pty) -> None:
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    broken = str(FIXTURES / "broken-deployment.yml")
    proc = _run(server, "online-deployment", "create", "-f", broken, stdout=subprocess.PIPE, stderr=pty.slave)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 1 and out == b""
    piped = server.cli("online-deployment", "create", "-f", broken, "-n", "broken2", check=False)
    assert piped.returncode == 1 and piped.stdout == ""
    text = pty.drain().decode(errors="replace")
    assert "modelyard: error: deployment broken failed: " in text
    assert piped.stderr.startswith("modelyard: error: deployment broken2 failed: ")


def test_delete_asks_on_a_terminal_and_refuses_without_one(server: Server, pty: Pty) -> None:
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    no_tty = server.cli("online-endpoint", "delete", "-n", "fix", check=False)
    assert no_tty.returncode == 1 and no_tty.stdout == ""
    assert no_tty.stderr == "modelyard: error: Unable to prompt for confirmation as no tty available. Use --yes.\n"

    asked = _run(server, "online-endpoint", "delete", "-n", "fix", stdin=pty.slave, stderr=pty.slave)
    pty.read_until(b"Are you sure you want to perform this operation? (y/n): ")
    pty.type("n\n")
    assert asked.wait(timeout=60) == 1
    assert b"modelyard: error: Operation cancelled." in pty.read_until(b"Operation cancelled.")
    server.cli("online-endpoint", "show", "-n", "fix")  # still there

    pty.seen = b""
    asked = _run(server, "online-endpoint", "delete", "-n", "fix", stdin=pty.slave, stderr=pty.slave)
    pty.read_until(b"(y/n): ")
    pty.type("maybe\n")  # anything but yes or no asks again, as az does
    pty.seen = pty.read_until(b"maybe")
    pty.read_until(b"(y/n): ")
    pty.type("y\n")
    assert asked.wait(timeout=60) == 0
    gone = server.cli("online-endpoint", "show", "-n", "fix", check=False)
    assert gone.returncode == 1 and "not found" in gone.stderr


def test_deployment_delete_refuses_without_a_terminal_and_goes_ahead_with_yes(server: Server) -> None:
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    server.deploy_echo("-n", "blue")
    refused = server.cli("online-deployment", "delete", "-n", "blue", "-e", "fix", check=False)
    assert refused.returncode == 1 and "Use --yes" in refused.stderr
    assert [d["name"] for d in server.json("online-deployment", "list", "-e", "fix")] == ["blue"]  # type: ignore[union-attr, index]
    server.cli("online-deployment", "delete", "-n", "blue", "-e", "fix", "--yes")
    assert server.json("online-deployment", "list", "-e", "fix") == []


@pytest.mark.parametrize(
    "args",
    [
        ["online-endpoint", "list"],
        ["online-endpoint", "list", "--query", "[].name", "-o", "tsv"],
        ["online-endpoint", "list", "-o", "table"],
        ["online-deployment", "get-logs", "-n", "blue", "-e", "fix"],
        ["--help"],
    ],
)
def test_a_reader_that_goes_away_ends_the_cli_quietly(server: Server, args: list[str]) -> None:
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    if "get-logs" in args:
        server.deploy_echo("-n", "blue")
    # The read end is closed before the CLI writes, as `| head -1` closes it after its line: every write fails.
    with _run(server, *args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        err = proc.stderr.read()
        assert proc.wait(timeout=60) == 0
    assert err == b""


def test_head_in_a_shell_pipeline_gets_its_line_and_no_traceback(server: Server) -> None:
    for name in ("ep-one", "ep-two"):
        server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"), "-n", name)
    cmd = f"{MODELYARD} online-endpoint list --state-dir {server.state} --query '[].name' -o tsv | head -1"
    done = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, "ep-one\n", "")


def test_jsonc_and_yamlc_are_coloured_on_a_terminal_only(server: Server, pty: Pty) -> None:
    keys = ["online-endpoint", "get-credentials", "-n", "fix"]
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    plain = server.cli(*keys, "-o", "jsonc").stdout
    assert plain == server.cli(*keys).stdout and "\x1b[" not in plain
    assert "\x1b[" not in server.cli(*keys, "-o", "yamlc").stdout
    proc = _run(server, *keys, "-o", "jsonc", stdin=subprocess.DEVNULL, stdout=pty.slave, stderr=pty.slave)
    assert proc.wait(timeout=60) == 0
    pty.read_until(b"secondaryKey")
    coloured = pty.drain().decode()  # the whole answer: the command has exited
    assert "\x1b[" in coloured and re.sub(r"\x1b\[[0-9;]*m", "", coloured).replace("\r\n", "\n") == plain

"""A real `modelyard serve` on 127.0.0.1:0 with real worker subprocesses, driven through the real CLI.

A module of its own, not conftest: a second conftest module elsewhere in tests/ would shadow its names.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil

from runtime.cli import main
from runtime.client import ApiError, Client
from runtime.statedir import StateDir

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "online"
SAMPLE = ROOT / "models" / "digits"


class Server:
    """One serve process and a CLI bound to its state directory."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.args: tuple[str, ...] = ()  # what the last start was given

    def start(self, *extra: str, env: dict[str, str] | None = None) -> None:
        """Start serve with `extra` arguments; `env` adds to (or replaces some of) the test's environment."""
        # Hidden GPUs make every placement the same on a GPU host as on CI's CPU-only machine.
        self.args = extra if env is None else (*extra, repr(sorted(env.items())))
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", **(env or {})}
        with open(self.state / "serve.out", "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "runtime", "serve", "--state-dir", str(self.state), "--port", "0", *extra],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                env=env,
            )
        deadline = time.monotonic() + 30
        info = self.state / "server.json"
        while time.monotonic() < deadline:
            if info.exists():
                data = json.loads(info.read_text())
                if data["pid"] == self.proc.pid:
                    self.url = data["url"]
                    return
            assert self.proc.poll() is None, (self.state / "serve.out").read_text()
            time.sleep(0.05)
        raise AssertionError("serve did not start")

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """`modelyard ARGS --state-dir STATE`: the real CLI, run in this process from the main thread (a Python
        process per command cost the suite minutes of CPU), as a subprocess from other threads and for `serve`."""
        if threading.current_thread() is threading.main_thread() and args[:1] != ("serve",):
            result = run_cli([*args, "--state-dir", str(self.state)])
            if check:
                assert result.returncode == 0, f"{args}: rc={result.returncode}\n{result.stderr}"
            return result
        return self.cli_process(*args, check=check)

    def cli_process(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """The CLI as a process of its own, as a user's shell runs it."""
        result = subprocess.run(
            [sys.executable, "-m", "runtime", *args, "--state-dir", str(self.state)],
            stdin=subprocess.DEVNULL,  # never the terminal pytest runs in: a prompt would wait for it
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=180,
        )
        if check:
            assert result.returncode == 0, f"{args}: rc={result.returncode}\n{result.stderr}"
        return result

    def deploy_echo(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """`online-deployment create` of the echo fixture deployment (endpoint `fix`), with extra CLI arguments."""
        return self.cli("online-deployment", "create", "-f", str(FIXTURES / "echo-deployment.yml"), *args, check=check)

    def json(self, *args: str) -> object:
        return json.loads(self.cli(*args).stdout)

    def api(self, method: str, path: str, body: object = None) -> Any:
        """The management API from this process, as the CLI calls it: for loops that poll, where a CLI process per
        look would load the machine the server under test runs on."""
        return Client(StateDir(self.state)).call(method, path, body)

    def deployment(self, endpoint: str, name: str) -> dict[str, Any]:
        """What `online-deployment show -n name -e endpoint` prints."""
        shown = self.api("GET", f"/api/endpoints/{endpoint}/deployments/{name}")
        assert isinstance(shown, dict)
        return shown

    def key(self, endpoint: str) -> str:
        creds = self.json("online-endpoint", "get-credentials", "-n", endpoint)
        assert isinstance(creds, dict)
        return str(creds["primaryKey"])

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)


def run_cli(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """runtime.cli.main on `argv` with stdin empty and not a terminal, stdout and stderr captured."""
    out, err = io.StringIO(), io.StringIO()
    stdin = sys.stdin
    sys.stdin = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse's errors and --help
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    finally:
        sys.stdin = stdin
    return subprocess.CompletedProcess(["modelyard", *argv], code, out.getvalue(), err.getvalue())


def worker_pids(srv: Server, endpoint: str, deployment: str, state: str | None = None) -> list[int]:
    """PIDs of a deployment's workers, optionally only those in `state` (a new worker is listed before it is Ready)."""
    show = srv.deployment(endpoint, deployment)
    return [w["pid"] for w in show["workers"] if w["pid"] and state in (None, w["state"])]


def wait_for_state(srv: Server, endpoint: str, deployment: str, state: str, timeout: float = 30) -> None:
    """Poll `online-deployment show` until the deployment's provisioning_state is `state`."""
    deadline = time.monotonic() + timeout
    while True:
        shown = srv.deployment(endpoint, deployment)
        if shown["provisioning_state"] == state:
            return
        assert time.monotonic() < deadline, f"{deployment} is still {shown['provisioning_state']}, not {state}"
        time.sleep(0.1)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def is_worker(proc: psutil.Process) -> bool:
    """Whether `proc` is a running modelyard worker; a zombie (ended, not yet reaped) is not."""
    try:
        return "runtime.worker" in " ".join(proc.cmdline())
    except psutil.NoSuchProcess:  # ZombieProcess included
        return False


def cleared(srv: Server, *args: str) -> None:
    """Leave `srv` as a new server would be for the next test of those sharing it (a start costs a second): running
    with serve arguments `args`, with no online or batch endpoint (so no deployment or worker), no registered model,
    no compute and no user instance types. Where that fails, the next test gets a new server on a new state
    directory, and this one fails."""
    try:
        if srv.proc is None or srv.proc.poll() is not None:  # a test stopped it, or it died
            srv.stop()
            srv.start(*args)
        for endpoint in srv.api("GET", "/api/endpoints"):
            _delete(srv, f"/api/endpoints/{endpoint['name']}")
        for model in srv.api("GET", "/api/models?include_archived=true"):
            srv.api("DELETE", f"/api/models/{model['name']}/versions/{model['version']}")
        for endpoint in srv.api("GET", "/api/batch-endpoints"):
            _delete(srv, f"/api/batch-endpoints/{endpoint['name']}")
        for compute in srv.api("GET", "/api/computes"):
            srv.api("DELETE", f"/api/computes/{compute['name']}")
        (srv.state / "instance_types.yml").unlink(missing_ok=True)
        if srv.args != args:  # a test restarted it with other flags
            srv.stop()
            srv.start(*args)
    except BaseException:
        srv.stop()
        srv.state = srv.state.with_name(f"{srv.state.name}-{time.monotonic_ns()}")
        srv.state.mkdir()
        srv.start(*args)
        raise


def _delete(srv: Server, path: str, timeout: float = 60) -> None:
    """DELETE `path`, again while a deployment of it is still being brought back by a restart (refused until then)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            srv.api("DELETE", path)
            return
        except ApiError as exc:
            if "wait until it is done" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(0.1)


@contextlib.contextmanager
def started(state: Path, *serve_args: str) -> Iterator[Server]:
    """A server on the new state directory `state`, started with `serve_args`, stopped at the end."""
    srv = Server(state)
    srv.state.mkdir()
    srv.start(*serve_args)
    try:
        yield srv
    finally:
        srv.stop()


@contextlib.contextmanager
def serving(state: Path, endpoint_yml: Path, deployment_yml: Path, *serve_args: str) -> Iterator[Server]:
    """A server on a fresh state directory with one endpoint whose one deployment takes all traffic."""
    with started(state, *serve_args) as srv:
        srv.cli("online-endpoint", "create", "-f", str(endpoint_yml))
        srv.cli("online-deployment", "create", "-f", str(deployment_yml), "--all-traffic")
        yield srv

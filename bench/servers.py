"""The servers under test, each started pinned and checked against the sample request before any load."""

from __future__ import annotations

import contextlib
import json
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from harness import BENCH, BIN, REQUEST, ROOT, SAMPLE, BenchError, Proc, free_port, one_core_env, post, wait_http

SCORE_SCRIPT = ROOT / "models" / "model-1" / "onnx" / "score.py"
MODEL_FILE = ROOT / "models" / "model-1" / "model" / "digits.onnx"
EXPECTED = [3, 7]

#: The sample deployment keeps Azure's default max_concurrent_requests_per_instance (1), and modelyard, like
#: Azure's front end, answers 429 once 2 x that many requests are in flight. azmlinfsrv on its own has no such
#: limit (gunicorn queues on its backlog), so for the same load the bench raises it to half the top concurrency.
MAX_CONCURRENT_SETTING = "request_settings.max_concurrent_requests_per_instance"


def check_sample(name: str, url: str, headers: dict[str, str]) -> None:
    """The server must answer the sample request with predictions [3, 7]."""
    status, body = post(url, headers, REQUEST.read_bytes())
    if status != 200:
        raise BenchError(f"{name}: the sample request got {status}: {body[:500]!r}")
    try:
        predictions = json.loads(body)["predictions"]
    except (ValueError, KeyError, TypeError) as exc:
        raise BenchError(f"{name}: the answer to the sample is not the expected JSON ({exc}): {body[:500]!r}") from None
    if predictions != EXPECTED:
        raise BenchError(f"{name}: the sample request predicted {predictions}, expected {EXPECTED}")


def model_dir(tmp: Path) -> Path:
    """AZUREML_MODEL_DIR as Azure lays it out for model.path ../model-1/model/: a folder holding model/."""
    root = tmp / "azureml-models"
    (root / "model").mkdir(parents=True, exist_ok=True)
    shutil.copy2(MODEL_FILE, root / "model" / MODEL_FILE.name)
    return root


@dataclass
class Target:
    """A running server under test: where to send the load, and its process."""

    url: str
    headers: dict[str, str]
    proc: Proc
    extra: Any = None
    #: Names for the main process and its children in the CPU split.
    roles: tuple[str, str] = ("main", "children")


class Modelyard:
    """`modelyard serve` plus the CLI bound to its state directory."""

    def __init__(self, tmp: Path, server: str, core: str, max_concurrent: int, name: str = "") -> None:
        self.state = tmp / f"state-{name or server}"
        self.state.mkdir()
        self.server = server
        self.core = core
        self.max_concurrent = max_concurrent
        exe = BIN / "modelyard"
        self.cli_cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "runtime"]

    def cli(self, *args: str) -> Any:
        cmd = [*self.cli_cmd, *args, "--state-dir", str(self.state)]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
        if done.returncode != 0:
            raise BenchError(f"modelyard {' '.join(args)}: rc={done.returncode}: {done.stderr.strip()}")
        return json.loads(done.stdout) if done.stdout.strip() else None

    @contextlib.contextmanager
    def start(self) -> Iterator[Target]:
        cmd = ["taskset", "-c", self.core, *self.cli_cmd, "serve", "--state-dir", str(self.state), "--port", "0"]
        cmd += ["--server", self.server]
        proc = Proc(f"modelyard serve --server {self.server}", cmd, self.state / "serve.out")
        try:
            url = self._wait_url(proc)
            self.cli("online-endpoint", "create", "-f", str(SAMPLE / "endpoint.yml"))
            setting = f"{MAX_CONCURRENT_SETTING}={self.max_concurrent}"
            blue_yml = str(SAMPLE / "blue-deployment.yml")
            blue = self.cli("online-deployment", "create", "-f", blue_yml, "--all-traffic", "--set", setting)
            if blue.get("provisioning_state") != "Succeeded":
                raise BenchError(f"deployment blue: {blue.get('provisioning_state')}: {blue.get('error')}")
            key = self.cli("online-endpoint", "get-credentials", "-n", "digits")["primaryKey"]
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
            yield Target(f"{url}/endpoints/digits/score", headers, proc, self, ("serve", "worker"))
        finally:
            proc.stop()

    def _wait_url(self, proc: Proc) -> str:
        info = self.state / "server.json"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            proc.check_alive()
            with contextlib.suppress(OSError, ValueError):
                data = json.loads(info.read_text())
                if data["pid"] == proc.pid:
                    return str(data["url"])
            time.sleep(0.05)
        raise BenchError(f"modelyard serve did not start within 60 s:\n{proc.tail()}")

    def rss(self, proc: Proc) -> dict[str, Any]:
        """RSS of the serve process and every descendant (its workers)."""
        parts: list[dict[str, Any]] = []
        for p in proc.family():
            with contextlib.suppress(psutil.NoSuchProcess):
                cmdline = " ".join(p.cmdline())
                role = "serve" if p.pid == proc.pid else "worker" if "runtime.worker" in cmdline else "other"
                parts.append({"pid": p.pid, "role": role, "rss_mib": p.memory_info().rss / 2**20})
        return {"total_mib": sum(p["rss_mib"] for p in parts), "processes": parts}

    def ready_times(self, count: int) -> dict[str, Any]:
        """Wall time of `online-deployment create` for green until Succeeded; then delete it (its traffic is 0)."""
        times = []
        for _ in range(count):
            t0 = time.perf_counter()
            green = self.cli("online-deployment", "create", "-f", str(SAMPLE / "green-deployment.yml"))
            elapsed = time.perf_counter() - t0
            if green.get("provisioning_state") != "Succeeded":
                raise BenchError(f"deployment green: {green.get('provisioning_state')}: {green.get('error')}")
            times.append(elapsed)
            self.cli("online-deployment", "delete", "-n", "green", "-e", "digits", "-y")
        # The CLI's own cost (interpreter start, imports, one API call), to read the create time against.
        noop = []
        for _ in range(count):
            t0 = time.perf_counter()
            self.cli("online-endpoint", "show", "-n", "digits")
            noop.append(time.perf_counter() - t0)
        return {"median_s": statistics.median(times), "runs_s": times, "cli_noop_median_s": statistics.median(noop)}


@contextlib.contextmanager
def start_inproc(tmp: Path, core: str) -> Iterator[Target]:
    port = free_port()
    env = one_core_env(AZUREML_MODEL_DIR=str(model_dir(tmp)), BENCH_SCORE_SCRIPT=str(SCORE_SCRIPT))
    cmd = ["taskset", "-c", core, sys.executable, "-m", "uvicorn", "inproc_app:app", "--app-dir", str(BENCH)]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--http", "httptools", "--loop", "uvloop"]
    cmd += ["--no-access-log", "--log-level", "warning", "--lifespan", "off"]
    proc = Proc("the in-process app", cmd, tmp / "inproc.out", env)
    try:
        wait_http(proc, f"http://127.0.0.1:{port}/", lambda status: status == 404)
        yield Target(f"http://127.0.0.1:{port}/score", {"Content-Type": "application/json"}, proc, None, ("app", "-"))
    finally:
        proc.stop()


@contextlib.contextmanager
def start_azmlinfsrv(tmp: Path, core: str) -> Iterator[Target]:
    exe = BIN / "azmlinfsrv"
    if not exe.exists():
        raise BenchError(f"{exe} is missing: install the bench extra (bench/run.sh does)")
    port = free_port()
    # gunicorn (under azmlinfsrv) puts a control socket in $HOME/.gunicorn; keep it in the temp folder.
    home = tmp / "azmlinfsrv-home"
    home.mkdir()
    env = one_core_env(HOME=str(home))
    cmd = ["taskset", "-c", core, str(exe), "--entry_script", str(SCORE_SCRIPT), "--model_dir", str(model_dir(tmp))]
    cmd += ["--port", str(port)]
    proc = Proc("azmlinfsrv", cmd, tmp / "azmlinfsrv.out", env)
    try:
        # It binds 0.0.0.0; the load goes to 127.0.0.1 only.
        wait_http(proc, f"http://127.0.0.1:{port}/", lambda status: status == 200)
        headers = {"Content-Type": "application/json"}
        yield Target(f"http://127.0.0.1:{port}/score", headers, proc, None, ("gunicorn master", "gunicorn worker"))
    finally:
        proc.stop()

"""Scoring throughput and latency of the digits sample: modelyard against Azure's own inference server.

Every server runs pinned to one core (`taskset -c 0` by default: modelyard pins its worker inside the serve
process's mask, so the control process and the worker share that core); wrk runs on another core
(`taskset -c 1`). All servers start first and stay up; the measured runs go in interleaved rounds (every server
and concurrency once per round, each run after its own warm-up), and each cell reports the median req/s, p50 and
p99 of its runs, plus the server's CPU time per request. For modelyard (uvicorn) also the RSS of the server plus
its worker, and how long `online-deployment create` takes to bring a second deployment to Succeeded.

    bench/run.sh                       # full run: 3 rounds of 8 s per cell, each after 2 s of warm-up
    bench/run.sh --quick               # smoke run: 1 round of 3 s per cell, 1 s warm-up
    bench/run.sh --only modelyard,azmlinfsrv
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.metadata
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
SAMPLE = ROOT / "models" / "digits"
REQUEST = SAMPLE / "sample-request.json"
SCORE_SCRIPT = ROOT / "models" / "model-1" / "onnx" / "score.py"
MODEL_FILE = ROOT / "models" / "model-1" / "model" / "digits.onnx"
BIN = Path(sys.executable).parent
EXPECTED = [3, 7]

#: Selection names (--only), in the order they start, run within a round, and are printed.
SERVERS: dict[str, str] = {
    "modelyard": "modelyard (uvicorn)",
    "modelyard-hypercorn": "modelyard (hypercorn)",
    "inproc": "in-process limit",
    "azmlinfsrv": "azureml-inference-server-http",
}
BASELINE = "azmlinfsrv"

#: The sample deployment keeps Azure's default max_concurrent_requests_per_instance (1), and modelyard, like
#: Azure's front end, answers 429 once 2 x that many requests are in flight. azmlinfsrv on its own has no such
#: limit (gunicorn queues on its backlog), so for the same load the bench raises it to half the top concurrency.
MAX_CONCURRENT_SETTING = "request_settings.max_concurrent_requests_per_instance"


class BenchError(RuntimeError):
    """A server misbehaved or a tool failed: the run stops with this message."""


# --- processes ------------------------------------------------------------------------------------------------


class Proc:
    """A server process in its own session (process group), stopped with SIGTERM, then SIGKILL."""

    def __init__(self, name: str, cmd: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.cmd = cmd
        self.log = log
        with open(log, "ab") as out:
            self.popen = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env,
                start_new_session=True,
            )  # fmt: skip
        self.pid = self.popen.pid

    def check_alive(self) -> None:
        if self.popen.poll() is not None:
            raise BenchError(f"{self.name} exited with status {self.popen.returncode}:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def family(self) -> list[psutil.Process]:
        """This process and all its descendants."""
        try:
            me = psutil.Process(self.pid)
            return [me, *me.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def stop(self) -> None:
        family = self.family()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            self.popen.wait()
        # Children that left the group (e.g. workers in their own session) and outlived their parent.
        _, alive = psutil.wait_procs(family[1:], timeout=10)
        for proc in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        psutil.wait_procs(alive, timeout=5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post(url: str, headers: dict[str, str], body: bytes, timeout: float = 30) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


def wait_http(proc: Proc, url: str, ok: Callable[[int], bool], timeout: float = 120) -> None:
    """Poll GET `url` until it answers a status that `ok` accepts."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc.check_alive()
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if ok(int(resp.status)):
                    return
        except urllib.error.HTTPError as exc:
            if ok(int(exc.code)):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.1)
    raise BenchError(f"{url} did not come up within {timeout:.0f} s:\n{proc.tail()}")


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


def one_core_env(**extra: str) -> dict[str, str]:
    """The environment modelyard gives a one-core instance: thread pools sized to one core."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        env[var] = "1"
    env.update(extra)
    return env


# --- wrk ------------------------------------------------------------------------------------------------------


@dataclass
class WrkRun:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p75_ms: float
    p90_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: dict[str, int] = field(default_factory=dict)
    #: Server CPU time (user + system) per request, by process role; filled in by measured_run.
    cpu_us_per_req: dict[str, float] = field(default_factory=dict)


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not m:
        raise BenchError(f"cannot read the wrk latency {text!r}")
    return float(m.group(1)) * _UNITS_MS[m.group(2)]


def parse_wrk(out: str) -> WrkRun:
    pct: dict[str, float] = {}
    in_dist = False
    for line in out.splitlines():
        if line.strip() == "Latency Distribution":
            in_dist = True
            continue
        if in_dist:
            m = re.fullmatch(r"\s*(\d+)%\s+(\S+)", line)
            if m:
                pct[m.group(1)] = _ms(m.group(2))
                continue
            in_dist = False
    total = re.search(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m),", out, re.M)
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    if not total or not rps or not {"50", "75", "90", "99"} <= pct.keys():
        raise BenchError(f"cannot parse wrk's output:\n{out}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    socket_errors = {}
    if errors:
        socket_errors = dict(zip(("connect", "read", "write", "timeout"), map(int, errors.groups()), strict=True))
    return WrkRun(
        requests=int(total.group(1)),
        seconds=_ms(total.group(2) + total.group(3)) / 1000,
        rps=float(rps.group(1)),
        p50_ms=pct["50"],
        p75_ms=pct["75"],
        p90_ms=pct["90"],
        p99_ms=pct["99"],
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=socket_errors,
    )


def write_lua(path: Path, headers: dict[str, str]) -> None:
    lines = [
        'wrk.method = "POST"',
        f'local f = assert(io.open({json.dumps(str(REQUEST))}, "rb"))',
        'wrk.body = f:read("*a")',
        "f:close()",
    ]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    path.write_text("\n".join(lines) + "\n")


class Load:
    """wrk with one thread, pinned to the load core."""

    def __init__(self, core: str) -> None:
        self.core = core

    def run(self, name: str, url: str, lua: Path, conns: int, seconds: float) -> WrkRun:
        cmd = ["taskset", "-c", self.core, "wrk", "-t1", f"-c{conns}", f"-d{seconds:g}s", "--latency", "-s", str(lua)]
        done = subprocess.run([*cmd, url], capture_output=True, text=True, timeout=seconds + 60)
        if done.returncode != 0:
            raise BenchError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
        result = parse_wrk(done.stdout)
        if result.non_2xx:
            raise BenchError(
                f"{name} at concurrency {conns}: wrk saw {result.non_2xx} non-2xx responses of {result.requests}"
            )
        if result.requests == 0:
            raise BenchError(f"{name} at concurrency {conns}: wrk completed no request:\n{done.stdout}")
        if any(result.socket_errors.values()):
            print(f"    warning: {name} at concurrency {conns}: socket errors {result.socket_errors}", flush=True)
        return result


# --- servers --------------------------------------------------------------------------------------------------


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

    def __init__(self, tmp: Path, server: str, core: str, max_concurrent: int) -> None:
        self.state = tmp / f"state-{server}"
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


# --- the run --------------------------------------------------------------------------------------------------


@dataclass
class Cell:
    server: str
    concurrency: int
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_us_per_req: float
    cpu_us_per_req_by_process: dict[str, float]
    runs: list[WrkRun]
    ratio_to_baseline: float | None = None


def cpu_seconds(procs: list[psutil.Process]) -> dict[int, float]:
    """User + system CPU seconds of each process, by pid."""
    out = {}
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = proc.cpu_times()
            out[proc.pid] = times.user + times.system
    return out


def measured_run(load: Load, name: str, target: Target, lua: Path, conns: int, seconds: float) -> WrkRun:
    """One wrk run, with the server's CPU time per request (its main process, and its children together)."""
    family = target.proc.family()
    before = cpu_seconds(family)
    run = load.run(name, target.url, lua, conns, seconds)
    after = cpu_seconds(family)
    main_role, child_role = target.roles
    split = {main_role: 0.0, child_role: 0.0}
    for pid, spent in after.items():
        if pid in before:
            split[main_role if pid == target.proc.pid else child_role] += (spent - before[pid]) * 1e6 / run.requests
    run.cpu_us_per_req = {role: us for role, us in split.items() if us > 0 or role == main_role}
    return run


def measure(load: Load, targets: dict[str, Target], tmp: Path, args: argparse.Namespace) -> list[Cell]:
    """Interleaved rounds: each round runs every (server, concurrency) cell once, each run after its own warm-up.

    On a shared machine the background load drifts over minutes; interleaving spreads that drift over all servers
    instead of charging it to whichever one happened to run at the time.
    """
    luas = {}
    for name, target in targets.items():
        luas[name] = tmp / f"{name}.lua"
        write_lua(luas[name], target.headers)
    runs: dict[tuple[str, int], list[WrkRun]] = {(n, c): [] for n in targets for c in args.concurrency}
    for round_no in range(1, args.runs + 1):
        print(f"round {round_no}/{args.runs}", flush=True)
        for name, target in targets.items():
            for conns in args.concurrency:
                target.proc.check_alive()
                if args.warmup > 0:
                    load.run(name, target.url, luas[name], conns, args.warmup)
                run = measured_run(load, name, target, luas[name], conns, args.duration)
                runs[name, conns].append(run)
                split = " + ".join(f"{role} {us:.0f}" for role, us in run.cpu_us_per_req.items())
                print(
                    f"  {SERVERS[name]:<30} c={conns:<3} {run.rps:9.1f} req/s  p50 {run.p50_ms:7.3f} ms  "
                    f"p99 {run.p99_ms:8.3f} ms  CPU {sum(run.cpu_us_per_req.values()):.0f} us/req ({split})",
                    flush=True,
                )
    cells = []
    for (name, conns), done in runs.items():
        roles = list(done[0].cpu_us_per_req)
        cells.append(
            Cell(
                server=name,
                concurrency=conns,
                rps=statistics.median(r.rps for r in done),
                p50_ms=statistics.median(r.p50_ms for r in done),
                p99_ms=statistics.median(r.p99_ms for r in done),
                cpu_us_per_req=statistics.median(sum(r.cpu_us_per_req.values()) for r in done),
                cpu_us_per_req_by_process={
                    role: statistics.median(r.cpu_us_per_req.get(role, 0.0) for r in done) for role in roles
                },
                runs=done,
            )
        )
    return cells


def machine_facts(load_core: str, server_core: str) -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    banner = (wrk.stdout + wrk.stderr).strip()
    wrk_version = banner.splitlines()[0].split(" Copyright")[0] if banner else "?"
    versions = {}
    for dist in ("uvicorn", "httptools", "uvloop", "hypercorn", "azureml-inference-server-http", "gunicorn", "flask"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[dist] = importlib.metadata.version(dist)
    for dist in ("onnxruntime-gpu", "onnxruntime"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[dist] = importlib.metadata.version(dist)
            break
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "wrk": wrk_version,
        "server_core": server_core,
        "load_core": load_core,
        "loadavg_start": list(os.getloadavg()),
        "versions": versions,
    }


def print_report(
    cells: list[Cell], rss: dict[str, Any] | None, ready: dict[str, Any] | None, facts: dict[str, Any]
) -> None:
    print()
    head = (
        f"{'server':<31} {'conc':>4} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'vs azmlinfsrv':>13} {'CPU us/req':>10}"
    )
    print(head)
    print("-" * len(head))
    last = None
    for c in cells:
        if last is not None and c.server != last:
            print()
        last = c.server
        ratio = f"{c.ratio_to_baseline:.2f}x" if c.ratio_to_baseline is not None else "-"
        label = SERVERS[c.server]
        cpu = f"{c.cpu_us_per_req:.0f}"
        print(f"{label:<31} {c.concurrency:>4} {c.rps:>9.1f} {c.p50_ms:>8.3f} {c.p99_ms:>8.3f} {ratio:>13} {cpu:>10}")
    print()
    print("medians over the measured runs; CPU us/req: user + system CPU of all the server's processes per request")
    if rss is not None:
        parts = ", ".join(f"{p['role']} {p['rss_mib']:.1f}" for p in rss["processes"])
        print(f"modelyard (uvicorn) RSS after load: {rss['total_mib']:.1f} MiB ({parts})")
    if ready is not None:
        runs = ", ".join(f"{t:.2f}" for t in ready["runs_s"])
        print(
            f"deployment ready (online-deployment create green -> Succeeded): median {ready['median_s']:.2f} s "
            f"({runs}); a no-op CLI call takes {ready['cli_noop_median_s']:.2f} s"
        )
    print()
    print(f"machine: {facts['nproc']} cores usable ({facts['cpu_count']} online), {facts['cpu_model']}")
    print(f"python {facts['python']}, {facts['wrk']}, kernel {facts['kernel']}")
    print(f"servers on core {facts['server_core']}, wrk on core {facts['load_core']}")
    print(f"load average start {_loads(facts['loadavg_start'])}, end {_loads(facts['loadavg_end'])}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in facts["versions"].items()))


def _loads(values: list[float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round of 3 s per cell, 1 s warm-up")
    parser.add_argument("--only", help=f"comma-separated servers to run, from: {', '.join(SERVERS)}")
    parser.add_argument("--concurrency", default="1,8,64", help="wrk connections, comma-separated (default 1,8,64)")
    parser.add_argument("--runs", type=int, default=3, help="rounds: measured runs per cell (default 3)")
    parser.add_argument("--duration", type=float, default=8, help="seconds per measured run (default 8)")
    parser.add_argument("--warmup", type=float, default=2, help="warm-up seconds before each measured run (default 2)")
    parser.add_argument("--ready-runs", type=int, default=3, help="deployment creates to time (default 3)")
    parser.add_argument("--server-core", default="0", help="core(s) the servers run on (default 0)")
    parser.add_argument("--load-core", default="1", help="core(s) wrk runs on (default 1)")
    parser.add_argument("--no-save", action="store_true", help=f"do not write {RESULTS.relative_to(ROOT)}/*.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.duration, args.warmup = 1, 3.0, 1.0
    args.concurrency = [int(c) for c in args.concurrency.split(",") if c.strip()]
    if not args.concurrency or min(args.concurrency) < 1:
        parser.error("--concurrency needs positive integers")
    selected = [s.strip() for s in args.only.split(",")] if args.only else list(SERVERS)
    unknown = [s for s in selected if s not in SERVERS]
    if unknown:
        parser.error(f"unknown server(s) {', '.join(unknown)}; choose from {', '.join(SERVERS)}")
    args.only = [s for s in SERVERS if s in selected]
    return args


def check_tools(args: argparse.Namespace) -> None:
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            raise BenchError(f"{tool} is not installed (bench/run.sh installs wrk with apt-get)")
    cores = os.sched_getaffinity(0)
    for spec in (args.server_core, args.load_core):
        wanted = set()
        for part in spec.split(","):
            lo, _, hi = part.partition("-")
            wanted |= set(range(int(lo), int(hi or lo) + 1))
        if not wanted <= cores:
            raise BenchError(f"core(s) {spec} are not in this process's affinity {sorted(cores)}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        check_tools(args)
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 1
    started = dt.datetime.now(dt.UTC)
    facts = machine_facts(args.load_core, args.server_core)
    load = Load(args.load_core)
    # modelyard admits 2 x max_concurrent_requests_per_instance requests in flight; admit the whole load.
    max_concurrent = max(1, (max(args.concurrency) + 1) // 2)
    cells: list[Cell] = []
    rss: dict[str, Any] | None = None
    ready: dict[str, Any] | None = None
    print(
        f"bench: {', '.join(args.only)}; concurrency {args.concurrency}; {args.runs} rounds of {args.duration:g} s "
        f"per cell, each after {args.warmup:g} s of warm-up; servers on core {args.server_core}, wrk on core "
        f"{args.load_core}",
        flush=True,
    )
    try:
        with tempfile.TemporaryDirectory(prefix="modelyard-bench-") as tmp_name, contextlib.ExitStack() as stack:
            tmp = Path(tmp_name)
            targets: dict[str, Target] = {}
            for name in args.only:
                print(f"starting {SERVERS[name]}", flush=True)
                starter: contextlib.AbstractContextManager[Target]
                if name in ("modelyard", "modelyard-hypercorn"):
                    server = "hypercorn" if name.endswith("hypercorn") else "uvicorn"
                    starter = Modelyard(tmp, server, args.server_core, max_concurrent).start()
                elif name == "inproc":
                    starter = start_inproc(tmp, args.server_core)
                else:
                    starter = start_azmlinfsrv(tmp, args.server_core)
                targets[name] = stack.enter_context(starter)
                check_sample(name, targets[name].url, targets[name].headers)
            cells = measure(load, targets, tmp, args)
            if "modelyard" in targets:
                target = targets["modelyard"]
                my: Modelyard = target.extra
                rss = my.rss(target.proc)
                print(f"modelyard (uvicorn) RSS after the load: {rss['total_mib']:.1f} MiB", flush=True)
                if args.ready_runs > 0:
                    ready = my.ready_times(args.ready_runs)
                    print(f"modelyard (uvicorn) deployment ready: {ready['median_s']:.2f} s", flush=True)
            print("stopping the servers", flush=True)
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 1
    base = {c.concurrency: c.rps for c in cells if c.server == BASELINE}
    for c in cells:
        if c.concurrency in base and base[c.concurrency] > 0:
            c.ratio_to_baseline = c.rps / base[c.concurrency]
    facts["loadavg_end"] = list(os.getloadavg())
    print_report(cells, rss, ready, facts)
    if not args.no_save:
        RESULTS.mkdir(exist_ok=True)
        out = RESULTS / f"{started.strftime('%Y%m%dT%H%M%SZ')}.json"
        doc = {
            "started": started.isoformat(timespec="seconds"),
            "config": {
                "servers": args.only,
                "concurrency": args.concurrency,
                "runs": args.runs,
                "duration_s": args.duration,
                "warmup_s": args.warmup,
                "wrk_threads": 1,
                MAX_CONCURRENT_SETTING: max_concurrent,
                "quick": args.quick,
            },
            "machine": facts,
            "cells": [asdict(c) | {"label": SERVERS[c.server]} for c in cells],
            "modelyard_rss": rss,
            "deployment_ready": ready,
        }
        out.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"\nresults: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""wrk, the load generator: one pinned thread per run, its output parsed into figures."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from harness import REQUEST, BenchError


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
            m = re.fullmatch(r"\s*(\d+)%\s+(\S+)\s*", line)
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


def write_lua(path: Path, headers: dict[str, str], body: Path = REQUEST) -> None:
    """A wrk script that POSTs the bytes of `body` (binary-safe: Lua strings hold any bytes) with `headers`."""
    lines = [
        'wrk.method = "POST"',
        f'local f = assert(io.open({json.dumps(str(body))}, "rb"))',
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
        # wrk's default 2 s timeout drops slower answers from the latency figures (a socket error instead): a slow
        # server at c=64 on a busy machine would look faster than it is.
        cmd += ["--timeout", "10s"]
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

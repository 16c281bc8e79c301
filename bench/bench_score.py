"""Scoring throughput and latency of the digits sample: modelyard against Azure's own inference server and peers.

Every server runs pinned to one core (`taskset -c 0` by default: modelyard pins its worker inside the serve
process's mask, so the control process and the worker share that core); wrk runs on another core
(`taskset -c 1`). All servers start first and stay up; the measured runs go in interleaved rounds (every server
and concurrency once per round, each run after its own warm-up), and each cell reports the median req/s, p50 and
p99 of its runs, plus the server's CPU time per request. For modelyard (uvicorn) also the RSS of the server plus
its worker, and how long `online-deployment create` takes to bring a second deployment to Succeeded.

    bench/run.sh                       # full run: 3 rounds of 8 s per cell, each after 2 s of warm-up
    bench/run.sh --quick               # smoke run: 1 round of 3 s per cell, 1 s warm-up
    bench/run.sh --only modelyard,azmlinfsrv
    bench/run.sh --only modelyard,inproc,mlserver,mlserver-inproc,litserve

MLServer and LitServe run from their own virtual environments (bench/peers/setup.sh, which bench/run.sh calls).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil
from harness import ROOT, BenchError
from peer_servers import peer_versions, start_litserve, start_mlserver
from servers import MAX_CONCURRENT_SETTING, Modelyard, Target, check_sample, start_azmlinfsrv, start_inproc
from wrk import Load, WrkRun, write_lua

RESULTS = ROOT / "bench" / "results"

#: Selection names (--only), in the order they start, run within a round, and are printed.
SERVERS: dict[str, str] = {
    "modelyard": "modelyard (uvicorn)",
    "modelyard-hypercorn": "modelyard (hypercorn)",
    "inproc": "in-process limit",
    "azmlinfsrv": "azureml-inference-server-http",
    "mlserver": "MLServer (inference pool)",
    "mlserver-inproc": "MLServer (in-process)",
    "litserve": "LitServe",
}
BASELINE = "azmlinfsrv"
#: The targets are ratios to this one: the same script and HTTP stack with no hop at all.
LIMIT = "inproc"


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
    ratio_to_limit: float | None = None


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
    versions.update(peer_versions())
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
        f"{'server':<31} {'conc':>4} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'vs azmlinfsrv':>13} "
        f"{'vs in-process':>13} {'CPU us/req':>10}"
    )
    print(head)
    print("-" * len(head))
    last = None
    for c in cells:
        if last is not None and c.server != last:
            print()
        last = c.server
        ratio = f"{c.ratio_to_baseline:.2f}x" if c.ratio_to_baseline is not None else "-"
        limit = f"{c.ratio_to_limit:.2f}x" if c.ratio_to_limit is not None else "-"
        label = SERVERS[c.server]
        cpu = f"{c.cpu_us_per_req:.0f}"
        figures = f"{c.concurrency:>4} {c.rps:>9.1f} {c.p50_ms:>8.3f} {c.p99_ms:>8.3f}"
        print(f"{label:<31} {figures} {ratio:>13} {limit:>13} {cpu:>10}")
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
    # modelyard admits 2 x max_concurrent_requests_per_instance requests in flight. Twice the load's connections:
    # the requests of a wrk run that has just closed its connections still count until the worker answers them,
    # so at exactly the top concurrency the next run can start with a few 429s.
    max_concurrent = max(1, max(args.concurrency))
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
                elif name in ("mlserver", "mlserver-inproc"):
                    starter = start_mlserver(tmp, args.server_core, parallel=name == "mlserver")
                elif name == "litserve":
                    starter = start_litserve(tmp, args.server_core)
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
    limit = {c.concurrency: c.rps for c in cells if c.server == LIMIT}
    for c in cells:
        if base.get(c.concurrency, 0) > 0:
            c.ratio_to_baseline = c.rps / base[c.concurrency]
        if limit.get(c.concurrency, 0) > 0:
            c.ratio_to_limit = c.rps / limit[c.concurrency]
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

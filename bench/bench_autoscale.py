"""Metrics and autoscale benchmark: what sampling and scraping cost serve's CPU, and how soon a scale-up serves.

1. Overhead: the sample endpoint under the same paced load, serve sampling its workers once a minute and never
   scraped, against serve sampling once a second and scraped (/metrics and /api/status) once a second; serve's own
   CPU time per second of load (not its workers'), alternating the two, median of the rounds.
2. Scale-up: a deployment with target_utilization (min 1, max 2, polling_interval 1) under load: from the load's
   start to the scale-out decision, and from the decision to the new worker's Ready, against 2 polling intervals
   plus a worker's start time (the create-to-Succeeded time of the same deployment).

Usage: .venv/bin/python bench/bench_autoscale.py [--rate 150] [--seconds 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from bench_batch import Serve, workdir
from harness import ROOT, BenchError

from runtime.client import Client
from runtime.statedir import StateDir

SAMPLE = ROOT / "models" / "digits"
ECHO = ROOT / "tests" / "fixtures" / "online"


def paced(url: str, headers: dict[str, str], body: bytes, rate: float, seconds: float, threads: int = 2) -> int:
    """Send `rate` requests a second for `seconds` from `threads` clients (2: what the sample deployment admits at
    once), each on its own schedule; the count
    answered 200 (anything else fails the benchmark)."""
    per = rate / threads
    ok = [0] * threads
    failed: list[str] = []

    def client(i: int) -> None:
        with httpx.Client(timeout=30) as http:
            start = time.perf_counter() + i / rate
            n = 0
            while (due := start + n / per) < start + seconds:
                time.sleep(max(0.0, due - time.perf_counter()))
                answer = http.post(url, content=body, headers=headers)
                if answer.status_code != 200:
                    failed.append(f"{answer.status_code} {answer.text[:200]}")
                    return
                ok[i] += 1
                n += 1

    workers = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if failed:
        raise BenchError(f"a request failed: {failed[0]}")
    return sum(ok)


def serve_cpu(serve: Serve) -> float:
    """Seconds serve's threads have run, from the scheduler's nanosecond counters (cpu_times ticks are 10 ms, as
    coarse as what is measured)."""
    total = 0
    for task in Path(f"/proc/{serve.proc.pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):  # a thread that ended meanwhile
            continue
    return total / 1e9


def overhead_round(tmp: Path, interval: str, rate: float, seconds: float, scrapes: int) -> dict[str, float]:
    """One serve sampling every `interval` seconds: its CPU per second idle, under the paced load, and per scrape."""
    serve = Serve(tmp, "0", "1", extra=("--sample-interval", interval))
    try:
        serve.cli("online-endpoint", "create", "-f", str(SAMPLE / "endpoint.yml"))
        serve.cli("online-deployment", "create", "-f", str(SAMPLE / "blue-deployment.yml"), "--all-traffic")
        key = serve.cli("online-endpoint", "get-credentials", "-n", "digits")["primaryKey"]
        info = StateDir(serve.state).read_server(strict=True)
        assert info is not None
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
        body = (SAMPLE / "sample-request.json").read_bytes()
        score = f"{info.url}/endpoints/digits/score"
        paced(score, headers, body, rate, 1.0)  # warm up
        before, t0 = serve_cpu(serve), time.perf_counter()
        time.sleep(seconds)
        idle = (serve_cpu(serve) - before) / (time.perf_counter() - t0)
        before, t0 = serve_cpu(serve), time.perf_counter()
        done = paced(score, headers, body, rate, seconds)
        loaded = (serve_cpu(serve) - before) / (time.perf_counter() - t0)
        client = Client(StateDir(serve.state))
        with httpx.Client(timeout=30) as http:
            before = serve_cpu(serve)
            for _ in range(scrapes):
                http.get(f"{info.url}/metrics").raise_for_status()
            per_metrics = (serve_cpu(serve) - before) / scrapes
            before = serve_cpu(serve)
            for _ in range(scrapes):
                client.call("GET", "/api/status")
            per_status = (serve_cpu(serve) - before) / scrapes
        return {
            "idle_ms_per_s": idle * 1000,
            "loaded_ms_per_s": loaded * 1000,
            "requests": done,
            "metrics_ms_per_scrape": per_metrics * 1000,
            "status_ms_per_call": per_status * 1000,
        }
    finally:
        serve.proc.stop()


def _log_time(line: str) -> float:
    stamp = line.split(" INFO ")[0]
    moment = datetime.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=datetime.UTC)
    return moment.timestamp()


def scale_up(tmp: Path) -> dict[str, float]:
    serve = Serve(tmp, "0,1", "1", extra=("--sample-interval", "1"))
    try:
        serve.cli("online-endpoint", "create", "-f", str(ECHO / "endpoint.yml"))
        t0 = time.time()
        serve.cli(
            "online-deployment", "create", "-f", str(ECHO / "echo-deployment.yml"), "--all-traffic",
            "--set", "scale_settings.type=target_utilization", "scale_settings.min_instances=1",
            "scale_settings.max_instances=2", "scale_settings.polling_interval=1",
        )  # fmt: skip
        create_s = time.time() - t0
        key = serve.cli("online-endpoint", "get-credentials", "-n", "fix")["primaryKey"]
        info = StateDir(serve.state).read_server(strict=True)
        assert info is not None
        client = Client(StateDir(serve.state))

        def ready() -> int:
            shown = client.call("GET", "/api/endpoints/fix/deployments/echo")
            return sum(1 for w in shown["workers"] if w["state"] == "Ready")

        stop = threading.Event()

        def load() -> None:
            with httpx.Client(timeout=30) as http:
                while not stop.is_set():
                    http.post(
                        f"{info.url}/endpoints/fix/score",
                        json={"sleep": 0.1},
                        headers={"Authorization": f"Bearer {key}"},
                    )

        clients = [threading.Thread(target=load) for _ in range(2)]
        started = time.time()
        for c in clients:
            c.start()
        try:
            deadline = time.monotonic() + 60
            while ready() < 2:
                if time.monotonic() > deadline:
                    raise BenchError("the deployment did not scale out within 60 s")
                time.sleep(0.02)
            seen_ready = time.time()
        finally:
            stop.set()
            for c in clients:
                c.join()
        log = (tmp / "serve.out").read_text().splitlines()
        decided = next(_log_time(line) for line in log if re.search(r"fix/echo: scale out 1 -> 2", line))
        return {
            "load_to_decision_s": decided - started,
            "decision_to_ready_s": seen_ready - decided,
            "worker_start_s": create_s,
            "polling_interval_s": 1.0,
        }
    finally:
        serve.proc.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=150.0, help="requests a second of the overhead load")
    ap.add_argument("--seconds", type=float, default=8.0, help="length of each overhead round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--scrapes", type=int, default=50, help="back-to-back /metrics and /api/status calls timed")
    ap.add_argument("--scrape-interval", type=float, default=15.0, help="Prometheus' scrape interval to cost")
    opts = ap.parse_args()
    os.sched_setaffinity(0, {1})  # the load and the pollers, beside serve's core 0
    results: dict[str, Any] = {"date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")}
    results["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    quiet: list[dict[str, float]] = []
    sampled: list[dict[str, float]] = []
    with workdir() as tmp:
        for r in range(opts.rounds):
            quiet.append(overhead_round(tmp / f"quiet{r}", "60", opts.rate, opts.seconds, opts.scrapes))
            sampled.append(overhead_round(tmp / f"sampled{r}", "1", opts.rate, opts.seconds, opts.scrapes))
        scale = [scale_up(tmp / f"scale{r}") for r in range(opts.rounds)]
    results.update(quiet=quiet, sampled=sampled, scale_up=scale)
    report(results, opts.rate, opts.scrape_interval)
    out = ROOT / "bench" / "results" / f"autoscale-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nfigures with every run: {out.relative_to(ROOT)}")
    return 0


def _median(rows: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def report(r: dict[str, Any], rate: float, scrape_every: float) -> None:
    quiet, sampled = r["quiet"], r["sampled"]
    load = _median(quiet, "loaded_ms_per_s")
    sampling = _median(sampled, "idle_ms_per_s") - _median(quiet, "idle_ms_per_s")
    per_scrape = _median(quiet + sampled, "metrics_ms_per_scrape")
    status = _median(quiet + sampled, "status_ms_per_call")
    print(f"{r['date']}, {r['machine']}")
    print(f"\n1. serve's own CPU, sample endpoint, one worker (median of {len(quiet)} rounds each)")
    print(f"   under {rate:g} requests/s, sampled once a minute   {load:8.1f} ms CPU per second")
    print(
        f"   under the same load, sampled every second   {_median(sampled, 'loaded_ms_per_s'):8.1f} ms CPU per second"
    )
    print(f"   idle, sampled once a minute                 {_median(quiet, 'idle_ms_per_s'):8.2f} ms CPU per second")
    print(f"   idle, sampled every second                  {_median(sampled, 'idle_ms_per_s'):8.2f} ms CPU per second")
    print(
        f"   sampling every second costs                 {sampling:8.2f} ms/s  {sampling / load:6.2%} of the load's CPU"
    )
    print(
        f"   one /metrics scrape costs                   {per_scrape:8.2f} ms   every {scrape_every:g} s: "
        f"{per_scrape / scrape_every / load:6.2%}"
    )
    print(
        f"   sampling + /metrics every {scrape_every:g} s              "
        f"{(sampling + per_scrape / scrape_every) / load:15.2%} of the load's CPU"
    )
    print(f"   one GET /api/status costs                   {status:8.2f} ms   (the dashboard polls it every 1 s)")
    print("\n2. scale-up, target_utilization, polling_interval 1 s (median of rounds)")
    rows: list[dict[str, float]] = r["scale_up"]
    budget = 2 * _median(rows, "polling_interval_s") + _median(rows, "worker_start_s")
    print(f"   load start to scale-out decision        {_median(rows, 'load_to_decision_s'):8.2f} s")
    print(f"   decision to the new worker Ready        {_median(rows, 'decision_to_ready_s'):8.2f} s")
    print(f"   a worker's start (create to Succeeded)  {_median(rows, 'worker_start_s'):8.2f} s")
    print(f"   budget: 2 polling intervals + start     {budget:8.2f} s")


if __name__ == "__main__":
    sys.exit(main())

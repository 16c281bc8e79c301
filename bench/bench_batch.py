"""Batch benchmark: job throughput against an in-process loop, queue overhead per mini-batch, enumeration and RSS.

One `modelyard serve` pinned to one core runs every job, its worker on the same core; the CLI and the pollers run on
another core. A second serve, for throughput only, keeps the worker on that core and moves itself to the other one.
Usage: .venv/bin/python bench/bench_batch.py [--files 2000] [--noop 2000] [--sizes 1000,10000,100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import psutil
from harness import BIN, ROOT, BenchError, Proc

from runtime.client import Client
from runtime.statedir import StateDir

BATCH = ROOT / "tests" / "fixtures" / "batch"
MINI_BATCH = 10
ROWS = 200

#: run() that hands its input straight back: what is left of a mini-batch is the queue's own cost.
NOOP = "def init():\n    pass\n\n\ndef run(mini_batch):\n    return mini_batch\n"


class Serve:
    """`modelyard serve` on one core, and the CLI bound to its state directory on another."""

    def __init__(
        self, tmp: Path, server_cores: str, cli_core: str, move_to: int | None = None, extra: Sequence[str] = ()
    ) -> None:
        """Serve on `server_cores` (its workers are placed inside them); with `move_to`, serve's own threads then
        move to that core, so its workers have the rest to themselves."""
        self.state = tmp / "state"
        self.state.mkdir(parents=True)
        exe = BIN / "modelyard"
        self.cli_cmd = ["taskset", "-c", cli_core, *([str(exe)] if exe.exists() else [sys.executable, "-m", "runtime"])]
        cmd = ["taskset", "-c", server_cores, *self.cli_cmd[3:], "serve", "--state-dir", str(self.state), "--port", "0"]
        cmd += extra
        self.proc = Proc("modelyard serve", cmd, tmp / "serve.out")
        self._move_to = move_to
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            self.proc.check_alive()
            with contextlib.suppress(OSError, ValueError, KeyError):
                if json.loads((self.state / "server.json").read_text())["pid"] == self.proc.pid:
                    self._move()
                    return
            time.sleep(0.05)
        raise BenchError(f"modelyard serve did not start within 60 s:\n{self.proc.tail()}")

    def _move(self) -> None:
        if self._move_to is None:
            return
        for thread in psutil.Process(self.proc.pid).threads():  # threads started later inherit the mask
            with contextlib.suppress(OSError):
                os.sched_setaffinity(thread.id, {self._move_to})

    def worker_cores(self) -> list[list[int]]:
        """The affinity of each worker process serve has started."""
        return [sorted(c.cpu_affinity() or []) for c in psutil.Process(self.proc.pid).children(recursive=True)]

    def cli(self, *args: str) -> Any:
        cmd = [*self.cli_cmd, *args, "--state-dir", str(self.state)]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
        if done.returncode != 0:
            raise BenchError(f"modelyard {' '.join(args)}: rc={done.returncode}: {done.stderr.strip()}")
        return json.loads(done.stdout) if done.stdout.strip() else None

    def rss_mib(self) -> float:
        return float(psutil.Process(self.proc.pid).memory_info().rss) / 2**20

    def invoke(self, deployment: str, data: Path, mini_batch_size: int) -> tuple[str, float]:
        """Queue a job; its name and the perf_counter just before the CLI call."""
        t0 = time.perf_counter()
        args = ["batch-endpoint", "invoke", "-n", "bench", "-d", deployment, "--input", str(data)]
        job = self.cli(*args, "--mini-batch-size", str(mini_batch_size))
        return str(job["name"]), t0

    def wait(self, name: str, check: Callable[[dict[str, Any]], bool], timeout: float = 600) -> dict[str, Any]:
        """Poll the job through the management API (what `job show` calls) from this process, every 50 ms: a CLI
        process per poll would keep the core it shares with serve busy and slow serve down."""
        client = Client(StateDir(self.state))
        deadline = time.monotonic() + timeout
        while True:
            self.proc.check_alive()
            shown: dict[str, Any] = client.call("GET", f"/api/jobs/{name}")
            if shown["status"] in ("Failed", "Canceled"):
                raise BenchError(f"job {name} is {shown['status']}: {shown}")
            if check(shown):
                return shown
            if time.monotonic() > deadline:
                raise BenchError(f"job {name} is still {shown['status']} after {timeout:.0f} s: {shown}")
            time.sleep(0.05)


def completed(job: dict[str, Any]) -> bool:
    return bool(job["status"] == "Completed")


def listed(job: dict[str, Any]) -> bool:
    return bool(job["mini_batches"]["total"] > 0)


def make_csvs(folder: Path, count: int) -> None:
    folder.mkdir()
    for n in range(count):
        rows = "".join(f"{n},{i},{n * i % 97}\n" for i in range(ROWS))
        (folder / f"f{n:06}.csv").write_text("a,b,c\n" + rows)


def make_empty(folder: Path, count: int) -> None:
    folder.mkdir()
    for n in range(count):
        (folder / f"e{n:06}.txt").write_bytes(b"x")


def in_process_loop(files: list[Path], core: int, out: Path) -> float:
    """init() once and run() over mini-batches of MINI_BATCH files, pinned to `core`, rows appended to a file."""
    spec = importlib.util.spec_from_file_location("score_csv_bench", BATCH / "code" / "score_csv.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    saved_affinity, saved_argv = os.sched_getaffinity(0), sys.argv
    os.environ["AZUREML_MODEL_DIR"] = str(BATCH)
    sys.argv = ["score_csv.py", "--logging_level=info"]
    os.sched_setaffinity(0, {core})
    paths = [str(f) for f in files]
    try:
        # The worker sends the script's prints to its log file; here they go to a file too.
        with open(out, "w") as rows, open(out.with_suffix(".log"), "w") as log, contextlib.redirect_stdout(log):
            t0 = time.perf_counter()
            module.init()
            for i in range(0, len(paths), MINI_BATCH):
                for line in module.run(paths[i : i + MINI_BATCH]):
                    rows.write(f"{line}\n")
            elapsed = time.perf_counter() - t0
    finally:
        os.sched_setaffinity(0, saved_affinity)
        sys.argv = saved_argv
    return elapsed


def setup(serve: Serve, tmp: Path) -> None:
    code = tmp / "fixture"
    shutil.copytree(BATCH, code)
    (code / "code" / "noop.py").write_text(NOOP)
    serve.cli("batch-endpoint", "create", "-n", "bench", "-f", str(BATCH / "endpoint.yml"))
    serve.cli("compute", "create", "--name", "batch-cluster", "--type", "amlcompute")
    deployment = ["batch-deployment", "create", "-f", str(code / "deployment.yml"), "--endpoint-name", "bench"]
    serve.cli(*deployment, "--set-default")
    serve.cli(*deployment, "--set", "name=noop", "code_configuration.scoring_script=noop.py")


def iso_s(stamp: str) -> float:
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def run_job(serve: Serve, deployment: str, data: Path, size: int) -> dict[str, Any]:
    """One job to Completed: the CLI's wall time and the server's own timestamps of it."""
    name, t0 = serve.invoke(deployment, data, size)
    job = serve.wait(name, completed)
    wall = time.perf_counter() - t0
    created, started, ended = (
        iso_s(s) for s in (job["creation_context"]["created_at"], job["start_time"], job["end_time"])
    )
    return {
        "wall_s": wall, "server_s": ended - created, "to_first_claim_s": started - created,
        "elapsed_s": job["elapsed_s"], "mini_batches": job["mini_batches"],
    }  # fmt: skip


@contextlib.contextmanager
def workdir() -> Iterator[Path]:
    tmp = Path(tempfile.mkdtemp(prefix="modelyard-batchbench-"))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=2000, help="CSV files of the throughput job")
    ap.add_argument("--noop", type=int, default=2000, help="one-file mini-batches of the queue-overhead job")
    ap.add_argument("--sizes", default="1000,10000,100000", help="folder sizes of the enumeration jobs")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--server-core", type=int, default=0)
    ap.add_argument("--cli-core", type=int, default=1)
    opts = ap.parse_args()
    sizes = [int(s) for s in opts.sizes.split(",")]
    results: dict[str, Any] = {"date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")}
    results["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    with workdir() as tmp:
        csvs, noop = tmp / "csv", tmp / "noop"
        make_csvs(csvs, opts.files)
        make_empty(noop, opts.noop)
        for size in sizes:
            make_empty(tmp / f"enum-{size}", size)
        files = sorted(csvs.iterdir())
        inproc = [in_process_loop(files, opts.server_core, tmp / f"inproc-{r}.csv") for r in range(opts.runs)]
        os.sched_setaffinity(0, {opts.cli_core})  # the poller, with the CLI
        split = Serve(tmp / "split", f"{opts.server_core},{opts.cli_core}", str(opts.cli_core), opts.cli_core)
        try:
            setup(split, tmp / "split")
            throughput_split = [run_job(split, "csv-sum", csvs, MINI_BATCH) for _ in range(opts.runs)]
            results["split_worker_cores"] = split.worker_cores()
        finally:
            split.proc.stop()
        serve = Serve(tmp, str(opts.server_core), str(opts.cli_core))
        try:
            setup(serve, tmp)
            throughput = [run_job(serve, "csv-sum", csvs, MINI_BATCH) for _ in range(opts.runs)]
            overhead = [run_job(serve, "noop", noop, 1) for _ in range(opts.runs)]
            enum = []
            for size in sizes:
                before = serve.rss_mib()
                name, t0 = serve.invoke("noop", tmp / f"enum-{size}", MINI_BATCH)
                job = serve.wait(name, listed)
                listed_s = time.perf_counter() - t0
                at_listing = serve.rss_mib()
                done = serve.wait(name, completed)
                claim = iso_s(done["start_time"]) - iso_s(done["creation_context"]["created_at"])
                total = job["mini_batches"]["total"]
                enum.append(
                    {"files": size, "listed_s": listed_s, "to_first_claim_s": claim, "total": total,
                     "rss_before_mib": before, "rss_listed_mib": at_listing, "rss_after_mib": serve.rss_mib()}
                )  # fmt: skip
        finally:
            serve.proc.stop()
    results.update(
        inproc_s=inproc, throughput=throughput, throughput_split=throughput_split, overhead=overhead, enumeration=enum
    )
    report(results, opts.files, opts.noop)
    out = ROOT / "bench" / "results" / f"batch-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nfigures with every run: {out.relative_to(ROOT)}")
    return 0


def report(r: dict[str, Any], files: int, noop: int) -> None:
    inproc_fps = files / statistics.median(r["inproc_s"])
    job_fps = files / statistics.median(t["wall_s"] for t in r["throughput"])
    job_srv_fps = files / statistics.median(t["server_s"] for t in r["throughput"])
    job_own_fps = files / statistics.median(t["elapsed_s"] for t in r["throughput"])
    per_mb = statistics.median(t["wall_s"] for t in r["overhead"]) / noop * 1000
    per_mb_srv = statistics.median(t["server_s"] for t in r["overhead"]) / noop * 1000
    per_mb_own = statistics.median(t["elapsed_s"] for t in r["overhead"]) / noop * 1000
    print(f"{r['date']}, {r['machine']}")
    print(f"\n1. throughput, {files} CSV files x {ROWS} rows, mini_batch_size {MINI_BATCH}, one core (median of runs)")
    print(f"   in-process loop            {inproc_fps:9.1f} files/s")
    print(f"   job, CLI invoke to seen    {job_fps:9.1f} files/s   {job_fps / inproc_fps:6.1%} of in-process")
    print(f"   job, created to end_time   {job_srv_fps:9.1f} files/s   {job_srv_fps / inproc_fps:6.1%} of in-process")
    print(f"   job, its own elapsed_s     {job_own_fps:9.1f} files/s   {job_own_fps / inproc_fps:6.1%} of in-process")
    split = r["throughput_split"]
    print(f"   the same job, serve itself moved off the worker's core (worker cores {r['split_worker_cores']}):")
    for label, key in (
        ("CLI invoke to seen", "wall_s"),
        ("created to end_time", "server_s"),
        ("its own elapsed_s", "elapsed_s"),
    ):
        fps = files / statistics.median(t[key] for t in split)
        print(f"   job, {label:<21} {fps:9.1f} files/s   {fps / inproc_fps:6.1%} of in-process")
    print(f"\n2. queue overhead, run() returns its input, mini_batch_size 1, K = {noop} (median of runs)")
    print(f"   CLI invoke to seen / K     {per_mb:9.3f} ms per mini-batch")
    print(f"   created to end_time / K    {per_mb_srv:9.3f} ms per mini-batch")
    print(f"   elapsed_s / K              {per_mb_own:9.3f} ms per mini-batch")
    print(f"\n3. enumeration (mini_batch_size {MINI_BATCH}, run() returns its input) and serve RSS")
    head = f"{'files':>8} {'listed s':>9} {'claim s':>8} {'batches':>8} {'RSS before':>11} {'at listing':>11}"
    print(f"   {head} {'after':>8} MiB")
    for e in r["enumeration"]:
        print(
            f"   {e['files']:8d} {e['listed_s']:9.2f} {e['to_first_claim_s']:8.2f} {e['total']:8d}"
            f" {e['rss_before_mib']:11.1f}"
            f" {e['rss_listed_mib']:11.1f} {e['rss_after_mib']:8.1f}"
        )


if __name__ == "__main__":
    sys.exit(main())

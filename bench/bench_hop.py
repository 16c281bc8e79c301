"""The worker hop alone: WorkerHandle.infer against a real worker process, no HTTP, both on one core.

A request goes the way the router sends it (Infer with the front end's headers and a body) to a worker running
the sample scoring script on the sample body, or a script whose run() only takes the length of its input (the hop
with no model work), on the sample body and on a 1 MiB one.
Figures per cell: requests/s and the CPU time (user + system) of the control side (this process) and of the
worker per request. With `--tree A --tree B ...` every cell runs once per tree in each round, interleaved, each
in a child process that imports modelyard from that tree: the side-by-side figures for a change to the hop.

Usage: .venv/bin/python bench/bench_hop.py [--tree DIR ...] [--rounds 5] [--requests 20000] [--core 0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
SCRIPT_DIR = ROOT / "models" / "model-1" / "onnx"
MODEL_FILE = ROOT / "models" / "model-1" / "model" / "digits.onnx"
BODY = (ROOT / "models" / "digits" / "sample-request.json").read_bytes()
#: What the router forwards for a wrk request: the client's headers plus the front end's request id.
HEADERS = [
    ("host", "127.0.0.1:8000"),
    ("content-type", "application/json"),
    ("authorization", "Bearer 0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH"),
    ("content-length", str(len(BODY))),
    ("x-request-id", "6f1c9a5e-2b7d-4c1e-9a3b-1234567890ab"),
]
NOOP_SCRIPT = "def init():\n    pass\n\n\ndef run(raw_data):\n    return len(raw_data)\n"
LARGE = b'"' + b"x" * ((1 << 20) - 2) + b'"'
#: (script, body, concurrency); "noop-1m": the no-op script on a 1 MiB body
CELLS = [("sample", 8), ("sample", 64), ("noop", 8), ("noop", 64), ("noop-1m", 8)]


async def _cell(tmp: Path, script: str, concurrency: int, requests: int) -> dict[str, float]:
    import uvloop  # noqa: F401 - the loop serve runs on

    from runtime.control.worker_handle import WorkerHandle
    from runtime.ipc.messages import Load, Result

    if script == "sample":
        code, entry = SCRIPT_DIR, "score.py"
        model = tmp / "azureml-models"
        (model / "model").mkdir(parents=True, exist_ok=True)
        shutil.copy2(MODEL_FILE, model / "model" / MODEL_FILE.name)
    else:
        code, entry, model = tmp / "noop", "score.py", tmp
        code.mkdir(exist_ok=True)
        (code / entry).write_text(NOOP_SCRIPT)
    body = LARGE if script == "noop-1m" else BODY
    headers = [(k, str(len(body)) if k == "content-length" else v) for k, v in HEADERS]
    env = {
        **os.environ,
        "AML_APP_ROOT": str(code),
        "AZUREML_ENTRY_SCRIPT": entry,
        "AZUREML_MODEL_DIR": str(model),
        "PYTHONPATH": os.environ.get("HOP_TREE", str(ROOT)),
        "OMP_NUM_THREADS": "1",
    }
    cores = tuple(sorted(os.sched_getaffinity(0)))
    handle = WorkerHandle(
        name=f"hop-{script}-{concurrency}",
        socket_path=tmp / "w.sock",
        log_path=tmp / "w.log",
        env=env,
        cores=cores,
        load=Load("script", app_root=str(code), entry_script=entry, model_dir=str(model)),
    )
    await handle.start(timeout=120)
    try:
        left = requests

        async def client() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                answer = await handle.infer("POST", "/score", "", list(headers), body, 30.0, 2 << 20)
                if type(answer) is not Result or answer.status != 200:
                    raise RuntimeError(f"the worker answered {answer!r}")

        left = requests // 10
        await asyncio.gather(*(client() for _ in range(concurrency)))  # warm-up
        left = requests
        me, worker = psutil.Process(), psutil.Process(handle.pid)
        c0, w0, t0 = me.cpu_times(), worker.cpu_times(), time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        c1, w1, t1 = me.cpu_times(), worker.cpu_times(), time.perf_counter()
    finally:
        await handle.stop()
    per = 1e6 / requests
    return {
        "rps": requests / (t1 - t0),
        "control_us": (c1.user - c0.user + c1.system - c0.system) * per,
        "worker_us": (w1.user - w0.user + w1.system - w0.system) * per,
    }


def _child(args: argparse.Namespace) -> None:
    """Run the cells once in this process (imports modelyard from HOP_TREE) and print them as JSON."""
    import uvloop

    out = []
    for script, concurrency in CELLS:
        with tempfile.TemporaryDirectory() as tmp:
            count = args.requests // 20 if script == "noop-1m" else args.requests
            figures = uvloop.run(_cell(Path(tmp), script, concurrency, count))
        out.append({"script": script, "concurrency": concurrency, **figures})
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", action="append", default=[], help="a checkout of modelyard to measure (repeatable)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--requests", type=int, default=20_000)
    ap.add_argument("--core", default="0", help="the one core the control side and the worker share")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args)
        return
    trees = [str(Path(t).resolve()) for t in args.tree] or [str(ROOT)]
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load = os.getloadavg()[0]
    print(f"{started}; load average {load:.2f}; {args.rounds} rounds; trees in order:", *trees, sep="\n  ")
    runs: dict[tuple[str, str, int], list[dict[str, float]]] = {}
    for round_ in range(args.rounds):
        for tree in trees:
            cmd = ["taskset", "-c", args.core, sys.executable, __file__, "--child", "--requests", str(args.requests)]
            env = {**os.environ, "HOP_TREE": tree, "PYTHONPATH": tree}
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tree, check=False)
            if done.returncode != 0:
                sys.exit(f"{tree}: the run failed:\n{done.stderr[-3000:]}")
            for cell in json.loads(done.stdout.splitlines()[-1]):
                runs.setdefault((tree, cell["script"], cell["concurrency"]), []).append(cell)
        print(f"round {round_ + 1}/{args.rounds} done", file=sys.stderr)
    _report(trees, runs)


def _report(trees: list[str], runs: dict[tuple[str, str, int], list[dict[str, Any]]]) -> None:
    print(f"{'tree':28s} {'script':7s} {'conc':>4s} {'req/s':>9s} {'control us':>11s} {'worker us':>10s}")
    for script, concurrency in CELLS:
        for tree in trees:
            cells = runs[(tree, script, concurrency)]
            rps, ctl, wrk = (statistics.median(c[k] for c in cells) for k in ("rps", "control_us", "worker_us"))
            print(f"{Path(tree).name[:28]:28s} {script:7s} {concurrency:4d} {rps:9.0f} {ctl:11.1f} {wrk:10.1f}")
        print()


if __name__ == "__main__":
    main()

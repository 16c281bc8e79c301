"""The medium case: the convnet (models/convnet-triton) served no-code through OIP v2 with binary tensors.

modelyard serves the Triton repository twice, as two deployments in two pinned `modelyard serve` processes: as
committed (no dynamic batching) and with `dynamic_batching { max_queue_delay_microseconds: N }` added to a temp
copy of its config.pbtxt. wrk on another core POSTs one 3x64x64 image per request at concurrency 64 as the
binary_tensor_data extension (a JSON header, `Inference-Header-Content-Length`, the raw FP32 bytes; both outputs
asked for as binary). The limit is onnxruntime in one process on the same core at each batch size (1..32): the
best of that sweep is what the served images/s are set against. Rounds interleave every cell, as bench_score.

    .venv/bin/python bench/bench_medium.py            # 3 rounds of 8 s per cell after 2 s warm-up; sweep 2 s a size
    .venv/bin/python bench/bench_medium.py --quick    # 1 round of 3 s after 1 s; sweep 1 s a size
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from bench_score import check_tools, machine_facts, measured_run
from harness import BENCH, ROOT, BenchError, Proc, one_core_env, post
from ort_sweep import session
from servers import MAX_CONCURRENT_SETTING, Modelyard, Target
from wrk import Load, WrkRun, write_lua

CONVNET = ROOT / "models" / "convnet-triton"
MODEL_FILE = CONVNET / "model_repository" / "convnet" / "1" / "model.onnx"
RESULTS = ROOT / "bench" / "results"
ROLES = ("serve", "worker")
#: Selection names (--only), in the order they start and run within a round.
CELLS: dict[str, str] = {
    "nobatch": "modelyard, no dynamic batching",
    "batch": "modelyard, dynamic_batching",
    "inproc": "onnxruntime in-process",
}


def repository_copy(tmp: Path, name: str, queue_delay_us: int | None) -> Path:
    """The endpoint folder in a temp copy; with a delay, its config.pbtxt gains a dynamic_batching block."""
    folder = tmp / name
    shutil.copytree(CONVNET, folder)
    if queue_delay_us is not None:
        config = folder / "model_repository" / "convnet" / "config.pbtxt"
        block = f"dynamic_batching {{\n  max_queue_delay_microseconds: {queue_delay_us}\n}}\n"
        config.write_text(config.read_text() + block)
    return folder


def binary_request(tmp: Path) -> tuple[Path, dict[str, str], np.ndarray]:
    """The committed sample image as a binary_tensor_data body: a file for wrk, its headers, and the image."""
    sample = json.loads((CONVNET / "sample-request.json").read_text())["inputs"][0]
    image = np.asarray(sample["data"], dtype=np.float32).reshape(sample["shape"])
    raw = image.tobytes()
    size = {"binary_data_size": len(raw)}
    head = {
        "inputs": [{"name": "input", "shape": list(image.shape), "datatype": "FP32", "parameters": size}],
        "outputs": [
            {"name": "label", "parameters": {"binary_data": True}},
            {"name": "probabilities", "parameters": {"binary_data": True}},
        ],
    }
    text = json.dumps(head, separators=(",", ":")).encode()
    body = tmp / "convnet-request.bin"
    body.write_bytes(text + raw)
    headers = {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": str(len(text))}
    return body, headers, image


def expected_label(image: np.ndarray) -> int:
    labels, _ = session(str(MODEL_FILE)).run(None, {"input": image})
    return int(labels[0, 0])


def check_answer(name: str, target: Target, body: Path, expected: int) -> None:
    """The server must answer the binary request with a binary label output equal to onnxruntime's own."""
    status, answer = post(target.url, target.headers, body.read_bytes())
    if status != 200:
        raise BenchError(f"{name}: the sample request got {status}: {answer[:500]!r}")
    # The answer's JSON part is as long as its own Inference-Header-Content-Length; post() keeps no headers, so
    # the JSON is read up to the end of its outermost object.
    head, offset = json.JSONDecoder().raw_decode(answer.decode("latin-1"))
    outputs = {out["name"]: out for out in head["outputs"]}
    size = outputs["label"]["parameters"]["binary_data_size"]
    first = next(iter(outputs))
    start = offset if first == "label" else offset + outputs[first]["parameters"]["binary_data_size"]
    label = int(np.frombuffer(answer[start : start + size], dtype=np.int64)[0])
    if label != expected:
        raise BenchError(f"{name}: the sample image got label {label}, onnxruntime in-process gives {expected}")


@contextlib.contextmanager
def start_convnet(tmp: Path, name: str, folder: Path, core: str, max_concurrent: int) -> Iterator[Target]:
    """`modelyard serve` pinned to `core` with the convnet endpoint and its Triton deployment."""
    my = Modelyard(tmp, "uvicorn", core, max_concurrent, name=name)
    cmd = ["taskset", "-c", core, *my.cli_cmd, "serve", "--state-dir", str(my.state), "--port", "0"]
    proc = Proc(f"modelyard serve ({name})", cmd, my.state / "serve.out")
    try:
        url = my._wait_url(proc)
        my.cli("online-endpoint", "create", "-f", str(folder / "endpoint.yml"))
        setting = f"{MAX_CONCURRENT_SETTING}={max_concurrent}"
        deployment = my.cli(
            "online-deployment", "create", "-f", str(folder / "deployment.yml"), "--all-traffic", "--set", setting
        )
        if deployment.get("provisioning_state") != "Succeeded":
            raise BenchError(f"{name}: deployment {deployment.get('provisioning_state')}: {deployment.get('error')}")
        key = my.cli("online-endpoint", "get-credentials", "-n", "convnet-triton")["primaryKey"]
        headers = {"Authorization": f"Bearer {key}"}
        yield Target(f"{url}/endpoints/convnet-triton/v2/models/convnet/infer", headers, proc, my, ROLES)
    finally:
        proc.stop()


def inproc_sweep(args: argparse.Namespace) -> list[dict[str, Any]]:
    cmd = ["taskset", "-c", args.server_core, sys.executable, str(BENCH / "ort_sweep.py"), str(MODEL_FILE)]
    cmd += [f"{args.sweep_seconds:g}", *map(str, args.batch_sizes)]
    timeout = 120 + args.sweep_seconds * len(args.batch_sizes) * 2
    done = subprocess.run(cmd, capture_output=True, text=True, env=one_core_env(), timeout=timeout)
    if done.returncode != 0:
        raise BenchError(f"the in-process sweep failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def measure(load: Load, targets: dict[str, Target], luas: dict[str, Path], args: argparse.Namespace) -> dict[str, Any]:
    served: dict[str, list[WrkRun]] = {name: [] for name in targets}
    sweeps: list[list[dict[str, Any]]] = []
    for round_no in range(1, args.runs + 1):
        print(f"round {round_no}/{args.runs}", flush=True)
        for name, target in targets.items():
            target.proc.check_alive()
            if args.warmup > 0:
                load.run(name, target.url, luas[name], args.concurrency, args.warmup)
            run = measured_run(load, name, target, luas[name], args.concurrency, args.duration)
            served[name].append(run)
            cpu = sum(run.cpu_us_per_req.values())
            split = " + ".join(f"{role} {us:.0f}" for role, us in run.cpu_us_per_req.items())
            print(
                f"  {CELLS[name]:<36} {run.rps:8.1f} images/s  p50 {run.p50_ms:7.2f} ms  p99 {run.p99_ms:7.2f} ms  "
                f"CPU {cpu:.0f} us/image ({split})",
                flush=True,
            )
        if "inproc" in args.only:
            sweep = inproc_sweep(args)
            sweeps.append(sweep)
            row = "  ".join(f"b{r['batch']} {r['images_per_s']:.0f}" for r in sweep)
            print(f"  {CELLS['inproc']:<36} images/s by batch size: {row}", flush=True)
    return {"served": served, "sweeps": sweeps}


def summarise(raw: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    by_batch: list[dict[str, Any]] = []
    for i, batch in enumerate(args.batch_sizes):
        rows = [sweep[i] for sweep in raw["sweeps"]]
        by_batch.append(
            {
                "batch": batch,
                "images_per_s": statistics.median(r["images_per_s"] for r in rows),
                "p50_ms": statistics.median(r["p50_ms"] for r in rows),
                "p99_ms": statistics.median(r["p99_ms"] for r in rows),
            }
        )
    best = max(by_batch, key=lambda r: r["images_per_s"]) if by_batch else None
    served = []
    for name, runs in raw["served"].items():
        rps = statistics.median(r.rps for r in runs)
        served.append(
            {
                "name": name,
                "images_per_s": rps,
                "p50_ms": statistics.median(r.p50_ms for r in runs),
                "p99_ms": statistics.median(r.p99_ms for r in runs),
                "cpu_us_per_image": statistics.median(sum(r.cpu_us_per_req.values()) for r in runs),
                "cpu_us_per_image_by_process": {
                    role: statistics.median(r.cpu_us_per_req.get(role, 0.0) for r in runs) for role in ROLES
                },
                "runs": [vars(r) for r in runs],
                "ratio_to_inproc_best": rps / best["images_per_s"] if best else None,
            }
        )
    return {"inproc_by_batch": by_batch, "inproc_best": best, "served": served}


def print_report(summary: dict[str, Any], args: argparse.Namespace, facts: dict[str, Any]) -> None:
    print()
    head = f"{'':<36} {'images/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'vs in-process best':>18} {'CPU us/image':>12}"
    print(head)
    print("-" * len(head))
    for row in summary["served"]:
        ratio = f"{row['ratio_to_inproc_best']:.2f}x" if row["ratio_to_inproc_best"] is not None else "-"
        label = CELLS[row["name"]] + (f" {args.queue_delay_us} us" if row["name"] == "batch" else "")
        figures = f"{row['images_per_s']:>9.1f} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f}"
        print(f"{label:<36} {figures} {ratio:>18} {row['cpu_us_per_image']:>12.0f}")
    best = summary["inproc_best"]
    for row in summary["inproc_by_batch"]:
        mark = "   <- best" if best is not None and row is best else ""
        label = f"onnxruntime in-process, batch {row['batch']}"
        figures = f"{row['images_per_s']:>9.1f} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f}"
        print(f"{label:<36} {figures}{mark}")
    print()
    print(
        f"served: one image per request, wrk -c{args.concurrency}, medians of {args.runs} run(s) of "
        f"{args.duration:g} s; in-process: p50/p99 of one session call of the batch, medians of the rounds"
    )
    print(f"servers on core {facts['server_core']}, wrk on core {facts['load_core']}; load average start "
          f"{' '.join(f'{v:.2f}' for v in facts['loadavg_start'])}, end "
          f"{' '.join(f'{v:.2f}' for v in facts['loadavg_end'])}")  # fmt: skip


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round of 3 s per cell, 1 s warm-up")
    parser.add_argument("--only", help=f"comma-separated cells to run, from: {', '.join(CELLS)}")
    parser.add_argument("--concurrency", type=int, default=64, help="wrk connections (default 64)")
    parser.add_argument("--runs", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--duration", type=int, default=8, help="seconds per measured run (default 8)")
    parser.add_argument("--warmup", type=int, default=2, help="warm-up seconds before each measured run (default 2)")
    parser.add_argument("--queue-delay-us", type=int, default=1000, help="max_queue_delay_microseconds (default 1000)")
    parser.add_argument("--batch-sizes", default="1,2,4,8,16,32", help="in-process batch sizes, e.g. 1-32 or 1,8,32")
    parser.add_argument("--sweep-seconds", type=float, default=2, help="in-process seconds per batch size (default 2)")
    parser.add_argument("--server-core", default="0", help="core(s) the servers run on (default 0)")
    parser.add_argument("--load-core", default="1", help="core(s) wrk runs on (default 1)")
    parser.add_argument("--no-save", action="store_true", help=f"do not write {RESULTS.relative_to(ROOT)}/*.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.duration, args.warmup, args.sweep_seconds = 1, 3, 1, 1.0
    sizes: list[int] = []
    for part in args.batch_sizes.split(","):
        lo, _, hi = part.strip().partition("-")
        sizes += range(int(lo), int(hi or lo) + 1)
    if not sizes or min(sizes) < 1 or max(sizes) > 32:
        parser.error("--batch-sizes must lie within 1..32 (the model's max_batch_size)")
    args.batch_sizes = sorted(set(sizes))
    selected = [s.strip() for s in args.only.split(",")] if args.only else list(CELLS)
    unknown = [s for s in selected if s not in CELLS]
    if unknown:
        parser.error(f"unknown cell(s) {', '.join(unknown)}; choose from {', '.join(CELLS)}")
    args.only = [s for s in CELLS if s in selected]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = dt.datetime.now(dt.UTC)
    try:
        check_tools(args)
        facts = machine_facts(args.load_core, args.server_core)
        load = Load(args.load_core)
        # modelyard admits 2 x max_concurrent_requests_per_instance in flight. Twice the load's own connections:
        # wrk closes its connections at the end of a run while the worker still holds requests of them, and those
        # count until answered, so a run right after another would see 429s at exactly the load's concurrency.
        max_concurrent = max(1, args.concurrency)
        with tempfile.TemporaryDirectory(prefix="modelyard-medium-") as tmp_name, contextlib.ExitStack() as stack:
            tmp = Path(tmp_name)
            body, headers, image = binary_request(tmp)
            expected = expected_label(image)
            targets: dict[str, Target] = {}
            luas: dict[str, Path] = {}
            for name in (n for n in args.only if n != "inproc"):
                print(f"starting {CELLS[name]}", flush=True)
                delay = args.queue_delay_us if name == "batch" else None
                folder = repository_copy(tmp, name, delay)
                target = stack.enter_context(start_convnet(tmp, name, folder, args.server_core, max_concurrent))
                target.headers = {**target.headers, **headers}
                check_answer(name, target, body, expected)
                targets[name] = target
                luas[name] = tmp / f"{name}.lua"
                write_lua(luas[name], target.headers, body)
            raw = measure(load, targets, luas, args)
            print("stopping the servers", flush=True)
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 1
    facts["loadavg_end"] = list(os.getloadavg())
    summary = summarise(raw, args)
    print_report(summary, args, facts)
    if not args.no_save:
        RESULTS.mkdir(exist_ok=True)
        out = RESULTS / f"medium-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
        config = {k: v for k, v in vars(args).items() if k != "no_save"}
        doc = {"started": started.isoformat(timespec="seconds"), "config": config, "machine": facts}
        doc |= summary | {"inproc_sweeps": raw["sweeps"]}
        out.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"\nresults: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

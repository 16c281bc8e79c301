"""What a mirror costs the live path: the digits sample's p50/p99 without a mirror and with a 10 % mirror to a
deployment that takes 2 s per request (so its admission limit is full and most copies are dropped).

One `modelyard serve` pinned to the server core, wrk on the load core at a fixed concurrency. The two settings
run in interleaved rounds (`online-endpoint update --mirror-traffic slow=10` or `slow=0` between runs, each run
after its own warm-up); each reports the median req/s, p50 and p99 of its runs, and the ratio with / without.

    .venv/bin/python bench/bench_mirror.py            # 3 rounds of 8 s per setting, 2 s warm-up, c=4
    .venv/bin/python bench/bench_mirror.py --quick    # 1 round of 3 s, 1 s warm-up
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from harness import BENCH, BenchError
from servers import Modelyard, check_sample
from wrk import Load, WrkRun, write_lua

SHADOW_YML = """\
name: slow
endpoint_name: digits
code_configuration:
  code: {code}
  scoring_script: score.py
environment:
  image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest
instance_type: cpu1
instance_count: 1
"""
SETTINGS = {"no mirror": "slow=0", "10 % mirror to a 2 s shadow": "slow=10"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round of 3 s per setting, 1 s warm-up")
    parser.add_argument("--concurrency", type=int, default=4, help="wrk connections (default 4)")
    parser.add_argument("--runs", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--duration", type=float, default=8, help="seconds per measured run (default 8)")
    parser.add_argument("--warmup", type=float, default=2, help="warm-up seconds before each run (default 2)")
    parser.add_argument("--server-core", default="0", help="core(s) serve runs on (default 0)")
    parser.add_argument("--load-core", default="1", help="core(s) wrk runs on (default 1)")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.duration, args.warmup = 1, 3.0, 1.0
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load = Load(args.load_core)
    runs: dict[str, list[WrkRun]] = {name: [] for name in SETTINGS}
    try:
        with tempfile.TemporaryDirectory(prefix="modelyard-bench-mirror-") as tmp_name:
            tmp = Path(tmp_name)
            my = Modelyard(tmp, "uvicorn", args.server_core, max(1, (args.concurrency + 1) // 2))
            my.cli_cmd = [sys.executable, "-m", "runtime"]  # this checkout's runtime, whichever one is installed
            with my.start() as target:
                check_sample("modelyard", target.url, target.headers)
                shadow = tmp / "slow-deployment.yml"
                shadow.write_text(SHADOW_YML.format(code=BENCH / "slow_shadow"))
                my.cli("online-deployment", "create", "-f", str(shadow))
                lua = tmp / "load.lua"
                write_lua(lua, target.headers)
                for round_no in range(1, args.runs + 1):
                    print(f"round {round_no}/{args.runs}", flush=True)
                    for name, mirror in SETTINGS.items():
                        my.cli("online-endpoint", "update", "-n", "digits", "--mirror-traffic", mirror)
                        if args.warmup > 0:
                            load.run(name, target.url, lua, args.concurrency, args.warmup)
                        run = load.run(name, target.url, lua, args.concurrency, args.duration)
                        runs[name].append(run)
                        print(
                            f"  {name:<30} {run.rps:9.1f} req/s  p50 {run.p50_ms:7.3f} ms  p99 {run.p99_ms:8.3f} ms",
                            flush=True,
                        )
                report = my.cli("online-endpoint", "mirror-report", "-n", "digits")
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 1
    medians = {
        name: tuple(statistics.median(getattr(r, f) for r in done) for f in ("rps", "p50_ms", "p99_ms"))
        for name, done in runs.items()
    }
    print(f"\n{'setting':<30} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for name, (rps, p50, p99) in medians.items():
        print(f"{name:<30} {rps:>9.1f} {p50:>8.3f} {p99:>8.3f}")
    (off, on) = medians.values()
    print(f"{'ratio with / without':<30} {on[0] / off[0]:>8.2f}x {on[1] / off[1]:>7.2f}x {on[2] / off[2]:>7.2f}x")
    for dep in report["deployments"]:
        print(
            f"mirror {dep['deployment']}: {dep['mirrored']} copies, {dep['dropped']} dropped, "
            f"{dep['compared']} compared, agreement {dep['agreement_rate']:.1%}"
        )
    print(f"c={args.concurrency}; medians of {args.runs} runs of {args.duration:g} s; load average {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

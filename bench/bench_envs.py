"""Environment benchmark: building an environment (scikit-learn + pandas), finding it built, and starting a worker.

1. Cold build: a requirement set of scikit-learn and pandas (plus the worker's needs) built into a fresh cache with
   an empty installer cache, so every wheel is downloaded: what a first deployment waits for.
2. Warm build: the same set into another fresh cache with the installer's cache kept, as a second machine state
   directory on the same box, or the same set after `environment prune`.
3. Cached: the same set asked for again where it is built (a second deployment of it): no install at all.
4. Worker start: a scoring script that imports scikit-learn and pandas, started from the built environment,
   against the same script started on modelyard's own interpreter with the same packages importable (today's
   shared environment), alternating the two; median of the rounds. The target: cached under 1 s more than today.

Usage: .venv/bin/python bench/bench_envs.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from harness import ROOT

from runtime.control.worker_handle import WorkerHandle
from runtime.envs.cache import EnvCache
from runtime.envs.installer import Installer
from runtime.envs.requirements import RequirementSet, with_worker_needs
from runtime.ipc.messages import Load

PACKAGES = ("scikit-learn", "pandas")
SCRIPT = """
import sklearn.linear_model
import pandas

def init():
    pass

def run(raw_data):
    return {"sklearn": sklearn.__version__, "pandas": pandas.__version__}
"""


async def build(cache: EnvCache, reqs: RequirementSet) -> tuple[float, str]:
    started = time.perf_counter()
    env = await cache.ensure(reqs)
    return time.perf_counter() - started, env.python


async def start_worker(python: str | None, code: Path, sock_dir: Path, pythonpath: str, n: int) -> float:
    env = {**os.environ, "AML_APP_ROOT": str(code), "AZUREML_ENTRY_SCRIPT": "score.py", "PYTHONUNBUFFERED": "1"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    handle = WorkerHandle(
        name=f"bench-{n}",
        socket_path=sock_dir / f"w{n}.sock",
        log_path=sock_dir / f"w{n}.log",
        env=env,
        cores=(),
        load=Load("script", app_root=str(code), entry_script="score.py"),
        python=python,
    )
    started = time.perf_counter()
    await handle.start(timeout=120)
    took = time.perf_counter() - started
    await handle.stop()
    return took


async def main(rounds: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="modelyard-bench-envs-"))
    reqs = with_worker_needs(RequirementSet(requirements=PACKAGES, source="bench"))
    try:
        cold_uv = work / "uv-cold"
        os.environ["UV_CACHE_DIR"] = str(cold_uv)
        cold, python = await build(EnvCache(work / "cold", Installer()), reqs)
        warm, _ = await build(EnvCache(work / "warm", Installer()), reqs)
        cached_cache = EnvCache(work / "cold", Installer())
        cached, _ = await build(cached_cache, reqs)
        print(f"cold build (empty installer cache, downloads): {cold:.1f} s")
        print(f"warm build (installer cache kept, new env):   {warm:.2f} s")
        print(f"cached (the set built already):               {cached * 1000:.1f} ms")

        code = work / "code"
        code.mkdir()
        (code / "score.py").write_text(SCRIPT)
        # Today's shared environment: modelyard's own interpreter, with the same packages importable.
        site = next((Path(python).parent.parent / "lib").glob("python*/site-packages"))
        shared_path = str(site)
        env_path = cached_cache.worker_path()
        sock_dir = Path(tempfile.mkdtemp(prefix="mybe-"))
        shared_s, env_s = [], []
        for n in range(rounds):
            shared_s.append(await start_worker(None, code, sock_dir, f"{ROOT}{os.pathsep}{shared_path}", 2 * n))
            env_s.append(await start_worker(python, code, sock_dir, env_path, 2 * n + 1))
        shared_med, env_med = statistics.median(shared_s), statistics.median(env_s)
        print(f"worker start, shared environment: median {shared_med * 1000:.0f} ms of {rounds}")
        print(f"worker start, built environment:  median {env_med * 1000:.0f} ms of {rounds}")
        print(f"difference: {(env_med - shared_med) * 1000:+.0f} ms (target: under +1000 ms)")
        shutil.rmtree(sock_dir, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    asyncio.run(main(args.rounds))

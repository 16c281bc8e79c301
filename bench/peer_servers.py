"""The peer servers beside modelyard: MLServer and LitServe, each from its own virtual environment in bench/peers/.

bench/peers/setup.sh (run by bench/run.sh) builds bench/peers/.venv-<peer> from the pinned bench/peers/<peer>.txt;
their dependencies never enter modelyard's environment. Each server runs the digits sample through
bench/peers/digits_scoring.py (score.py's init() and run() steps) and is pinned like the others.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

from harness import BENCH, BenchError, Proc, free_port, one_core_env, wait_http
from servers import SCORE_SCRIPT, Target, model_dir

PEERS = BENCH / "peers"


def peer_python(peer: str) -> Path:
    """The interpreter of a peer's own virtual environment; a clear error when it is not built."""
    python = PEERS / f".venv-{peer}" / "bin" / "python"
    if not python.exists():
        raise BenchError(f"{python} is missing: build it with bench/peers/setup.sh {peer} (bench/run.sh does)")
    return python


def _peer_env(tmp: Path) -> dict[str, str]:
    # The runtime and API modules live in bench/peers; score.py finds its model through AZUREML_MODEL_DIR.
    return one_core_env(
        PYTHONPATH=str(PEERS), AZUREML_MODEL_DIR=str(model_dir(tmp)), BENCH_SCORE_SCRIPT=str(SCORE_SCRIPT)
    )


@contextlib.contextmanager
def start_mlserver(tmp: Path, core: str, parallel: bool) -> Iterator[Target]:
    """`mlserver start` on a folder holding settings.json and the digits model-settings.json.

    parallel: MLServer's default, its inference worker pool (parallel_workers left at its default, 1 worker);
    otherwise parallel_workers 0, inference in the server process itself.
    """
    python = peer_python("mlserver")
    name = "mlserver" if parallel else "mlserver-inproc"
    folder = tmp / name
    (folder / "digits").mkdir(parents=True)
    port = free_port()
    # Only what a second server on the same machine needs: free ports, the loopback host, and its metrics and
    # environments folders (by default .metrics and .envs in the working directory, the repository here) in the
    # temp folder.
    settings: dict[str, object] = {
        "host": "127.0.0.1",
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_port": free_port(),
        "metrics_dir": str(folder / ".metrics"),
        "environments_dir": str(folder / ".envs"),
    }
    if not parallel:
        settings["parallel_workers"] = 0
    (folder / "settings.json").write_text(json.dumps(settings, indent=2))
    model = {"name": "digits", "implementation": "mlserver_digits.DigitsScore"}
    (folder / "digits" / "model-settings.json").write_text(json.dumps(model, indent=2))
    cmd = ["taskset", "-c", core, str(python.parent / "mlserver"), "start", str(folder)]
    proc = Proc(f"MLServer ({name})", cmd, tmp / f"{name}.out", _peer_env(tmp))
    try:
        # The custom /score route exists once the model has loaded, which is when it reports ready.
        wait_http(proc, f"http://127.0.0.1:{port}/v2/models/digits/ready", lambda status: status == 200)
        headers = {"Content-Type": "application/json"}
        roles = ("mlserver", "inference worker") if parallel else ("mlserver", "-")
        yield Target(f"http://127.0.0.1:{port}/score", headers, proc, None, roles)
    finally:
        proc.stop()


@contextlib.contextmanager
def start_litserve(tmp: Path, core: str) -> Iterator[Target]:
    """bench/peers/litserve_digits.py: LitServer with its defaults, POST /predict."""
    python = peer_python("litserve")
    port = free_port()
    cmd = ["taskset", "-c", core, str(python), str(PEERS / "litserve_digits.py"), str(port)]
    proc = Proc("LitServe", cmd, tmp / "litserve.out", _peer_env(tmp))
    try:
        wait_http(proc, f"http://127.0.0.1:{port}/health", lambda status: status == 200)
        headers = {"Content-Type": "application/json"}
        roles = ("launcher", "API server + inference worker")
        yield Target(f"http://127.0.0.1:{port}/predict", headers, proc, None, roles)
    finally:
        proc.stop()


def peer_versions() -> dict[str, str]:
    """Versions of the peers (and their web stacks) in the environments that are built."""
    import importlib.metadata

    wanted = {"mlserver": ("mlserver", "fastapi"), "litserve": ("litserve", "fastapi")}
    out: dict[str, str] = {}
    for peer, dists in wanted.items():
        for site in sorted((PEERS / f".venv-{peer}" / "lib").glob("python*/site-packages")):
            found = {d.metadata["Name"].lower(): d.version for d in importlib.metadata.distributions(path=[str(site)])}
            for dist in dists:
                if dist in found:
                    out[f"{dist} ({peer} env)" if dist == "fastapi" else dist] = found[dist]
    return out

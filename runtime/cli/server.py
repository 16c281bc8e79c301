"""`modelyard serve` and `modelyard stop`: start the server; stop only the one that holds this state directory."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from runtime.cli.args import float_in, int_in, port
from runtime.errors import Unavailable
from runtime.statedir import ServerInfo, StateDir


def serve_command(args: argparse.Namespace) -> int:
    """Run the server in the foreground, or start it detached and return once it listens."""
    state = StateDir(args.state_dir)
    if args.detach:
        return _detach(state, args)
    from runtime import serve
    from runtime.api.limits import Limits
    from runtime.batch.runner import BatchOptions
    from runtime.envs.cache import EnvSettings

    limits = Limits(
        max_body=args.max_body_mib * 2**20,
        max_header_bytes=args.max_header_kib * 2**10,
        max_headers=args.max_headers,
        header_timeout_s=args.header_timeout,
        body_timeout_s=args.body_timeout,
    )
    batch = BatchOptions(idle_s=args.batch_idle, calm_s=args.low_priority_calm, ray_address=args.ray_address)
    return serve.run(
        state,
        args.host,
        args.port,
        args.server,
        args.token_lifetime,
        limits,
        batch,
        sample_period_s=args.sample_interval,
        scale_down_stabilization_s=args.scale_down_stabilization,
        envs=EnvSettings(
            find_links=tuple(os.path.abspath(p) for p in args.find_links),
            index_url=args.index_url,
            relax_pins=args.relax_pins,
        ),
    )


def _detach(state: StateDir, args: argparse.Namespace) -> int:
    from runtime.control.worker_handle import spawn_detached

    state.ensure()
    cmd = [sys.executable, "-m", "runtime", "serve", "--state-dir", str(state.root), "--host", args.host]
    cmd += ["--port", str(args.port), "--server", args.server, "--token-lifetime", str(args.token_lifetime)]
    cmd += ["--max-body-mib", str(args.max_body_mib), "--max-header-kib", str(args.max_header_kib)]
    cmd += ["--max-headers", str(args.max_headers), "--header-timeout", str(args.header_timeout)]
    cmd += ["--body-timeout", str(args.body_timeout), "--batch-idle", str(args.batch_idle)]
    cmd += ["--low-priority-calm", str(args.low_priority_calm), "--sample-interval", str(args.sample_interval)]
    cmd += ["--scale-down-stabilization", str(args.scale_down_stabilization)]
    if args.ray_address is not None:
        cmd += ["--ray-address", args.ray_address]
    for folder in args.find_links:
        cmd += ["--find-links", os.path.abspath(folder)]
    if args.index_url is not None:
        cmd += ["--index-url", args.index_url]
    if args.relax_pins:
        cmd.append("--relax-pins")
    try:
        proc = spawn_detached(cmd, state.serve_log)
    except OSError as exc:
        raise state.cannot_create(state.serve_log, exc) from None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = state.serve_log.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
            raise Unavailable(f"the server exited with status {proc.returncode}: {tail[0]}")
        info = state.read_server(strict=False)  # a stale, corrupt file is overwritten once the server is up
        if info is not None and info.pid == proc.pid:
            print(f"modelyard serving on {info.url} (pid {info.pid}); logs in {state.serve_log}")
            return 0
        time.sleep(0.1)
    proc.terminate()
    raise Unavailable(f"the server did not start within 60 s; see {state.serve_log}")


def stop_command(args: argparse.Namespace) -> int:
    """Stop the server of this state directory, after checking it is the one that holds it."""
    from runtime.control.worker_handle import terminate

    state = StateDir(args.state_dir)
    info = _running_server(state)
    if not terminate(info.pid):
        raise Unavailable(f"the server recorded in {state.server_file} (pid {info.pid}) exited before it was stopped")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and state.read_server(strict=False) is not None:
        time.sleep(0.1)
    print(f"stopped modelyard (pid {info.pid})")
    return 0


def _running_server(state: StateDir) -> ServerInfo:
    """The server recorded in server.json, once verified to be the one holding this state directory's serve.lock."""
    state.check()
    if not state.server_file.exists():
        raise Unavailable(f"no modelyard server is running for state directory {state.root}")
    # server.json may be stale or tampered with: only the holder of serve.lock is this directory's server, and a
    # pid taken on trust could be -1 (every process), 0 (our own group) or an unrelated process that reused it.
    if state.clear_stale_server():
        raise Unavailable(
            f"no modelyard server is running for state directory {state.root}; removed the stale {state.server_file}"
        )
    info = state.read_server()
    if info is None:
        raise Unavailable(f"the server of state directory {state.root} has not published its address yet; retry")
    if info.pid <= 1 or info.pid not in state.serve_lock_holders():
        raise Unavailable(
            f"{state.server_file} names pid {info.pid}, which does not match the running server of "
            f"{state.root} (the holder of {state.serve_lock.name}); nothing was signalled"
        )
    return info


def ray_address(text: str) -> str:
    """A Ray head's HOST:PORT, checked when the arguments are parsed."""
    from runtime.spec import split_ray_address

    try:
        split_ray_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def add_server_commands(groups: Any, common: argparse.ArgumentParser) -> None:
    """The `serve` and `stop` commands and their options, as subparsers of `groups`."""
    serve = groups.add_parser("serve", parents=[common], help="run the server (foreground, or --detach)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=port, default=8400, help="port (default 8400; 0 picks a free one)")
    serve.add_argument("--server", choices=["uvicorn", "hypercorn"], default="uvicorn", help="HTTP server")
    serve.add_argument("--detach", action="store_true", help="run in the background and return once it listens")
    serve.add_argument(
        "--token-lifetime",
        type=int_in(60, None, "at least 60 seconds"),
        default=3600,
        metavar="SECONDS",
        help="lifetime of aml_token tokens (default 3600)",
    )
    serve.add_argument(
        "--max-body-mib",
        # A body travels to the worker in one frame, and frames stop at 1 GiB.
        type=int_in(1, 1000, "1-1000"),
        default=100,
        metavar="MIB",
        help="largest scoring request body, 1-1000; bigger ones get 413 (default 100)",
    )
    serve.add_argument(
        "--max-header-kib",
        type=int_in(1, 1024, "1-1024"),
        default=32,
        metavar="KIB",
        help="largest request line plus headers, 1-1024; bigger ones get 431 (default 32)",
    )
    serve.add_argument(
        "--max-headers",
        type=int_in(1, 10000, "1-10000"),
        default=100,
        metavar="N",
        help="most header fields in a request, 1-10000; more get 431 (default 100)",
    )
    serve.add_argument(
        "--header-timeout",
        type=int_in(1, 3600, "1-3600 seconds"),
        default=10,
        metavar="SECONDS",
        help="time a client has to send a request's headers, 1-3600; then 408 and close (default 10)",
    )
    serve.add_argument(
        "--body-timeout",
        type=int_in(1, 3600, "1-3600 seconds"),
        default=30,
        metavar="SECONDS",
        help="longest pause inside a request body, 1-3600; then 408 and close (default 30)",
    )
    serve.add_argument(
        "--batch-idle",
        type=int_in(0, 86400, "0-86400 seconds"),
        default=60,
        metavar="SECONDS",
        help="how long a batch worker with no job waits for the next one before it stops, 0-86400 (default 60)",
    )
    serve.add_argument(
        "--low-priority-calm",
        type=int_in(0, 3600, "0-3600 seconds"),
        default=10,
        metavar="SECONDS",
        help="how long online load must stay calm before low-priority batch jobs resume, 0-3600 (default 10)",
    )
    serve.add_argument(
        "--ray-address",
        type=ray_address,
        metavar="HOST:PORT",
        help="the head of the Ray cluster that batch deployments with settings.executor=ray run on (default: none)",
    )
    serve.add_argument(
        "--sample-interval",
        type=float_in(0.1, 60, "0.1-60 seconds"),
        default=1.0,
        metavar="SECONDS",
        help="how often workers' CPU, memory and GPUs are sampled for status and /metrics, 0.1-60 (default 1)",
    )
    serve.add_argument(
        "--find-links",
        action="append",
        default=[],
        metavar="DIR",
        help="build environments from the wheels in DIR alone, with no package index (an `environment export` "
        "folder; repeatable)",
    )
    serve.add_argument(
        "--index-url",
        metavar="URL",
        help="the package index environments are built from (default: the installer's, PyPI)",
    )
    serve.add_argument(
        "--relax-pins",
        action="store_true",
        help="when a pinned version has no wheel for this Python, install the nearest version that has one",
    )
    serve.add_argument(
        "--scale-down-stabilization",
        type=int_in(0, 3600, "0-3600 seconds"),
        default=300,
        metavar="SECONDS",
        help="how far back target_utilization autoscaling looks before it removes instances, 0-3600 (default 300, "
        "Kubernetes' default)",
    )
    serve.set_defaults(handler=serve_command)
    groups.add_parser("stop", parents=[common], help="stop the running server").set_defaults(handler=stop_command)

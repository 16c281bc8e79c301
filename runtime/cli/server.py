"""`modelyard serve` and `modelyard stop`: start the server; stop only the one that holds this state directory."""

from __future__ import annotations

import argparse
import sys
import time

from runtime.errors import Unavailable
from runtime.statedir import ServerInfo, StateDir


def serve_command(args: argparse.Namespace) -> int:
    """Run the server in the foreground, or start it detached and return once it listens."""
    state = StateDir(args.state_dir)
    if args.detach:
        return _detach(state, args)
    from runtime import serve
    from runtime.api.limits import Limits

    limits = Limits(
        max_body=args.max_body_mib * 2**20,
        max_header_bytes=args.max_header_kib * 2**10,
        max_headers=args.max_headers,
        header_timeout_s=args.header_timeout,
        body_timeout_s=args.body_timeout,
    )
    return serve.run(state, args.host, args.port, args.server, args.token_lifetime, limits)


def _detach(state: StateDir, args: argparse.Namespace) -> int:
    from runtime.control.worker_handle import spawn_detached

    state.ensure()
    cmd = [sys.executable, "-m", "runtime", "serve", "--state-dir", str(state.root), "--host", args.host]
    cmd += ["--port", str(args.port), "--server", args.server, "--token-lifetime", str(args.token_lifetime)]
    cmd += ["--max-body-mib", str(args.max_body_mib), "--max-header-kib", str(args.max_header_kib)]
    cmd += ["--max-headers", str(args.max_headers), "--header-timeout", str(args.header_timeout)]
    cmd += ["--body-timeout", str(args.body_timeout)]
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

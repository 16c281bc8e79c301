"""`python -m runtime.worker --socket PATH --name NAME [--cores 0,1]`: one worker process."""

from __future__ import annotations

import argparse
import sys

from runtime.worker.pinning import parse_cores, pin


def main(argv: list[str] | None = None) -> int:
    """Pin, connect, load, serve; return the process exit status."""
    parser = argparse.ArgumentParser(prog="python -m runtime.worker", description=__doc__)
    parser.add_argument("--socket", required=True, help="Unix socket the control process listens on")
    parser.add_argument("--name", required=True, help="worker name, shown in every log line")
    parser.add_argument("--cores", type=parse_cores, help="CPU cores to pin to, e.g. 0,1 or 0-3")
    args = parser.parse_args(argv)
    # Pin first: numpy, onnxruntime and the user's code size their thread pools from the affinity they see.
    if args.cores is not None:
        pin(args.cores)

    import faulthandler
    import logging
    import os

    from runtime.worker import loop
    from runtime.worker.logfile import open_log, set_name
    from runtime.worker.logs import install_access_log

    faulthandler.enable()  # a segfault in native model code still leaves a stack in the log
    # stdout and stderr are the log file. Their streams drop what a full disk refuses instead of raising, so the
    # worker keeps serving (a user's print() in run() included); stdout is flushed per line so user print()s
    # interleave with our log records in order.
    set_name(args.name)
    sys.stdout = open_log(sys.stdout.fileno(), line_buffering=True)
    sys.stderr = open_log(sys.stderr.fileno(), line_buffering=True)
    # Per-record caller lookup and thread/process names cost more than the rest of a small request; the log
    # lines name the worker instead (logging's documented optimisation switches).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    # The handler gets its own block-buffered stream on stderr's file descriptor.
    stream = open_log(sys.stderr.fileno(), buffering=1 << 16)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(f"%(asctime)s {args.name} %(levelname)s [%(name)s] %(message)s"))
    logging.basicConfig(level=os.environ.get("AZUREML_LOG_LEVEL", "INFO").upper(), handlers=[handler])
    install_access_log(stream, args.name)
    try:
        sock = loop.connect(args.socket)
    except OSError as exc:
        logging.getLogger("modelyard.worker").error("Cannot connect to %s: %s", args.socket, exc)
        return 1
    try:
        with sock:
            return loop.serve(sock, handler.flush)
    finally:
        handler.flush()


if __name__ == "__main__":
    sys.exit(main())

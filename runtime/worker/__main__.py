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

    from runtime.worker import loop
    from runtime.worker.logsetup import log_to_stdio

    faulthandler.enable()  # a segfault in native model code still leaves a stack in the log
    handler = log_to_stdio(args.name)
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

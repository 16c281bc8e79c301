"""A worker process's logging: stdout, stderr and one log handler, all on the log file its fds 1 and 2 point at.

Shared by the subprocess worker (`python -m runtime.worker`, whose spawner opened the log as its stdout) and the
Ray actor (runtime.worker.ray_actor, which points its own fds at the log), so both write the same lines.
"""

from __future__ import annotations

import logging
import os
import sys

from runtime.worker.logfile import open_log, set_name
from runtime.worker.logs import install_access_log


def log_to_stdio(name: str) -> logging.Handler:
    """Route print(), tracebacks and logging to fds 1 and 2, every line naming `name`; the handler to flush."""
    # stdout and stderr are the log file. Their streams drop what a full disk refuses instead of raising, so the
    # worker keeps serving (a user's print() in run() included); stdout is flushed per line so user print()s
    # interleave with our log records in order.
    set_name(name)
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
    handler.setFormatter(logging.Formatter(f"%(asctime)s {name} %(levelname)s [%(name)s] %(message)s"))
    # force: a host process (a Ray worker) may have configured the root logger already.
    logging.basicConfig(level=os.environ.get("AZUREML_LOG_LEVEL", "INFO").upper(), handlers=[handler], force=True)
    install_access_log(stream, name)
    return handler

"""A batch scoring script: loaded as online scripts are, then init() once and run(mini_batch) per RunMiniBatch.

As in Azure's parallel-run worker, init() and every run() execute on one thread of their own, so the worker's main
thread stays free to answer pings while run() works; a watchdog gives up on a run() that outlives its mini-batch's
timeout and reports where it was stuck. Answers go out through the `answer` callable the serve loop passes in.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
import time
import traceback
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

import msgspec

from runtime.errors import Code
from runtime.ipc.framing import MAX_FRAME
from runtime.ipc.messages import Failure, Load, MiniBatchDone, RunMiniBatch
from runtime.worker import batch_rows, user_script
from runtime.worker.adapters import LoadError, export_env, log_model_tree

logger = logging.getLogger("modelyard.batch")

Answer = Callable[[msgspec.Struct], None]
#: Called from the watchdog thread with the mini-batch that overran and the stack of the stuck run() call.
OnTimeout = Callable[[RunMiniBatch, str], None]

#: How many of a mini-batch's files a log line names.
_NAMED_FILES = 3
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}
#: The frame the answer travels in must stay under the decoder's limit; the rest is the frame's own header.
_MAX_ANSWER = MAX_FRAME - 1024


class BatchScript:
    """The user's init() and run(), and the thread that calls them."""

    def __init__(self, init: Callable[[], Any], run: Callable[..., Any], answer: Answer, on_timeout: OnTimeout) -> None:
        self._init = init
        self._run = run
        self._answer = answer
        self._on_timeout = on_timeout
        self._queue: queue.SimpleQueue[RunMiniBatch | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._waiting = 0  #: submitted and not yet answered, the one in run() included
        self._current: RunMiniBatch | None = None  #: the mini-batch in run() now
        self._init_error: BaseException | None = None
        self._initialised = threading.Event()
        # A daemon: a run() that never returns must not keep the process alive once the main thread is done.
        self._thread = threading.Thread(target=self._work, name="batch-run", daemon=True)
        self._watchdog = _Watchdog(self._overran)

    @property
    def inflight(self) -> int:
        """Mini-batches submitted and not answered yet (queued, or in run())."""
        return self._waiting

    def start(self) -> None:
        """Start the thread and wait for init() there; ScriptError if it raised."""
        self._thread.start()
        self._watchdog.start()
        self._initialised.wait()
        if self._init_error is not None:
            raise self._init_error

    def submit(self, request: RunMiniBatch) -> None:
        """Queue one mini-batch; it is answered (MiniBatchDone or Failure) through `answer` once run() is done."""
        with self._lock:
            self._waiting += 1
        self._queue.put(request)

    def stop(self) -> None:
        """Let the queued mini-batches finish, then end the thread; returns when it has ended."""
        self._queue.put(None)
        self._thread.join()

    def _work(self) -> None:
        try:
            user_script.call_init(self._init)
        except BaseException as exc:
            self._init_error = exc
            return
        finally:
            self._initialised.set()
        while (request := self._queue.get()) is not None:
            answer = self._call(request)
            with self._lock:
                self._waiting -= 1
                overran = self._current is not request
                self._current = None
            if not overran:  # else the watchdog has answered it and the process is ending
                self._answer(answer)

    def _call(self, request: RunMiniBatch) -> msgspec.Struct:
        with self._lock:
            self._current = request
        started = time.perf_counter()
        files = request.files
        logger.info("Calling run() on mini-batch %d: %d file(s), %s", request.id, len(files), _files(files))
        self._watchdog.arm(request, request.timeout_s)
        try:
            result = self._run(list(request.files))
        except BaseException as exc:  # SystemExit too: a script's sys.exit() in run() fails only its mini-batch
            details = _user_traceback(exc)
            logger.error("run() failed on mini-batch %d: %s", request.id, details)
            return Failure(request.id, Code.INVALID_ARGUMENT.value, details)
        finally:
            self._watchdog.disarm()
        elapsed = time.perf_counter() - started
        try:
            text, rows = batch_rows.to_text(result)
        except batch_rows.WrongReturnType as exc:
            logger.error("run() on mini-batch %d: %s", request.id, exc)
            return Failure(request.id, Code.INVALID_ARGUMENT.value, str(exc))
        except Exception as exc:  # an element whose str() raises: the user's code again
            details = _user_traceback(exc)
            logger.error("run() on mini-batch %d returned a value that cannot be written: %s", request.id, details)
            return Failure(request.id, Code.INVALID_ARGUMENT.value, details)
        if len(text) > _MAX_ANSWER:
            message = (
                f"run() returned more than {_MAX_ANSWER >> 20} MiB of rows for mini-batch {request.id}; "
                "use a smaller mini_batch_size, or write the output with summary_only"
            )
            logger.error("%s", message)
            return Failure(request.id, Code.TOO_LARGE.value, message)
        logger.info(
            "run() on mini-batch %d returned %d row(s) for %d file(s) in %.3f s",
            request.id,
            rows,
            len(request.files),
            elapsed,
        )
        return MiniBatchDone(request.id, text, rows)

    def _overran(self, request: RunMiniBatch) -> None:
        with self._lock:
            if self._current is not request:
                return  # run() returned as the timer fired
            self._current = None
        frame = sys._current_frames().get(self._thread.ident or -1)
        self._on_timeout(request, _user_stack(frame))


class _Watchdog:
    """One thread that calls `expired(request)` when the armed deadline passes before it is disarmed.

    One long-lived thread rather than a threading.Timer per run(): starting a thread per mini-batch cost about a
    millisecond, five times the rest of a small mini-batch's round trip.
    """

    def __init__(self, expired: Callable[[RunMiniBatch], None]) -> None:
        self._expired = expired
        self._cond = threading.Condition()
        self._request: RunMiniBatch | None = None
        self._deadline = 0.0
        self._thread = threading.Thread(target=self._watch, name="batch-watchdog", daemon=True)

    def start(self) -> None:
        """Start the thread; nothing is armed yet."""
        self._thread.start()

    def arm(self, request: RunMiniBatch, seconds: float) -> None:
        """Watch `request` for `seconds` from now."""
        with self._cond:
            self._request, self._deadline = request, time.monotonic() + seconds
            self._cond.notify()

    def disarm(self) -> None:
        """Stop watching (run() returned)."""
        with self._cond:
            self._request = None

    def _watch(self) -> None:
        while True:
            with self._cond:
                while self._request is None or (left := self._deadline - time.monotonic()) > 0:
                    self._cond.wait(None if self._request is None else left)
                request, self._request = self._request, None
            self._expired(request)


def timeout_failure(request: RunMiniBatch, stack: str) -> Failure:
    """The answer to a mini-batch whose run() overran its timeout: where run() was stuck; logged at ERROR too."""
    message = f"run() did not return within the mini-batch timeout of {request.timeout_s:g} s; it was at:\n{stack}"
    logger.error("Mini-batch %d timed out; the worker exits. %s", request.id, message)
    return Failure(request.id, Code.TIMEOUT.value, message)


def load(load: Load, answer: Answer, on_timeout: OnTimeout) -> BatchScript:
    """Import the batch script the Load names and run its init(); LoadError (details in the log) if either fails.

    AZUREML_BI_OUTPUT_PATH is set (and its folder made) before the script is imported, and the script sees the
    deployment's logging_level as `--logging_level=<level>` in sys.argv, where Azure's examples parse it.
    """
    export_env(load)
    try:
        _prepare(load)
        app_root = load.app_root or os.environ.get("AML_APP_ROOT") or os.getcwd()
        entry = load.entry_script or os.environ.get("AZUREML_ENTRY_SCRIPT")
        module = user_script.import_entry(app_root, entry)
        logger.info("Found batch scoring script at %s", getattr(module, "__file__", entry))
        script = BatchScript(module.init, module.run, answer, on_timeout)
        script.start()
    except Exception as exc:
        logger.error("Loading the batch script failed: %s", traceback.format_exc())
        log_model_tree(load.model_dir or os.environ.get("AZUREML_MODEL_DIR", ""))
        raise LoadError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from exc
    return script


def _prepare(load: Load) -> None:
    level = load.logging_level.lower()
    if level not in _LEVELS:
        raise ValueError(f"logging_level {load.logging_level!r} is not one of {', '.join(_LEVELS)}")
    logging.getLogger().setLevel(_LEVELS[level])
    if load.output_path:
        try:
            os.makedirs(load.output_path, exist_ok=True)
        except OSError as exc:
            raise OSError(f"cannot create the output folder {load.output_path}: {exc.strerror or exc}") from exc
    # Azure's engine passes its settings to the entry script on the command line; scripts read logging_level there.
    entry = load.entry_script or os.environ.get("AZUREML_ENTRY_SCRIPT") or "main.py"
    sys.argv = [os.path.join(load.app_root or "", entry), f"--logging_level={load.logging_level}"]


def _user_stack(frame: FrameType | None) -> str:
    # From the user's run() down: the thread's start and the worker's own call into run() are noise to the user.
    if frame is None:
        return "(no stack)\n"
    stack = traceback.extract_stack(frame)
    for index, entry in enumerate(stack):
        if entry.filename == __file__ and entry.name == "_call":
            stack = traceback.StackSummary.from_list(stack[index + 1 :])
            break
    return "".join(stack.format())


def _files(files: list[str]) -> str:
    named = ", ".join(files[:_NAMED_FILES])
    return named + (f" and {len(files) - _NAMED_FILES} more" if len(files) > _NAMED_FILES else "")


def _user_traceback(exc: BaseException) -> str:
    # Starts at the user's frame: the worker's own call into run() says nothing the user can act on.
    tb: TracebackType | None = exc.__traceback__
    if tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))

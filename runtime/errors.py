"""One error tree for the whole runtime.

    ModelyardError(code, message)
     ├── SpecError          a YAML file or --set override does not match the schema (INVALID_ARGUMENT)
     ├── NotFound           no such endpoint, deployment, model or job (NOT_FOUND)
     ├── Conflict           the name exists, or the change clashes with current state (CONFLICT)
     ├── Unauthenticated    missing or wrong key or token (UNAUTHENTICATED)
     ├── Unavailable        nothing can take the request now (UNAVAILABLE)
     ├── WorkerStartError   a worker did not get to Ready: init() failed, it crashed, or it took too long
     ├── Overloaded         more requests in flight than the deployment admits (OVERLOADED)
     ├── Timeout            the request outlived request_timeout_ms (TIMEOUT)
     ├── WorkerLost         the worker process ended while it held the request (WORKER_LOST)
     ├── StorageError       the state directory cannot be written (INSUFFICIENT_STORAGE when it is full)
     └── BuildError         an environment could not be built from its requirements (INVALID_ARGUMENT)

Every error carries a protocol-neutral `Code`; `runtime.api.errors` maps codes to HTTP statuses in one table.
"""

from __future__ import annotations

import enum
import errno
import os
import shutil
import sqlite3


class Code(enum.StrEnum):
    """Protocol-neutral error codes; the HTTP mapping lives in runtime.api.errors."""

    INVALID_ARGUMENT = "invalid_argument"  #: the caller's input is wrong; retrying it unchanged fails again
    UNAUTHENTICATED = "unauthenticated"  #: no credentials, or wrong ones
    NOT_FOUND = "not_found"  #: the named resource does not exist, or nothing takes traffic
    CONFLICT = "conflict"  #: the resource exists already, or the change clashes with current state
    TIMEOUT = "timeout"  #: the request outlived its deadline
    UPSTREAM_TIMEOUT = "upstream_timeout"  #: the same, reported as a gateway does (Kubernetes endpoints)
    MODEL_ERROR = "model_error"  #: the scoring container answered other than 200 (relayed with its body)
    UPSTREAM_MODEL_ERROR = "upstream_model_error"  #: it answered 5xx, reported as a gateway does (Kubernetes)
    OVERLOADED = "overloaded"  #: too many requests in flight; retry later
    UNAVAILABLE = "unavailable"  #: no ready worker can take the request now
    WORKER_LOST = "worker_lost"  #: the worker process died while holding the request
    PLACEMENT = "placement"  #: the machine has no room for the requested cores or GPUs
    UNSUPPORTED = "unsupported"  #: the resource exists but does not take that operation
    TOO_LARGE = "too_large"  #: the request body is over the server's limit
    INSUFFICIENT_STORAGE = "insufficient_storage"  #: the disk (or quota) of the state directory is full
    INTERNAL = "internal"  #: a bug in modelyard


class ModelyardError(Exception):
    """Base of every error the runtime raises on purpose."""

    code: Code = Code.INTERNAL

    def __init__(self, message: str, *, code: Code | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class SpecError(ModelyardError):
    """A spec file or override is invalid; the message names the file, the $.path and what is allowed."""

    code = Code.INVALID_ARGUMENT


class NotFound(ModelyardError):
    """The named endpoint, deployment or model does not exist."""

    code = Code.NOT_FOUND


class Conflict(ModelyardError):
    """The resource exists already, or the change clashes with the current state."""

    code = Code.CONFLICT


class Unauthenticated(ModelyardError):
    """The request carried no valid key or token."""

    code = Code.UNAUTHENTICATED


class Unavailable(ModelyardError):
    """No worker can take the request now."""

    code = Code.UNAVAILABLE


class WorkerStartError(ModelyardError):
    """The worker did not get to Ready: init() failed, it crashed, or it took too long."""

    code = Code.UNAVAILABLE


class Overloaded(ModelyardError):
    """More requests in flight than the deployment admits."""

    code = Code.OVERLOADED


class Timeout(ModelyardError):
    """The request outlived request_timeout_ms."""

    code = Code.TIMEOUT


class WorkerLost(ModelyardError):
    """The worker process ended while it held the request."""

    code = Code.WORKER_LOST


class PlacementError(ModelyardError):
    """The allocator cannot place the instances under the requested placement policy."""

    code = Code.PLACEMENT


class StorageError(ModelyardError):
    """Something in the state directory could not be written or read."""

    code = Code.INTERNAL


class BuildError(ModelyardError):
    """An environment's requirements could not be installed; the message says which and why, the log has the rest."""

    code = Code.INVALID_ARGUMENT

    def __init__(self, message: str, *, log: str | None = None, code: Code | None = None) -> None:
        super().__init__(message if log is None else f"{message} (build log: {log})", code=code)
        self.log = log


#: errno values that mean "no room": the disk is full, or the user's quota is used up.
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


def storage_error(exc: BaseException) -> StorageError | None:
    """The error to report for a failed file or database operation; None when `exc` is neither."""
    if isinstance(exc, shutil.Error) and exc.args and isinstance(exc.args[0], list) and exc.args[0]:
        # copytree gathers its failures as (source, destination, str(error)): the errno survives only as text.
        _, dest, why = exc.args[0][0]
        full = any(os.strerror(n) in str(e[-1]) for e in exc.args[0] for n in _NO_SPACE)
        if full:
            return storage_error(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), dest))
        return StorageError(f"cannot copy to {dest}: {why}")
    if isinstance(exc, OSError):
        what = f" {exc.filename}" if exc.filename else ""
        why = exc.strerror or str(exc)
        if exc.errno in _NO_SPACE:
            return StorageError(
                f"cannot write{what}: {why}; free space on the state directory's disk and try again",
                code=Code.INSUFFICIENT_STORAGE,
            )
        return StorageError(f"cannot access{what}: {why}")
    if isinstance(exc, sqlite3.Error):
        if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
            return StorageError(
                f"the state database cannot grow ({exc}); free space on the state directory's disk and try again",
                code=Code.INSUFFICIENT_STORAGE,
            )
        if isinstance(exc, sqlite3.OperationalError):
            return StorageError(f"the state database failed: {exc}")
    return None

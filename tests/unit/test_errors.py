"""Failed file and database operations become errors with a code: 507 when the disk is full, 500 otherwise."""

from __future__ import annotations

import errno
import shutil
import sqlite3
from pathlib import Path

import pytest

from runtime.api.errors import status_for
from runtime.errors import Code, storage_error


@pytest.mark.parametrize("number", [errno.ENOSPC, errno.EDQUOT])
def test_no_space_or_no_quota_is_insufficient_storage(number: int) -> None:
    error = storage_error(OSError(number, "No space left on device", "/state/snapshots/x"))
    assert error is not None and error.code is Code.INSUFFICIENT_STORAGE and status_for(error.code) == 507
    assert error.message.startswith("cannot write /state/snapshots/x: No space left on device; free space")


def test_other_os_errors_are_internal() -> None:
    error = storage_error(PermissionError(errno.EACCES, "Permission denied", "/state/x"))
    assert error is not None and error.code is Code.INTERNAL and status_for(error.code) == 500
    assert error.message == "cannot access /state/x: Permission denied"
    assert storage_error(ValueError("not a storage error")) is None


def test_a_copytree_that_ran_out_of_space_is_insufficient_storage(tmp_path: Path) -> None:
    failed = shutil.Error([("a/s.py", "/state/s.py", "[Errno 28] No space left on device: '/state/s.py'")])
    error = storage_error(failed)
    assert error is not None and error.code is Code.INSUFFICIENT_STORAGE
    assert error.message.startswith("cannot write /state/s.py: No space left on device")
    other = storage_error(shutil.Error([("a", "/state/b", "[Errno 13] Permission denied: '/state/b'")]))
    assert other is not None and other.code is Code.INTERNAL


def test_a_full_database_is_insufficient_storage() -> None:
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = sqlite3.SQLITE_FULL  # type: ignore[attr-defined]
    error = storage_error(full)
    assert error is not None and error.code is Code.INSUFFICIENT_STORAGE
    broken = storage_error(sqlite3.OperationalError("disk I/O error"))
    assert broken is not None and broken.code is Code.INTERNAL

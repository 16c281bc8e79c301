"""The worker's log streams on a descriptor that refuses writes (/dev/full) and then takes them again."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.worker import logfile


@pytest.fixture
def full_fd() -> Iterator[int]:
    """A descriptor on /dev/full: every write fails with ENOSPC, as on a full disk."""
    fd = os.open("/dev/full", os.O_WRONLY)
    try:
        yield fd
    finally:
        os.close(fd)


def _make_room(fd: int, log: Path) -> None:
    """Point `fd` at a real file: the disk has room again."""
    target = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(target, fd)
    os.close(target)


def test_lines_a_full_disk_refuses_are_dropped_and_reported_once_writes_succeed(full_fd: int, tmp_path: Path) -> None:
    logfile.set_name("blue-0")
    stream = logfile.open_log(full_fd, buffering=1 << 16)
    printed = logfile.open_log(full_fd, line_buffering=True)
    for i in range(5):
        stream.write(f"buffered {i}\n")
    stream.flush()  # raises OSError with a plain stream: the worker died here
    print("from the user's run()", file=printed)
    assert logfile.lost_lines() == 6

    log = tmp_path / "worker.log"
    _make_room(full_fd, log)
    stream.write("after\n")
    stream.flush()
    stream.write("and again\n")
    stream.flush()
    lines = log.read_text().splitlines()
    assert len(lines) == 3, lines
    assert " blue-0 WARNING [modelyard.worker] The log lost 6 lines " in lines[0]
    assert "No space left on device" in lines[0]
    assert lines[1:] == ["after", "and again"]
    assert logfile.lost_lines() == 0


def test_a_notice_that_cannot_be_written_keeps_counting(full_fd: int, tmp_path: Path) -> None:
    stream = logfile.open_log(full_fd, line_buffering=True)
    stream.write("one\n")
    stream.write("two\n")
    assert logfile.lost_lines() == 2
    stream.write("three\n")  # the notice is tried first and fails too: nothing is reported twice or forgotten
    assert logfile.lost_lines() == 3
    log = tmp_path / "worker.log"
    _make_room(full_fd, log)
    stream.write("four\n")
    lines = log.read_text().splitlines()
    assert "The log lost 3 lines" in lines[0] and lines[1:] == ["four"], lines

from pathlib import Path

from runtime.control.logfiles import rotate, rotate_all, rotated, tail


def test_tail_returns_the_last_lines_across_block_boundaries(tmp_path: Path) -> None:
    log = tmp_path / "w.log"
    log.write_text("".join(f"line {i} " + "x" * 100 + "\n" for i in range(1000)))
    out = tail(log, 50).splitlines()
    assert len(out) == 50 and out[0].startswith("line 950 ") and out[-1].startswith("line 999 ")


def test_tail_of_a_short_file_and_of_zero_lines(tmp_path: Path) -> None:
    log = tmp_path / "w.log"
    log.write_text("a\nb")
    assert tail(log, 10) == "a\nb\n"
    assert tail(log, 0) == ""


def test_a_log_over_the_limit_is_rotated_and_the_writer_carries_on_at_its_start(tmp_path: Path) -> None:
    log = tmp_path / "blue-0.log"
    with open(log, "ab", buffering=0) as writer:  # the worker's stdout/stderr, opened in append mode
        writer.write(b"".join(b"old %d\n" % i for i in range(100)))
        assert rotate_all([log, tmp_path / "gone.log"], max_bytes=200) == [log]
        writer.write(b"new 0\n")
    # No hole of NULs where the old content was: append mode writes at the new end of the emptied file.
    assert log.read_bytes() == b"new 0\n"
    assert rotated(log).read_text().splitlines()[-1] == "old 99"
    # get-logs reaches into the older part when the current one is short.
    assert tail(log, 3) == "old 98\nold 99\nnew 0\n"
    assert not rotate(log, max_bytes=200)

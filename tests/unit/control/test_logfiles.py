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


def test_tail_of_long_lines_and_multibyte_characters_across_block_boundaries(tmp_path: Path) -> None:
    log = tmp_path / "w.log"
    # Lines of 3001 bytes of two-byte characters: 64 KiB blocks end inside lines and inside characters.
    lines = [f"{i:04d}" + "é" * 1498 + "x" for i in range(300)]
    log.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    assert tail(log, 100) == "".join(line + "\n" for line in lines[-100:])
    assert tail(log, 1000) == "".join(line + "\n" for line in lines)


def test_tail_without_a_trailing_newline_with_crlf_and_blank_lines(tmp_path: Path) -> None:
    log = tmp_path / "w.log"
    log.write_bytes(b"one\r\ntwo\r\n\r\nthree")
    assert tail(log, 2) == "\nthree\n"
    assert tail(log, 10) == "one\ntwo\n\nthree\n"
    log.write_bytes(b"only\n\n")
    assert tail(log, 1) == "\n"
    assert tail(log, 5) == "only\n\n"


def test_tail_of_an_empty_log_reads_the_older_part(tmp_path: Path) -> None:
    log = tmp_path / "w.log"
    log.write_bytes(b"")
    assert tail(log, 5) == ""
    rotated(log).write_bytes(b"a\nb\nc\n")
    assert tail(log, 2) == "b\nc\n"
    log.write_bytes(b"d")
    assert tail(log, 3) == "b\nc\nd\n"
    assert tail(log, 100) == "a\nb\nc\nd\n"


def test_tail_caps_the_lines_and_the_bytes_it_reads_and_says_so(tmp_path: Path) -> None:
    log = tmp_path / "w.log"
    log.write_text("".join(f"line {i:05d}\n" for i in range(20_000)))  # 11 bytes a line
    capped = tail(log, 50, max_lines=10).splitlines()
    assert capped[0] == "==== modelyard: at most 10 lines are shown; 50 were asked for ===="
    assert capped[1:] == [f"line {i:05d}" for i in range(19_990, 20_000)]
    # 128 KiB hold 11915 lines of 11 bytes and a piece of one more, which is dropped rather than shown cut.
    short = tail(log, 20_000, max_lines=20_000, max_bytes=2**17).splitlines()
    assert short[0] == (
        "==== modelyard: only the last 11915 lines are shown: get-logs reads at most 131072 bytes of a log ===="
    )
    assert short[1:] == [f"line {i:05d}" for i in range(20_000 - 11915, 20_000)]

from pathlib import Path

from runtime.control.logfiles import tail


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

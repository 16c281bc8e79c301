import pytest

from runtime.cli import _parser, main


def test_state_dir_and_output_work_before_and_after_the_verb() -> None:
    before = _parser().parse_args(["--state-dir", "/a", "-o", "table", "online-endpoint", "list"])
    after = _parser().parse_args(["online-endpoint", "list", "--state-dir", "/b"])
    neither = _parser().parse_args(["online-endpoint", "list"])
    assert (before.state_dir, before.output) == ("/a", "table")
    assert (after.state_dir, after.output) == ("/b", "json")
    assert (neither.state_dir, neither.output) == (None, "json")


def test_without_a_server_commands_fail_with_one_line(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["online-endpoint", "list", "--state-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no modelyard server is running" in err[0] and "modelyard serve" in err[0]


def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["online-deployment", "show", "-n", "blue"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--endpoint-name" in err[0] and "--help" in err[0]

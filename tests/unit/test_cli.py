import fcntl
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_api import fake_api, json_answer

from runtime import cli
from runtime.cli import _parser, main
from runtime.control import worker_handle
from runtime.errors import ModelyardError
from runtime.statedir import ServerInfo, StateDir, flock_holders


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


# --- bad input: one line, non-zero, nothing lost, never a traceback --------------------------------------------


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


def _usage_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    return _one_line(capsys.readouterr().err)


def _fails(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 1
    return _one_line(capsys.readouterr().err)


def _server_json(state: Path, pid: int, url: str = "http://127.0.0.1:9") -> None:
    state.mkdir(exist_ok=True)
    (state / "server.json").write_text(json.dumps({"url": url, "pid": pid, "server": "uvicorn"}))
    (state / "admin-token").write_text("token")


_REAL_KILL = os.kill


@pytest.fixture
def unrelated_pid() -> Iterator[int]:
    """A live process that has nothing to do with modelyard, as a reused pid would be."""
    with subprocess.Popen(["sleep", "60"]) as other:
        yield other.pid
        _REAL_KILL(other.pid, signal.SIGKILL)  # os.kill may be patched away by no_signals


@pytest.fixture
def no_signals(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record what `stop` would signal; nothing is ever sent, even if the pid check regresses."""
    sent: list[int] = []

    def refuse(pid: int, *_: object) -> bool:
        sent.append(pid)
        raise AssertionError(f"stop signalled pid {pid}")

    monkeypatch.setattr(worker_handle, "terminate", refuse)
    monkeypatch.setattr(os, "kill", refuse)
    monkeypatch.setattr(os, "killpg", refuse)
    return sent


@pytest.fixture
def held_lock(tmp_path: Path) -> Iterator[Path]:
    """A state directory whose serve.lock this test process holds, as a running server would."""
    state = tmp_path / "state"
    state.mkdir()
    with open(state / "serve.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield state


@pytest.mark.parametrize("pid", [-1, 0, 1, 2**70, "other"])
def test_stop_signals_nothing_unless_server_json_names_the_lock_holder(
    held_lock: Path,
    unrelated_pid: int,
    no_signals: list[int],
    capsys: pytest.CaptureFixture[str],
    pid: int | str,
) -> None:
    _server_json(held_lock, unrelated_pid if pid == "other" else int(pid))
    line = _fails(capsys, ["stop", "--state-dir", str(held_lock)])
    assert no_signals == []
    assert "server.json" in line and "does not match the running server" in line and "nothing was signalled" in line
    assert (held_lock / "server.json").exists()


def test_stop_signals_the_verified_holder_of_serve_lock(
    held_lock: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _server_json(held_lock, os.getpid())
    sent: list[int] = []

    def server_exits(pid: int) -> bool:
        sent.append(pid)
        (held_lock / "server.json").unlink()
        return True

    monkeypatch.setattr(worker_handle, "terminate", server_exits)
    assert main(["stop", "--state-dir", str(held_lock)]) == 0
    assert sent == [os.getpid()] and "stopped modelyard" in capsys.readouterr().out


@pytest.mark.parametrize("pid", [-1, 0, 2**70])
def test_stop_without_a_server_removes_a_stale_server_json(
    tmp_path: Path, no_signals: list[int], capsys: pytest.CaptureFixture[str], pid: int
) -> None:
    _server_json(tmp_path, pid)
    line = _fails(capsys, ["stop", "--state-dir", str(tmp_path)])
    assert no_signals == [] and not (tmp_path / "server.json").exists()
    assert "no modelyard server is running" in line and "removed the stale" in line
    with open(tmp_path / "serve.lock") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the probe lock was released


def test_stop_refuses_a_corrupt_server_json_while_a_server_holds_the_lock(
    held_lock: Path, no_signals: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    _server_json(held_lock, os.getpid(), url="ftp://elsewhere")
    line = _fails(capsys, ["stop", "--state-dir", str(held_lock)])
    assert no_signals == [] and "server.json is corrupt" in line and "http://" in line


def test_flock_holders_reads_granted_exclusive_flocks_of_one_inode() -> None:
    table = (
        "1: POSIX  ADVISORY  WRITE 10 fe:00:77 0 EOF\n"
        "2: FLOCK  ADVISORY  WRITE 11 fe:00:77 0 EOF\n"
        "2: -> FLOCK  ADVISORY  WRITE 12 fe:00:77 0 EOF\n"
        "3: FLOCK  ADVISORY  READ  13 fe:00:77 0 EOF\n"
        "4: FLOCK  ADVISORY  WRITE 14 fe:00:78 0 EOF\n"
    )
    assert list(flock_holders(table, 77)) == [11]


@pytest.mark.parametrize(
    "argv",
    [
        ["online-endpoint", "create", "-f", "{file}"],
        ["online-endpoint", "update", "-n", "digits", "-f", "{file}"],
        ["online-deployment", "create", "-f", "{file}", "-e", "digits"],
        ["online-deployment", "create", "-f", "{file}"],
        ["online-deployment", "update", "-n", "blue", "-e", "digits", "-f", "{file}"],
        ["model", "create", "-f", "{file}"],
    ],
)
def test_a_spec_file_that_is_not_utf8_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    binary = tmp_path / "blob.yml"
    binary.write_bytes(b"\xff\xfe\x00\x01name: x\n")
    line = _fails(capsys, [arg.format(file=binary) for arg in argv] + ["--state-dir", str(tmp_path)])
    assert f"cannot read {binary}: not UTF-8 text" in line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: [blue\n", "line 2, column 1: invalid YAML"),
        ("- blue\n- green\n", "expected a mapping of `key: value` lines, got a list"),
        ("name: blue\nendpoint_name: a/b\n", "$.endpoint_name: 'a/b' is not a valid name"),
    ],
)
def test_deployment_yaml_errors_are_reported_without_e(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    spec = tmp_path / "dep.yml"
    spec.write_text(text)
    line = _fails(capsys, ["online-deployment", "create", "-f", str(spec), "--state-dir", str(tmp_path)])
    assert line.startswith(f"modelyard: error: {spec}: ") and expected in line


@pytest.mark.parametrize(
    "argv",
    [
        ["online-endpoint", "show", "-n", ""],
        ["online-endpoint", "delete", "-n", " "],
        ["online-endpoint", "create", "-f", "e.yml", "-n", ""],
        ["online-endpoint", "invoke", "-n", "", "-r", "r.json"],
        ["online-endpoint", "invoke", "-n", "digits", "-r", ""],
        ["online-deployment", "show", "-n", "", "-e", "digits"],
        ["online-deployment", "show", "-n", "blue", "-e", "\t"],
        ["online-deployment", "delete", "-n", "", "-e", "digits"],
        ["online-deployment", "list", "-e", ""],
        ["online-deployment", "get-logs", "-n", "", "-e", "digits"],
        ["online-deployment", "create", "-f", "d.yml", "-e", ""],
        ["model", "list", "-n", ""],
        ["model", "create", "-f", "m.yml", "-v", ""],
    ],
)
def test_empty_names_are_refused_before_any_request(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    line = _usage_error(capsys, argv)
    assert "must not be empty" in line and (
        "--name" in line or "--endpoint-name" in line or "-file" in line or "-v" in line
    )


def test_a_slash_in_a_name_cannot_change_the_route(capsys: pytest.CaptureFixture[str]) -> None:
    line = _usage_error(capsys, ["online-endpoint", "delete", "-n", "fix/deployments/blue"])
    assert "-n/--name" in line and "must not contain '/'" in line and "3-32 characters" in line


@pytest.mark.parametrize("bad", ["a\nb", "a b", "blü", "x"])
def test_invoke_deployment_name_must_be_a_valid_header(capsys: pytest.CaptureFixture[str], bad: str) -> None:
    line = _usage_error(capsys, ["online-endpoint", "invoke", "-n", "digits", "-r", "r.json", "-d", bad])
    assert "-d/--deployment-name" in line and "is not a valid deployment name" in line


@pytest.mark.parametrize(
    ("argv", "flag", "rule"),
    [
        (["online-endpoint", "create", "-n", "café-ep"], "-n/--name", "not a valid endpoint name; names are 3-32"),
        (["online-endpoint", "create", "-n", "ab"], "-n/--name", "not a valid endpoint name; names are 3-32"),
        (["online-deployment", "create", "-f", "d.yml", "-n", "日本語"], "-n/--name", "valid deployment name"),
        (["model", "create", "-n", "модель", "-p", "m"], "-n/--name", "not a valid model name or version; use"),
        (["model", "create", "-n", "m", "-v", "../1", "-p", "m"], "-v/--version", "valid model name or version"),
        (["model", "show", "-n", "m", "-v", "../1"], "-v/--version", "use letters, digits, '_', '.' and '-'"),
        (["model", "delete", "-n", "m/x", "-v", "1", "-y"], "-n/--name", "valid model name or version"),
        (["model", "show", "-n", "m", "-l", "bogus"], "-l/--label", "invalid choice: 'bogus' (choose from 'latest')"),
    ],
)
def test_names_a_command_would_create_or_look_up_follow_their_rule(
    capsys: pytest.CaptureFixture[str], argv: list[str], flag: str, rule: str
) -> None:
    line = _usage_error(capsys, argv)
    assert f"argument {flag}:" in line and rule in line


@pytest.mark.parametrize("port", ["99999", "-5", "65536", "http"])
def test_serve_port_must_be_0_to_65535(capsys: pytest.CaptureFixture[str], port: str) -> None:
    line = _usage_error(capsys, ["serve", "--port", port])
    assert "--port" in line and "must be 0-65535" in line


@pytest.mark.parametrize(
    ("flag", "value"), [("--max-body-mib", "0"), ("--max-body-mib", "2048"), ("--token-lifetime", "5")]
)
def test_serve_limits_must_be_in_range(capsys: pytest.CaptureFixture[str], flag: str, value: str) -> None:
    line = _usage_error(capsys, ["serve", flag, value])
    assert flag in line and "must be" in line and repr(value) in line


@pytest.mark.parametrize(
    ("flag", "value", "rule"),
    [("--lines", "-1", "positive"), ("--lines", "0", "positive"), ("--instance", "-1", "non-negative")],
)
def test_get_logs_counts_must_be_in_range(capsys: pytest.CaptureFixture[str], flag: str, value: str, rule: str) -> None:
    line = _usage_error(capsys, ["online-deployment", "get-logs", "-n", "blue", "-e", "digits", flag, value])
    assert flag in line and f"must be a {rule} integer" in line


@pytest.mark.parametrize(
    "argv",
    [["online-endpoint", "list"], ["stop"], ["serve", "--detach"], ["serve"]],
)
def test_a_state_dir_that_is_a_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    assert f"state directory {not_a_dir} is not a directory" in _fails(capsys, [*argv, "--state-dir", str(not_a_dir)])
    below = not_a_dir / "state"
    line = _fails(capsys, [*argv, "--state-dir", str(below)])
    assert str(below) in line and f"{not_a_dir} is not a directory" in line


def test_a_state_dir_where_files_cannot_be_created_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    line = _fails(capsys, ["serve", "--detach", "--state-dir", "/proc/self"])
    assert f"cannot use state directory /proc/{os.getpid()}: cannot create serve.log" in line


@pytest.mark.parametrize(
    ("token", "why"),
    [
        (b"\xff\xfe", "not UTF-8 text"),
        (None, "Is a directory"),
        (b"two words", "expected one line of printable ASCII"),
        (b"line\nbreak", "expected one line of printable ASCII"),
        ("tok\u00e9n".encode(), "expected one line of printable ASCII"),
    ],
)
def test_an_unreadable_admin_token_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], token: bytes | None, why: str
) -> None:
    _server_json(tmp_path, 12345)
    (tmp_path / "admin-token").unlink()
    if token is None:
        (tmp_path / "admin-token").mkdir()
    else:
        (tmp_path / "admin-token").write_bytes(token)
    line = _fails(capsys, ["online-endpoint", "list", "--state-dir", str(tmp_path)])
    assert f"cannot read the admin token {tmp_path / 'admin-token'}: {why}" in line


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1:9", "127.0.0.1:8400", "http://", "http://127.0.0.1:99999", "http://a b:1", "http://h:1\n"]
)
def test_a_server_json_without_an_http_url_is_corrupt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    _server_json(tmp_path, 12345, url=url)
    line = _fails(capsys, ["online-endpoint", "list", "--state-dir", str(tmp_path)])
    assert f"{tmp_path / 'server.json'} is corrupt" in line and "not an http://host:port URL" in line


def test_os_and_value_errors_from_a_command_are_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(_: object) -> None:
        raise ValueError("Invalid header value b'x\\n'")

    monkeypatch.setattr(cli, "_endpoint_list", broken)
    assert "Invalid header value" in _fails(capsys, ["online-endpoint", "list"])


def test_names_are_percent_encoded_in_url_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with fake_api(tmp_path, json_answer({"primaryKey": "k"})) as calls:
        request = tmp_path / "r.json"
        request.write_text("{}")
        state = ["--state-dir", str(tmp_path)]
        assert main(["online-deployment", "show", "-n", "b?x=1", "-e", "a#b %", *state]) == 0
        assert main(["online-endpoint", "invoke", "-n", "a?b", "-r", str(request), *state]) == 0
    capsys.readouterr()
    assert [path for _, path, _ in calls] == [
        "/api/endpoints/a%23b%20%25/deployments/b%3Fx%3D1",
        "/api/endpoints/a%3Fb/keys",
        "/endpoints/a%3Fb/score",
    ]


def test_a_server_json_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    state = StateDir(str(tmp_path))
    (tmp_path / "server.json").mkdir()
    with pytest.raises(ModelyardError, match=r"cannot create server\.json") as info:
        state.write_server(ServerInfo(url="http://127.0.0.1:8400", pid=os.getpid(), server="uvicorn"))
    assert "\n" not in info.value.message and not (tmp_path / "server.tmp").exists()


@pytest.mark.parametrize("value", ["0", "0.05", "61", "nan", "soon"])
def test_a_sample_interval_outside_its_range_is_a_usage_error(capsys: pytest.CaptureFixture[str], value: str) -> None:
    err = _usage_error(capsys, ["serve", "--sample-interval", value])
    assert "--sample-interval" in err and "0.1-60 seconds" in err and repr(value) in err


def test_status_without_a_server_fails_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "no modelyard server is running" in _fails(capsys, ["status", "--state-dir", str(tmp_path)])
    assert "no modelyard server is running" in _fails(capsys, ["metrics", "--state-dir", str(tmp_path)])

"""The real `python -m runtime.worker` subprocess, driven over a Unix socket the test listens on."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from runtime.ipc.framing import FrameDecoder, control_decoder, encode_frame
from runtime.ipc.messages import Drain, Failure, FromWorker, Infer, Load, Ping, Pong, Ready, Result, Shutdown

REPO = Path(__file__).resolve().parents[3]
SCRIPTS = REPO / "tests" / "fixtures" / "scripts"


class Control:
    """The control process's side of one worker: a listening socket, the child, and framed messages."""

    def __init__(self, workdir: Path, cores: str | None = None, env: dict[str, str] | None = None) -> None:
        self.path = str(workdir / "w.sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(1)
        self.listener.settimeout(30)
        self.log = workdir / "worker.log"
        args = [sys.executable, "-m", "runtime.worker", "--socket", self.path, "--name", "blue-0"]
        if cores is not None:
            args += ["--cores", cores]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                args, cwd=REPO, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT
            )
        self.sock, _ = self.listener.accept()
        self.sock.settimeout(30)
        self.decoder: FrameDecoder[FromWorker] = control_decoder()
        self.pending: list[FromWorker] = []

    def send(self, message: msgspec.Struct) -> None:
        self.sock.sendall(encode_frame(message))

    def receive(self) -> FromWorker:
        while not self.pending:
            data = self.sock.recv(1 << 16)
            if not data:
                raise EOFError("the worker closed its socket")
            self.pending.extend(self.decoder.feed(data))
        return self.pending.pop(0)

    def wait(self) -> int:
        return self.proc.wait(timeout=30)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.sock.close()
        self.listener.close()


@pytest.fixture
def workdir() -> Iterator[Path]:
    # A short path: Unix socket paths are limited to ~107 bytes, which pytest's tmp_path can exceed.
    path = Path(tempfile.mkdtemp(prefix="mywk-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def cpus_allowed(pid: int) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Cpus_allowed_list:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError("no Cpus_allowed_list in /proc status")


def test_worker_serves_a_script_pinned_answers_pings_after_the_running_request_and_shuts_down(workdir: Path) -> None:
    control = Control(workdir, cores="0")
    try:
        control.send(Load("script", app_root=str(SCRIPTS), entry_script="behave.py", model_dir=str(SCRIPTS)))
        ready = control.receive()
        assert isinstance(ready, Ready)
        assert (ready.pid, ready.mode, ready.models) == (control.proc.pid, "string", [])
        assert cpus_allowed(control.proc.pid) == "0"

        control.send(Infer(1, "POST", "/score", "", [("content-type", "text/plain")], b"hello"))
        result = control.receive()
        assert isinstance(result, Result)
        assert (result.id, result.status, json.loads(result.body)) == (1, 200, {"input": "hello"})

        # Like Azure's sync worker, a worker busy in run() answers a ping once run() returns, in arrival order.
        sleep = json.dumps({"do": "sleep", "seconds": 0.5}).encode()
        control.send(Infer(2, "POST", "/score", "", [("content-type", "application/json")], sleep))
        time.sleep(0.2)
        control.send(Ping(7))
        slept = control.receive()
        assert isinstance(slept, Result) and (slept.id, slept.body) == (2, b'"slept"')
        assert control.receive() == Pong(7, 0)

        control.send(Drain())
        control.send(Infer(3, "GET", "/", "", [], b""))
        refused = control.receive()
        assert isinstance(refused, Failure) and (refused.id, refused.code) == (3, "unavailable")

        control.send(Shutdown())
        assert control.wait() == 0
        log = control.log.read_text()
        assert "blue-0" in log and "Worker with pid" in log
    finally:
        control.close()


def test_requests_are_answered_in_order_and_shutdown_finishes_queued_work(workdir: Path) -> None:
    control = Control(workdir)
    try:
        control.send(Load("script", app_root=str(SCRIPTS), entry_script="headers.py"))
        assert isinstance(control.receive(), Ready)
        for i in range(1, 6):
            control.send(Infer(i, "POST", "/score", "", [("x-custom", str(i))], str(i).encode()))
        control.send(Shutdown())
        answers = [control.receive() for _ in range(5)]
        assert [a.id for a in answers if isinstance(a, Result)] == [1, 2, 3, 4, 5]
        assert all(isinstance(a, Result) and json.loads(a.body)["data"] == str(a.id) for a in answers)
        assert control.wait() == 0
    finally:
        control.close()


@pytest.mark.parametrize("history", ["none", "quick runs and one slow one"])
def test_a_finished_answer_is_sent_before_the_next_request_of_its_batch_runs(workdir: Path, history: str) -> None:
    # Answers read together are written together only while every recent run was short: a worker that is new, or
    # whose script was slow even once lately, never holds a finished answer behind a run that may take long.
    control = Control(workdir)
    try:
        control.send(Load("script", app_root=str(SCRIPTS), entry_script="behave.py"))
        assert isinstance(control.receive(), Ready)
        json_type = [("content-type", "application/json")]
        if history != "none":
            pause = json.dumps({"do": "sleep", "seconds": 0.05}).encode()
            for rid, body in enumerate([b"quick"] * 10 + [pause] + [b"quick"] * 10, start=100):
                control.send(Infer(rid, "POST", "/score", "", json_type if body is pause else [], body))
                assert isinstance(control.receive(), Result)
        sleep = json.dumps({"do": "sleep", "seconds": 20}).encode()
        # Both frames in one write, so the worker reads them as one batch.
        control.sock.sendall(
            encode_frame(Infer(1, "POST", "/score", "", [], b"quick"))
            + encode_frame(Infer(2, "POST", "/score", "", json_type, sleep))
        )
        control.sock.settimeout(10)  # well inside the 20 s run(): a held answer would only come after it
        first = control.receive()
        assert isinstance(first, Result) and first.id == 1
        assert control.pending == [] and control.proc.poll() is None  # the second is still running
    finally:
        control.close()


def test_eof_on_the_socket_ends_the_worker(workdir: Path) -> None:
    control = Control(workdir)
    try:
        control.send(Load("script", app_root=str(SCRIPTS), entry_script="behave.py"))
        assert isinstance(control.receive(), Ready)
        control.sock.shutdown(socket.SHUT_WR)
        assert control.wait() == 0
    finally:
        control.close()


def test_what_run_logs_is_on_disk_while_run_is_still_going(workdir: Path) -> None:
    # So a worker killed inside run() (OOM, SIGKILL, a hang) still leaves what it logged before.
    control = Control(workdir)
    try:
        control.send(Load("script", app_root=str(SCRIPTS), entry_script="behave.py"))
        assert isinstance(control.receive(), Ready)
        sleep = json.dumps({"do": "sleep", "seconds": 30}).encode()
        control.send(Infer(1, "POST", "/score", "", [("content-type", "application/json")], sleep))
        deadline = time.monotonic() + 10
        while "going to sleep for 30 s" not in control.log.read_text():
            assert time.monotonic() < deadline, control.log.read_text()
            time.sleep(0.05)
    finally:
        control.close()


def test_failing_init_gives_failure_then_exit_3_with_traceback_in_the_log(workdir: Path) -> None:
    model_dir = workdir / "models" / "m1"
    model_dir.mkdir(parents=True)
    (model_dir / "model.pkl").write_bytes(b"")
    control = Control(workdir)
    try:
        control.send(Load("script", app_root=str(SCRIPTS), entry_script="init_raises.py", model_dir=str(model_dir)))
        failure = control.receive()
        assert failure == Failure(0, "invalid_argument", "init() raised ValueError: boom")
        # Read before the worker exits: a user runs get-logs as soon as the deployment shows Failed.
        log = control.log.read_text()
        assert "Traceback (most recent call last)" in log
        assert 'raise ValueError("boom")' in log
        assert "Model Directory Contents:" in log and "model.pkl" in log
        assert control.wait() == 3
    finally:
        control.close()


def test_worker_serves_a_triton_repository(workdir: Path) -> None:
    from test_triton import X, Y, addsub_graph, addsub_inputs, save

    save(addsub_graph(1.0), workdir / "repo" / "addsub" / "1" / "model.onnx")
    control = Control(workdir)
    try:
        control.send(Load("triton", model_repository=str(workdir / "repo"), threads=1))
        ready = control.receive()
        assert isinstance(ready, Ready) and (ready.mode, ready.models) == ("triton", ["addsub"])
        body = json.dumps({"inputs": addsub_inputs()}).encode()
        control.send(Infer(5, "POST", "/v2/models/addsub/infer", "", [("content-type", "application/json")], body))
        result = control.receive()
        assert isinstance(result, Result) and result.status == 200
        expected = [a + b for row_x, row_y in zip(X, Y, strict=True) for a, b in zip(row_x, row_y, strict=True)]
        assert json.loads(result.body)["outputs"][0]["data"] == expected
        control.send(Shutdown())
        assert control.wait() == 0
    finally:
        control.close()

"""A real `python -m runtime.worker` running Azure's batch scoring-script contract over its Unix socket."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_worker_process import Control

from runtime.ipc.messages import (
    Drain,
    Failure,
    Infer,
    Load,
    MiniBatchDone,
    Ping,
    Pong,
    Ready,
    RunMiniBatch,
    Shutdown,
)
from runtime.worker.batch_rows import WRONG_TYPE

BATCH = Path(__file__).resolve().parents[2] / "fixtures" / "batch"
DATA = BATCH / "data"
SCRIPTS = Path(__file__).resolve().parents[2] / "fixtures" / "scripts"


@pytest.fixture
def workdir() -> Iterator[Path]:
    # A short path: Unix socket paths are limited to ~107 bytes, which pytest's tmp_path can exceed.
    path = Path(tempfile.mkdtemp(prefix="mybw-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def start(workdir: Path, script: str, **load: str) -> Control:
    control = Control(workdir)
    control.send(
        Load(
            "batch",
            app_root=str(BATCH / "code"),
            entry_script=script,
            model_dir=str(BATCH),
            output_path=str(workdir / "out"),
            **load,  # type: ignore[arg-type]
        )
    )
    ready = control.receive()
    assert isinstance(ready, Ready), ready
    assert (ready.pid, ready.mode, ready.models) == (control.proc.pid, "batch", [])
    return control


def run(control: Control, rid: int, files: list[Path | str], timeout_s: float = 30) -> MiniBatchDone | Failure:
    control.send(RunMiniBatch(rid, [str(f) for f in files], timeout_s))
    answer = control.receive()
    assert isinstance(answer, (MiniBatchDone, Failure)) and answer.id == rid, answer
    return answer


def test_the_csv_sample_gives_a_row_per_returned_element_and_logs_what_the_script_prints(workdir: Path) -> None:
    control = start(workdir, "score_csv.py")
    try:
        first = run(control, 1, [DATA / "first.csv", DATA / "second.csv"])
        assert first == MiniBatchDone(1, b"first.csv 0 6\nfirst.csv 1 14\nsecond.csv 0 60\n", 3)
        second = run(control, 2, [DATA / "third.csv"])
        assert second == MiniBatchDone(2, b"third.csv 0 20\nthird.csv 1 24\nthird.csv 2 28\n", 3)

        # run() raising fails the mini-batch with the script's traceback, and the worker takes the next one.
        failed = run(control, 3, [DATA / "first.csv", workdir / "bad.csv"])
        assert isinstance(failed, Failure) and failed.code == "invalid_argument"
        assert failed.message.startswith("Traceback (most recent call last):")
        assert 'score_csv.py", line' in failed.message and failed.message.endswith("ValueError: cannot score bad.csv\n")
        assert "runtime/worker" not in failed.message  # only the user's frames
        assert run(control, 4, [DATA / "second.csv"]) == MiniBatchDone(4, b"second.csv 0 60\n", 1)

        control.send(Shutdown())
        assert control.wait() == 0
        log = control.log.read_text()
        # init() parsed --logging_level from sys.argv and logged at that level; print() in run() reaches the log.
        assert "init() loaded scale 2" in log and "scoring first.csv" in log and "scoring third.csv" in log
        assert "ValueError: cannot score bad.csv" in log
    finally:
        control.close()


def test_init_runs_once_per_worker_across_mini_batches_and_failures(workdir: Path) -> None:
    control = start(workdir, "behave.py")
    try:
        pid = str(control.proc.pid)
        assert run(control, 1, ["init-a"]) == MiniBatchDone(1, f"1\n{pid}\n".encode(), 2)
        wrong = run(control, 2, ["wrong-a"])
        assert wrong == Failure(2, "invalid_argument", f"run() returned dict. {WRONG_TYPE}")
        assert run(control, 3, ["init-b", "init-c"]) == MiniBatchDone(3, f"1\n{pid}\n".encode(), 2)
        assert run(control, 4, ["init-d"]) == MiniBatchDone(4, f"1\n{pid}\n".encode(), 2)
    finally:
        control.close()


def test_a_dataframe_gives_a_row_per_dataframe_row_without_column_names(workdir: Path) -> None:
    control = start(workdir, "behave.py")
    try:
        done = run(control, 1, ["/in/frame1.csv", "/in/frame2.csv"])
        assert done == MiniBatchDone(
            1,
            b'frame1.csv 0.5   "two words" "say ""hi"""\nframe2.csv 0.5   "two words" "say ""hi"""\n',
            2,
        )
    finally:
        control.close()


def test_summary_only_scripts_write_into_azureml_bi_output_path(workdir: Path) -> None:
    out = workdir / "out"
    assert not out.exists()  # the worker makes the folder before init(), as Azure's mounted output is there
    control = start(workdir, "behave.py", logging_level="debug")
    try:
        files = [str(workdir / "summary1.csv"), str(workdir / "summary2.csv")]
        assert run(control, 1, files) == MiniBatchDone(1, f"{files[0]}\n{files[1]}\n".encode(), 2)
        assert (out / "summary1.csv.out").read_text() == "scored summary1.csv\n"
        assert (out / "summary2.csv.out").read_text() == "scored summary2.csv\n"
    finally:
        control.close()


def test_a_hung_run_still_answers_pings_and_times_out_naming_where_it_hung(workdir: Path) -> None:
    control = start(workdir, "behave.py")
    try:
        # Mini-batches that return in time leave nothing armed behind them.
        for rid in range(1, 4):
            assert run(control, rid, [f"quick-{rid}"], timeout_s=2.0) == MiniBatchDone(
                rid, f"quick-{rid}\n".encode(), 1
            )
        control.send(RunMiniBatch(4, ["hang-1"], 2.0))
        started = workdir / "out" / "hang.started"
        while not started.exists():  # written by run() before it starts looping
            assert control.proc.poll() is None
            time.sleep(0.01)
        control.send(Ping(7))
        assert control.receive() == Pong(7, 1)  # answered at once, while run() is still busy
        control.send(Ping(8))
        assert control.receive() == Pong(8, 1)

        timed_out = control.receive()
        assert isinstance(timed_out, Failure) and (timed_out.id, timed_out.code) == (4, "timeout")
        assert timed_out.message.startswith("run() did not return within the mini-batch timeout of 2 s; it was at:")
        stack = timed_out.message.split("it was at:\n", 1)[1]
        assert stack.startswith('  File "') and 'behave.py", line' in stack and ", in run\n" in stack
        assert "runtime/worker" not in stack and "threading.py" not in stack  # the user's frames only
        assert control.wait() == 71  # the process ends, as Azure's worker exits; the runner starts a new one
        assert "Mini-batch 4 timed out; the worker exits." in control.log.read_text()
    finally:
        control.close()


def test_a_draining_worker_refuses_mini_batches_and_http_requests_and_shutdown_exits(workdir: Path) -> None:
    control = start(workdir, "behave.py")
    try:
        control.send(Infer(1, "POST", "/score", "", [], b"{}"))
        refused = control.receive()
        assert isinstance(refused, Failure) and (refused.id, refused.code) == (1, "unsupported")
        control.send(Drain())
        control.send(RunMiniBatch(2, ["x"], 30))
        draining = control.receive()
        assert isinstance(draining, Failure) and (draining.id, draining.code) == (2, "unavailable")
        control.send(Shutdown())
        assert control.wait() == 0
    finally:
        control.close()


def test_a_batch_script_whose_init_raises_fails_the_load_and_exits_3(workdir: Path) -> None:
    control = Control(workdir)
    try:
        control.send(Load("batch", app_root=str(SCRIPTS), entry_script="init_raises.py", output_path=str(workdir)))
        failure = control.receive()
        assert isinstance(failure, Failure) and failure.id == 0
        assert failure.message.startswith("init() raised")
        assert control.wait() == 3
        assert "Loading the batch script failed" in control.log.read_text()
    finally:
        control.close()


def test_an_unknown_logging_level_fails_the_load_naming_the_allowed_ones(workdir: Path) -> None:
    control = Control(workdir)
    try:
        load = Load("batch", app_root=str(BATCH / "code"), entry_script="behave.py", logging_level="loud")
        control.send(load)
        failure = control.receive()
        assert failure == Failure(0, "invalid_argument", "logging_level 'loud' is not one of debug, info, warning")
        assert control.wait() == 3
        assert os.path.exists(control.log)
    finally:
        control.close()

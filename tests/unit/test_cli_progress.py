"""The progress line: state, elapsed time and last log line until the deployment is done, on an injected clock."""

import threading

import pytest

from runtime.cli.progress import Progress
from runtime.errors import ModelyardError


class _Line:
    def __init__(self) -> None:
        self.shown: list[str] = []

    def update(self, text: str) -> None:
        self.shown.append(text)


class _Clock:
    """A clock that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.naps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.naps.append(seconds)
        self.now += seconds


def test_until_done_shows_each_state_with_elapsed_time_and_log_until_succeeded() -> None:
    line, clock = _Line(), _Clock()
    states = iter(["Creating", "Creating", "Succeeded"])
    logs = iter(["Invoking user's init function", "Users's init has completed successfully"])
    progress = Progress(line, clock=clock, sleep=clock.sleep, interval=2.0)
    answer = progress.until_done(
        "deployment blue", lambda: {"name": "blue", "provisioning_state": next(states)}, lambda: next(logs)
    )
    assert answer == {"name": "blue", "provisioning_state": "Succeeded"}
    assert line.shown == [
        "Running .. deployment blue: Creating (0 s)  Invoking user's init function",
        "Running .. deployment blue: Creating (2 s)  Users's init has completed successfully",
    ]
    assert clock.naps == [2.0, 2.0]


def test_until_done_returns_a_failed_deployment_without_showing_it() -> None:
    line, clock = _Line(), _Clock()
    failed = {"name": "blue", "provisioning_state": "Failed", "error": "init() raised"}
    progress = Progress(line, clock=clock, sleep=clock.sleep)
    assert progress.until_done("deployment blue", lambda: failed, lambda: "never read") is failed
    assert line.shown == [] and clock.naps == []


def test_a_missing_log_line_leaves_only_the_state() -> None:
    line, clock = _Line(), _Clock()
    states = iter(["Updating", "Succeeded"])
    Progress(line, clock=clock, sleep=clock.sleep).until_done(
        "deployment blue", lambda: {"provisioning_state": next(states)}, lambda: ""
    )
    assert line.shown == ["Running .. deployment blue: Updating (0 s)"]


def test_during_returns_the_work_result_and_samples_while_it_runs() -> None:
    line = _Line()
    release = threading.Event()
    samples = 0

    def sample() -> tuple[str | None, str]:
        nonlocal samples
        samples += 1
        if samples == 2:
            release.set()  # let the work finish once the display has been updated twice
        return "Updating", f"log {samples}"

    def work() -> str:
        release.wait(30)
        return "answer"

    assert Progress(line, interval=0.01).during("online-deployment update", work, sample) == "answer"
    assert line.shown[0].startswith("Running .. online-deployment update: (")
    assert "Updating" in line.shown[1] and line.shown[1].endswith("log 1")
    assert "Updating" in line.shown[2] and line.shown[2].endswith("log 2")


def test_during_reraises_the_work_error_in_the_caller() -> None:
    def work() -> None:
        raise ModelyardError("deployment 'blue' of endpoint 'fix' is Creating; wait until it is done")

    with pytest.raises(ModelyardError, match="is Creating"):
        Progress(_Line(), interval=0.01).during("online-deployment delete", work)

"""The scoring timeout's SIGALRM (worker/alarm.py): raised in a run past its deadline, never in one inside it."""

from __future__ import annotations

import time

import pytest

from runtime.worker.alarm import ScoringAlarm


def _run(alarm: ScoringAlarm, seconds: float) -> None:
    alarm.start()
    try:
        time.sleep(seconds)
    finally:
        alarm.stop()


def test_a_run_past_the_timeout_raises_and_the_next_run_gets_its_own_full_timeout() -> None:
    alarm = ScoringAlarm(0.3)
    with pytest.raises(TimeoutError):
        _run(alarm, 5)
    _run(alarm, 0.1)  # armed again for this run, and inside it


def test_a_run_that_starts_late_in_an_earlier_runs_timer_still_gets_its_whole_timeout() -> None:
    # The timer set by the first run goes off 0.6 s into the second; that run has 1 s of its own and finishes.
    alarm = ScoringAlarm(1.0)
    _run(alarm, 0.0)
    time.sleep(0.6)
    _run(alarm, 0.7)
    with pytest.raises(TimeoutError):  # and past its own deadline it still raises
        _run(alarm, 5)


def test_the_timer_going_off_between_runs_raises_nothing() -> None:
    alarm = ScoringAlarm(0.1)
    _run(alarm, 0.0)
    time.sleep(0.3)  # the signal comes while no run is in progress
    _run(alarm, 0.0)

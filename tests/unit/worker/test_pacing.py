"""When the worker writes held answers before its next run (pacing.write_first) and how it knows runs are short."""

from __future__ import annotations

import math
import time

from runtime.worker.pacing import HOLD_BUDGET_S, WINDOW, RunTimes, _unpreempted, write_first


def test_nothing_held_is_never_written_first() -> None:
    assert not write_first(None, 100.0, math.inf)


def test_answers_are_held_while_they_still_go_out_within_the_budget() -> None:
    assert not write_first(10.0, 10.0002, 0.0001, budget_s=0.001)  # 0.2 ms held + a 0.1 ms run: inside 1 ms
    assert write_first(10.0, 10.0008, 0.0003, budget_s=0.001)  # 0.8 ms + 0.3 ms: the run would take them past it
    assert write_first(10.0, 10.0, 2.0)  # a run that may take seconds never holds a finished answer


def test_the_budget_is_what_it_says() -> None:
    assert not write_first(0.0, 0.0, HOLD_BUDGET_S * 0.9)
    assert write_first(0.0, 0.0, HOLD_BUDGET_S * 1.1)


def test_runs_count_as_short_only_after_a_full_window_of_them() -> None:
    runs = RunTimes()
    for _ in range(WINDOW - 1):
        runs.add(0.00005)
        assert runs.longest() == math.inf  # not enough known yet: answers are written before each run
    runs.add(0.00005)
    assert runs.longest() == 0.00005


def test_one_slow_run_keeps_answers_flowing_until_it_leaves_the_window() -> None:
    runs = RunTimes(window=4, budget_s=math.inf)  # durations as given, not checked against this thread's CPU
    for seconds in (0.5, 0.0001, 0.0001, 0.0001):
        runs.add(seconds)
    assert runs.longest() == 0.5
    runs.add(0.0002)  # the slow run falls out
    assert runs.longest() == 0.0002


def test_a_short_run_that_stood_preempted_counts_by_the_cpu_it_used() -> None:
    # 3 ms by the wall clock, 0.1 ms of CPU, and the thread never waited of its own accord: it stood preempted.
    assert _unpreempted(0.003, 0.0001, 0) == 0.0001


def test_a_run_that_slept_or_waited_on_io_keeps_its_wall_time() -> None:
    assert _unpreempted(0.003, 0.0001, 1) == 0.003


def test_a_run_that_computed_all_along_keeps_its_wall_time() -> None:
    assert _unpreempted(0.5, 0.6, 0) == 0.5


def test_a_sleeping_run_is_remembered_as_long_by_the_real_clock() -> None:
    runs = RunTimes(window=1)
    runs.batch_started()
    runs.run_started()
    started = time.monotonic()
    time.sleep(0.01)  # a voluntary wait: the thread's own time
    runs.add(time.monotonic() - started)
    assert runs.longest() >= 0.01

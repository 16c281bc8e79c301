"""The restart backoff: doubling while a worker keeps failing, capped, and reset by a stable run."""

from __future__ import annotations

from runtime.control.restarts import FIRST_BACKOFF, MAX_BACKOFF, STABLE_AFTER, Backoff


def test_failed_starts_in_a_row_double_the_wait_up_to_the_cap() -> None:
    backoff, waits = Backoff(), []
    for _ in range(14):
        wait, backoff = backoff.failed()
        waits.append(wait)
    assert waits[:4] == [FIRST_BACKOFF, 2 * FIRST_BACKOFF, 4 * FIRST_BACKOFF, 8 * FIRST_BACKOFF]
    assert max(waits) == MAX_BACKOFF == waits[-1] and waits == sorted(waits)


def test_a_worker_that_dies_soon_after_its_start_keeps_the_count_going() -> None:
    backoff = Backoff(1.6)
    wait, after = backoff.exited(started_at=100.0, now=100.0 + STABLE_AFTER)  # not longer than STABLE_AFTER
    assert (wait, after) == (1.6, Backoff(3.2))


def test_a_worker_that_ran_stably_starts_the_count_over() -> None:
    wait, after = Backoff(MAX_BACKOFF).exited(started_at=100.0, now=100.0 + STABLE_AFTER + 0.1)
    assert (wait, after) == (FIRST_BACKOFF, Backoff(2 * FIRST_BACKOFF))

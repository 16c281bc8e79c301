from runtime.ipc.outstanding import Abandoned


def test_an_abandoned_request_counts_until_its_late_answer_and_is_released_once() -> None:
    released: list[int] = []
    held = Abandoned()
    held.add(7, lambda: released.append(7))
    held.add(8, None)  # a caller that only needs the count
    assert len(held) == 2
    assert not held.answered(9)  # an answer for a request nobody abandoned changes nothing
    assert held.answered(7) and released == [7] and len(held) == 1
    assert not held.answered(7)  # a second frame with the same id releases nothing more
    assert released == [7]


def test_a_worker_that_ends_releases_everything_it_held() -> None:
    released: list[int] = []
    held = Abandoned()
    for rid in (1, 2, 3):
        held.add(rid, lambda rid=rid: released.append(rid))
    held.clear()
    assert sorted(released) == [1, 2, 3] and len(held) == 0
    held.clear()
    assert len(released) == 3

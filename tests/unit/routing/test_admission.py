from runtime.routing.admission import admits


def test_admission_takes_requests_up_to_the_bound_and_refuses_the_next() -> None:
    assert admits(0, 2) and admits(1, 2)
    assert not admits(2, 2) and not admits(3, 2)

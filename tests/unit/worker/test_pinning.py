"""Core lists given to `--cores`."""

from __future__ import annotations

import pytest

from runtime.worker.pinning import parse_cores


def test_core_lists_and_ranges() -> None:
    assert parse_cores("0") == {0}
    assert parse_cores("0,1") == {0, 1}
    assert parse_cores("0-3,6") == {0, 1, 2, 3, 6}


@pytest.mark.parametrize("text", ["", ",", "a", "3-1", "-1", "1,,x"])
def test_malformed_core_lists_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_cores(text)

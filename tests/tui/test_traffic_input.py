"""The traffic split typed in the dashboard is checked before it is sent."""

from __future__ import annotations

import pytest

from tui.traffic import describe, parse_split

KNOWN = ["blue", "Green"]


def test_a_split_names_known_deployments_in_any_case_and_the_rest_take_0() -> None:
    assert parse_split("blue=80 green=20", KNOWN) == {"blue": 80, "Green": 20}
    assert parse_split("BLUE=100", KNOWN) == {"blue": 100, "Green": 0}
    assert describe(parse_split("green=100,blue=0", KNOWN)) == "blue=0 Green=100"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "name=percent pairs such as blue=80 Green=20"),
        ("blue=80 green=10", "add up to 90; they must add up to 100"),
        ("blue=80 red=20", "no deployment 'red' on this endpoint; its deployments are blue, Green"),
        ("blue 80", "'blue' is not name=percent"),
        ("blue=80 blue=20", "blue is given twice"),
        ("blue=-5 green=105", "a percentage is a whole number from 0 to 100"),
        ("blue=80.5 green=19.5", "a percentage is a whole number from 0 to 100"),
    ],
)
def test_a_bad_split_says_what_is_wrong(text: str, why: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_split(text, KNOWN)
    assert why in str(info.value)

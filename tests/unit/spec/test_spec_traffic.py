"""Traffic and mirror rules as the server applies them to `online-endpoint update --traffic`."""

from __future__ import annotations

import pytest

from runtime.errors import SpecError
from runtime.spec import parse_traffic_arg, validate_mirror, validate_traffic

DEPLOYMENTS = ("blue", "green")


def test_valid_splits_pass() -> None:
    validate_traffic({"blue": 90, "green": 10}, DEPLOYMENTS)
    validate_traffic({"blue": 0, "green": 0}, DEPLOYMENTS)
    validate_traffic({}, DEPLOYMENTS)


def test_split_summing_to_70_is_rejected() -> None:
    with pytest.raises(SpecError) as info:
        validate_traffic({"blue": 60, "green": 10}, DEPLOYMENTS)
    assert info.value.message == "$.traffic: percentages sum to 70; they must total 100, or 0 to send no traffic"


def test_where_names_the_cli_flag() -> None:
    with pytest.raises(SpecError, match=r"^--traffic: percentages sum to 110;"):
        validate_traffic({"blue": 100, "green": 10}, DEPLOYMENTS, where="--traffic")


@pytest.mark.parametrize("percent", [-10, 101])
def test_each_share_is_a_percentage(percent: int) -> None:
    with pytest.raises(SpecError, match=rf"^\$\.traffic\.blue: {percent} is not a percentage from 0 to 100$"):
        validate_traffic({"blue": percent}, DEPLOYMENTS)


def test_unknown_deployment_is_named_with_the_known_ones() -> None:
    with pytest.raises(SpecError) as info:
        validate_traffic({"blue": 50, "red": 50}, DEPLOYMENTS)
    assert info.value.message == "$.traffic.red: the endpoint has no deployment 'red' (deployments: blue, green)"


def test_existence_is_not_checked_without_a_deployment_list() -> None:
    validate_traffic({"red": 100}, None)


def test_mirror_over_50_is_rejected() -> None:
    validate_mirror({"green": 50}, {"blue": 100}, DEPLOYMENTS)
    with pytest.raises(SpecError, match=r"^\$\.mirror_traffic\.green: 51 is not a percentage from 0 to 50"):
        validate_mirror({"green": 51}, {"blue": 100}, DEPLOYMENTS)


def test_mirror_to_two_deployments_is_rejected() -> None:
    with pytest.raises(SpecError) as info:
        validate_mirror({"blue": 10, "green": 10}, {}, DEPLOYMENTS)
    assert info.value.message == (
        "$.mirror_traffic: 2 deployments are mirrored (blue, green); traffic can be mirrored to one deployment only"
    )


def test_a_zero_mirror_entry_does_not_count_as_a_second_mirrored_deployment() -> None:
    validate_mirror({"blue": 0, "green": 10}, {"blue": 100}, DEPLOYMENTS)


def test_deployment_cannot_take_live_and_mirrored_traffic() -> None:
    with pytest.raises(SpecError) as info:
        validate_mirror({"green": 10}, {"blue": 90, "green": 10}, DEPLOYMENTS)
    assert info.value.message == (
        "$.mirror_traffic.green: 'green' takes 10% of live traffic; "
        "a deployment receives live or mirrored traffic, not both"
    )


def test_mirror_to_a_missing_deployment_is_rejected() -> None:
    with pytest.raises(SpecError, match=r"no deployment 'red'"):
        validate_mirror({"red": 10}, {"blue": 100}, DEPLOYMENTS)


def test_parse_traffic_arg() -> None:
    assert parse_traffic_arg("blue=90 green=10") == {"blue": 90, "green": 10}
    assert parse_traffic_arg("  green=100 ") == {"green": 100}


@pytest.mark.parametrize("text", ["", "blue", "blue=ninety", "blue:90", "=90", "blue=-1", "blue=²", "blue=१००"])
def test_parse_traffic_arg_explains_the_form(text: str) -> None:
    with pytest.raises(SpecError, match=r'expected space-separated NAME=PERCENT pairs, e\.g\. "blue=90 green=10"'):
        parse_traffic_arg(text)


def test_parse_traffic_arg_rejects_a_name_given_twice() -> None:
    with pytest.raises(SpecError, match=r"'blue' is given twice"):
        parse_traffic_arg("blue=50 blue=50")


def test_parse_traffic_arg_rejects_a_name_given_twice_in_two_spellings() -> None:
    with pytest.raises(SpecError, match=r"'BLUE' is given twice \(as 'blue': names ignore case\)"):
        parse_traffic_arg("blue=50 BLUE=50")


def test_errors_in_a_cli_flag_name_the_flag_and_what_is_wrong() -> None:
    with pytest.raises(SpecError, match=r"^--mirror-traffic 'green=-5': '-5' is not a whole percentage from 0 to 100"):
        parse_traffic_arg("green=-5", flag="--mirror-traffic")
    with pytest.raises(SpecError, match=r"^--traffic blue: 101 is not a percentage from 0 to 100$"):
        validate_traffic({"blue": 101}, DEPLOYMENTS, where="--traffic")
    with pytest.raises(SpecError, match=r"^--mirror-traffic green: 'green' takes 100% of live traffic"):
        validate_mirror({"green": 10}, {"green": 100}, DEPLOYMENTS, where="--mirror-traffic")

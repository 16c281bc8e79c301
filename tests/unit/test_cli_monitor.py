"""What the `monitor autoscale` verbs send, as az's command lines write them, and the advice az prints."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_api import fake_api

from runtime.cli import main

OUT_RULE = {"scaleAction": {"direction": "Increase"}}
IN_RULE = {"scaleAction": {"direction": "Decrease"}}


class _Api:
    calls: list[tuple[str, str, Any]] = []
    rules: list[dict[str, Any]] = []


def _answer(method: str, path: str) -> tuple[str, bytes]:
    body: Any = _Api.rules if method == "GET" and "/rules" in path else {"name": "as1"}
    return "application/json", json.dumps(body).encode()


@pytest.fixture
def state(tmp_path: Path) -> Iterator[list[str]]:
    with fake_api(tmp_path, _answer) as calls:
        _Api.calls, _Api.rules = calls, [OUT_RULE]
        yield ["--state-dir", str(tmp_path)]


def test_create_sends_the_resource_and_counts_and_advises_rules(
    state: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    line = ["monitor", "autoscale", "create", "--resource", "fix/echo", "--min-count", "1", "--max-count", "4"]
    assert main([*line, "--count", "1", "-n", "as1", "-g", "rg", *state]) == 0
    assert _Api.calls[-1] == (
        "POST",
        "/api/autoscale-settings",
        {"resource": "fix/echo", "count": 1, "disabled": False, "name": "as1", "min_count": 1, "max_count": 4},
    )
    assert "Follow up with `modelyard monitor autoscale rule create` to add scaling rules." in capsys.readouterr().err
    fixed = ["monitor", "autoscale", "create", "--resource", "fix/echo", "--count", "2", "--disabled", "--tags", "a=b"]
    assert main([*fixed, *state]) == 0
    assert _Api.calls[-1][2] == {"resource": "fix/echo", "count": 2, "disabled": True, "tags": {"a": "b"}}
    assert capsys.readouterr().err == ""  # a fixed count needs no rules


def test_rule_create_joins_the_condition_and_scale_words_and_warns_of_a_one_way_profile(
    state: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    line = ["monitor", "autoscale", "rule", "create", "--autoscale-name", "as1"]
    cond = ["--condition", "CpuUtilizationPercentage", ">", "70", "avg", "5m"]
    assert main([*line, *cond, "--scale", "out", "2", *state]) == 0
    (method, path, body), (_, listed, _) = _Api.calls[-2:]
    assert (method, path) == ("POST", "/api/autoscale-settings/as1/rules")
    assert body == {"condition": "CpuUtilizationPercentage > 70 avg 5m", "scale": "out 2", "profile_name": "default"}
    assert listed == "/api/autoscale-settings/as1/rules?profile=default"
    assert "has rules to scale out but none to scale in" in capsys.readouterr().err
    _Api.rules = [OUT_RULE, IN_RULE]
    more = ["--scale", "in 1", "--cooldown", "0.5", "--timegrain", "max", "30s", "--resource", "fix"]
    assert main([*line, "--condition", "CpuUtilizationPercentage < 25 avg 5m", *more, *state]) == 0
    assert _Api.calls[-2][2] == {
        "condition": "CpuUtilizationPercentage < 25 avg 5m",
        "scale": "in 1",
        "profile_name": "default",
        "cooldown": "0.5",
        "timegrain": "max 30s",
        "resource": "fix",
    }
    assert capsys.readouterr().err == ""


def test_the_deletes_do_not_ask_as_az_does_not(state: list[str]) -> None:
    # No terminal here: a verb that asked would refuse. az's monitor autoscale deletes never ask.
    assert main(["monitor", "autoscale", "delete", "-n", "as1", *state]) == 0
    assert main(["monitor", "autoscale", "rule", "delete", "--autoscale-name", "as1", "--index", "0", "2", *state]) == 0
    assert main(["monitor", "autoscale", "rule", "delete", "--autoscale-name", "as1", "--index", "*", *state]) == 0
    assert [(m, p) for m, p, _ in _Api.calls] == [
        ("DELETE", "/api/autoscale-settings/as1"),
        ("DELETE", "/api/autoscale-settings/as1/rules?profile=default&index=0&index=2"),
        ("DELETE", "/api/autoscale-settings/as1/rules?profile=default&index=%2A"),
    ]


def test_update_sends_only_what_is_given(state: list[str]) -> None:
    assert main(["monitor", "autoscale", "update", "-n", "as1", "--max-count", "6", "--enabled", "false", *state]) == 0
    assert _Api.calls[-1] == ("PATCH", "/api/autoscale-settings/as1", {"max_count": 6, "enabled": False})


@pytest.mark.parametrize(
    ("line", "says"),
    [
        (["create", "--resource", "fix/echo"], "the following arguments are required: --count"),
        (["create", "--resource", "fix/echo", "--count", "0"], "must be a positive integer"),
        (["create", "--resource", "fix/echo", "--count", "1", "--disabled", "maybe"], "must be true or false"),
        (["rule", "create", "--autoscale-name", "a", "--scale", "out", "1"], "required: --condition"),
        (["rule", "delete", "--autoscale-name", "a"], "required: --index"),
    ],
)
def test_bad_flags_are_refused_before_anything_is_sent(
    state: list[str], line: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["monitor", "autoscale", *line, *state])
    assert exit_.value.code == 2
    assert says in capsys.readouterr().err
    assert _Api.calls == []

"""-o and --query as az has them: tsv, yaml and table by az's rules, through the real CLI entry point."""

import json
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fake_api import fake_api

from runtime.cli import main
from runtime.cli.output import render

DEPLOYMENTS = [
    {
        "name": "blue",
        "endpoint_name": "fix",
        "provisioning_state": "Succeeded",
        "instance_type": "cpu1",
        "instance_count": 1,
        "app_insights_enabled": False,
        "description": None,
        "placement": {"policy": "share", "notes": []},
        "workers": [{"instance": 0, "state": "Ready", "cores": [0], "gpus": [], "pid": 11}],
    },
    {
        "name": "green",
        "endpoint_name": "fix",
        "provisioning_state": "Failed",
        "instance_type": "cpu2",
        "instance_count": 2,
        "app_insights_enabled": True,
        "description": "canary",
        "placement": {"policy": "strict", "notes": []},
        "workers": [],
    },
]


# --- tsv: knack's _TsvOutput ------------------------------------------------------------------------------------


def test_tsv_prints_a_scalar_bare_and_a_list_one_row_per_line() -> None:
    assert render("key-123", "tsv") == "key-123\n"
    assert render(3, "tsv") == "3\n"
    assert render(["blue", "green"], "tsv") == "blue\ngreen\n"
    assert render([], "tsv") == ""


def test_tsv_object_values_in_sorted_key_order_with_nested_values_as_az_prints_them() -> None:
    # az: a plain object's values sorted by key; a nested object is an empty column, a nested list its length.
    row = {"name": "blue", "count": 2, "tags": {"a": "1"}, "workers": [1, 2, 3], "auth": "key"}
    assert render(row, "tsv") == "key\t2\tblue\t\t3\n"


def test_tsv_booleans_and_nulls_as_az_prints_them() -> None:
    # A bare boolean is lower case; inside a row it is Python's spelling, and null is None, as az prints them.
    assert render(True, "tsv") == "true\n"
    assert render([False], "tsv") == "false\n"
    assert render({"a": True, "b": None, "c": False}, "tsv") == "True\tNone\tFalse\n"
    assert render([[1, None, True]], "tsv") == "1\tNone\tTrue\n"


def test_tsv_keeps_the_key_order_of_an_object_the_query_built() -> None:
    built = OrderedDict([("z", 1), ("a", 2)])
    assert render([built], "tsv") == "1\t2\n"
    assert render([{"z": 1, "a": 2}], "tsv") == "2\t1\n"


# --- yaml: safe_dump, keys sorted ------------------------------------------------------------------------------------


def test_yaml_is_safe_dump_with_sorted_keys_nulls_and_booleans() -> None:
    text = render(DEPLOYMENTS[1], "yaml")
    assert yaml.safe_load(text) == DEPLOYMENTS[1]
    lines = text.splitlines()
    assert lines[0] == "app_insights_enabled: true" and "description: canary" in lines
    assert "workers: []" in lines and lines[-1] == "workers: []"
    assert render({"b": None, "a": False}, "yaml") == "a: false\nb: null\n"
    assert render(OrderedDict([("z", 1), ("a", [1, 2])]), "yaml") == "a:\n- 1\n- 2\nz: 1\n"


# --- table ---------------------------------------------------------------------------------------------------


def test_table_keeps_the_curated_deployment_columns() -> None:
    lines = render(DEPLOYMENTS, "table").splitlines()
    assert lines[0].split() == [
        "name",
        "endpoint_name",
        "provisioning_state",
        "instance_type",
        "instance_count",
        "workers",
    ]
    assert lines[2].split()[:5] == ["blue", "fix", "Succeeded", "cpu1", "1"] and "#0:Ready(cores 0)" in lines[2]
    assert lines[3].split() == ["green", "fix", "Failed", "cpu2", "2"]


def test_generic_table_shows_top_level_scalars_only_with_az_headers() -> None:
    keys = {"primaryKey": "p", "secondaryKey": "s", "id": "x", "type": "t", "nested": {"a": 1}, "gone": None}
    lines = render(keys, "table").splitlines()
    assert lines[0].split() == ["PrimaryKey", "SecondaryKey"]  # id and type are left out, as az leaves them out
    assert lines[1] == "----------  ------------"
    assert lines[2].split() == ["p", "s"]
    # Without --query az sorts the keys; with it, the expression's order stands.
    assert render({"zeta": 1, "alpha": True}, "table").splitlines()[0].split() == ["Alpha", "Zeta"]
    built = OrderedDict([("zeta", 1), ("alpha", True)])
    assert render(built, "table", queried=True).splitlines()[0].split() == ["Zeta", "Alpha"]


def test_table_of_scalars_and_lists_uses_result_and_column_headers() -> None:
    assert render(["blue", "green"], "table", queried=True).splitlines() == ["Result", "------", "blue", "green"]
    assert render([["blue", True]], "table", queried=True).splitlines() == [
        "Column1  Column2",
        "-------  -------",
        "blue     True",
    ]


# --- through main(), against a real HTTP server that answers as the management API would ------------------------


_ANSWERS: dict[str, Any] = {
    "/api/endpoints/fix/deployments": DEPLOYMENTS,
    "/api/endpoints/fix/keys": {"primaryKey": "pk-1", "secondaryKey": "sk-2"},
    "/api/endpoints/fix": {"name": "fix", "scoring_uri": "http://127.0.0.1:1/endpoints/fix/score"},
}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    tmp_path = tmp_path_factory.mktemp("state")
    with fake_api(tmp_path, lambda method, path: ("application/json", json.dumps(_ANSWERS[path]).encode())):
        yield ["--state-dir", str(tmp_path)]


def _out(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return captured.out


_LIST = ["online-deployment", "list", "-e", "fix"]
_KEYS = ["online-endpoint", "get-credentials", "-n", "fix"]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["online-endpoint", "get-credentials", "-n", "fix", "--query", "primaryKey", "-o", "tsv"], "pk-1\n"),
        (["online-endpoint", "show", "-n", "fix", "--query", "scoring_uri", "-o", "tsv"], "http://127.0.0.1:1/endpoints/fix/score\n"),
        (["online-deployment", "list", "-e", "fix", "--query", "[].name", "-o", "tsv"], "blue\ngreen\n"),
        (["--query", "[].name", "-o", "tsv", "online-deployment", "list", "-e", "fix"], "blue\ngreen\n"),
        (["-o", "tsv", "online-deployment", "list", "-e", "fix", "--query", "[?instance_count > `1`].name"], "green\n"),
        ([*_LIST, "--query", "[].[name, instance_count]", "-o", "TSV"], "blue\t1\ngreen\t2\n"),
        (["online-deployment", "list", "-e", "fix", "--query", "[0].description"], ""),
        (["online-deployment", "list", "-e", "fix", "-o", "none"], ""),
        (["online-deployment", "list", "-e", "fix", "--query", "length(@)"], "2\n"),
        (["online-endpoint", "get-credentials", "-n", "fix", "--query", "primaryKey"], '"pk-1"\n'),
        ([*_KEYS, "-o", "jsonc"], '{\n  "primaryKey": "pk-1",\n  "secondaryKey": "sk-2"\n}\n'),
        (["online-endpoint", "get-credentials", "-n", "fix", "-o", "yamlc"], "primaryKey: pk-1\nsecondaryKey: sk-2\n"),
    ],
)  # fmt: skip
def test_query_and_output_through_the_cli(
    api: list[str], capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    assert _out(capsys, [*argv, *api]) == expected


def test_query_builds_a_generic_table_in_the_expression_order(
    api: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["online-deployment", "list", "-e", "fix", "-o", "table", "--query", "[].{Name:name, Count:instance_count}"]
    assert _out(capsys, [*argv, *api]).splitlines() == ["Name   Count", "-----  -----", "blue   1", "green  2"]


@pytest.mark.parametrize("expression", ["[?", "foo[", "a.`b", "][", ""])
def test_a_bad_query_is_one_line_exit_2_before_any_request(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, expression: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["online-endpoint", "list", "--query", expression, "--state-dir", str(tmp_path)])
    assert exit_info.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert f"argument --query: invalid jmespath_type value: {expression!r}" in line


def test_a_query_that_does_not_fit_the_data_is_one_line_exit_1(
    api: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["online-deployment", "list", "-e", "fix", "--query", "abs(@)", *api]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("modelyard: error: --query 'abs(@)': In function abs(), invalid type")


def test_an_unknown_output_format_lists_the_allowed_ones(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["online-endpoint", "list", "-o", "xml"])
    err = capsys.readouterr().err
    assert "argument -o/--output: invalid choice: 'xml'" in err and "'tsv'" in err and "'yamlc'" in err

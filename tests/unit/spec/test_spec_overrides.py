"""`--set` overrides: YAML-typed values, nested creation, and one-line errors for malformed ones."""

from __future__ import annotations

import pytest

from runtime.errors import SpecError
from runtime.spec import apply_overrides, load_deployment, load_endpoint

DEPLOYMENT = """\
name: blue
endpoint_name: <endpoint_name>
model: azureml:placeholder:1
code_configuration: {code: code, scoring_script: score.py}
instance_type: cpu2
"""


def test_values_are_parsed_as_yaml_scalars() -> None:
    result = apply_overrides({}, ["instance_count=2", "app_insights_enabled=true", "description=hello world"])
    assert result == {"instance_count": 2, "app_insights_enabled": True, "description": "hello world"}


def test_nested_mappings_are_created_as_needed() -> None:
    result = apply_overrides({"tags": {"a": "1"}}, ["tags.team=ml", "request_settings.request_timeout_ms=9000"])
    assert result == {"tags": {"a": "1", "team": "ml"}, "request_settings": {"request_timeout_ms": 9000}}


def test_an_empty_block_is_filled_in() -> None:
    assert apply_overrides({"environment": None}, ["environment.image=x"]) == {"environment": {"image": "x"}}


def test_model_reference_keeps_its_colons() -> None:
    assert apply_overrides({}, ["model=azureml:x:1"]) == {"model": "azureml:x:1"}


def test_flow_values_and_later_overrides_win() -> None:
    result = apply_overrides({}, ["traffic={blue: 90, green: 10}", "traffic.blue=80", "traffic.green=20"])
    assert result == {"traffic": {"blue": 80, "green": 20}}


def test_text_that_is_not_yaml_stays_a_string() -> None:
    assert apply_overrides({}, ["description=a: b: c"]) == {"description": "a: b: c"}
    assert apply_overrides({}, ["description="]) == {"description": ""}


def test_list_items_can_be_set_by_index() -> None:
    result = apply_overrides({"h": {"capture_headers": ["a", "b"]}}, ["h.capture_headers.1=c"])
    assert result == {"h": {"capture_headers": ["a", "c"]}}


def test_the_input_is_not_modified() -> None:
    raw = {"tags": {"a": "1"}}
    apply_overrides(raw, ["tags.a=2"])
    assert raw == {"tags": {"a": "1"}}


@pytest.mark.parametrize("override", ["instance_count", "=2", "tags..x=1", ".x=1", "x.=1"])
def test_malformed_override_is_named(override: str) -> None:
    with pytest.raises(SpecError) as info:
        apply_overrides({}, [override])
    assert info.value.message == (
        f"--set {override!r}: expected KEY=VALUE with a dotted key, e.g. --set instance_count=2 or --set tags.team=ml"
    )


def test_setting_below_a_scalar_is_an_error() -> None:
    with pytest.raises(SpecError) as info:
        apply_overrides({"model": "azureml:m:1"}, ["model.path=models"])
    assert (
        info.value.message
        == "--set 'model.path=models': $.model is 'azureml:m:1', not a mapping, so it has no keys to set"
    )


@pytest.mark.parametrize(("index", "shown"), [("5", "'5'"), ("²", "'²'"), ("-0", "'-0'")])
def test_a_list_index_that_is_out_of_range_or_not_ascii_digits_is_an_error(index: str, shown: str) -> None:
    with pytest.raises(SpecError, match=rf"\$\.a is a list of 1; {shown} is not an index into it"):
        apply_overrides({"a": [1]}, [f"a.{index}=2"])


def test_overrides_apply_before_decoding_in_load_deployment() -> None:
    loaded = load_deployment(
        DEPLOYMENT,
        source="d.yml",
        overrides=["endpoint_name=my-endpoint", "model=azureml:azureml-infschema:1", "instance_count=3"],
    )
    assert loaded.spec.endpoint_name == "my-endpoint"
    assert loaded.spec.model == "azureml:azureml-infschema:1"
    assert loaded.spec.instance_count == 3


def test_bad_override_in_load_names_the_file() -> None:
    with pytest.raises(SpecError, match=r"^d\.yml: --set 'instance_count': expected KEY=VALUE"):
        load_deployment(DEPLOYMENT, source="d.yml", overrides=["instance_count"], endpoint_name="my-endpoint")


def test_overridden_value_of_the_wrong_type_is_reported_like_a_file_value_and_names_the_override() -> None:
    with pytest.raises(SpecError) as info:
        load_deployment(DEPLOYMENT, source="d.yml", overrides=["instance_count=two"], endpoint_name="my-endpoint")
    assert info.value.message == "d.yml: $.instance_count: Expected `int`, got `str` (from --set instance_count=two)"


@pytest.mark.parametrize(
    ("override", "path"),
    [
        ("request_settings.bogus=1", "$.request_settings.bogus: unknown key"),
        ("instance_count=many", "$.instance_count: Expected `int`, got `str`"),
        ("request_settings.request_timeout_ms=200000", "$.request_settings.request_timeout_ms: 200000 is over"),
    ],
)
def test_an_error_in_what_set_wrote_names_the_override(override: str, path: str) -> None:
    with pytest.raises(SpecError) as info:
        load_deployment(DEPLOYMENT, source="d.yml", overrides=["tags.team=ml", override], endpoint_name="my-ep")
    assert info.value.message.startswith(f"d.yml: {path}"), info.value.message
    assert info.value.message.endswith(f"(from --set {override})")


def test_an_error_the_file_made_does_not_blame_an_override() -> None:
    with pytest.raises(SpecError) as info:
        load_deployment(
            DEPLOYMENT + "colour: blue\n", source="d.yml", overrides=["tags.team=ml"], endpoint_name="my-ep"
        )
    assert info.value.message.startswith("d.yml: $.colour: unknown key") and "--set" not in info.value.message


def test_a_set_value_nested_too_deeply_is_refused_naming_the_key_not_the_whole_value() -> None:
    with pytest.raises(SpecError, match=r"^--set tags\.x=\.\.\.: the value is nested more than 64 levels deep$"):
        apply_overrides({}, ["tags.x=" + "[" * 3000 + "]" * 3000])


def test_an_error_quotes_a_huge_override_cut_short() -> None:
    huge = "tags.x=[" + "1," * 50_000 + "1]"
    with pytest.raises(SpecError) as caught:
        load_endpoint("{}", source="<api>", overrides=[huge], name="fix")
    assert len(caught.value.message) < 300 and caught.value.message.endswith(f"... ({len(huge)} characters))")

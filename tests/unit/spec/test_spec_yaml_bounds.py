"""YAML that would crash a recursive walk is refused as bad input: too deep, or an alias that contains itself."""

from __future__ import annotations

import pytest

from runtime.errors import SpecError
from runtime.spec import load_deployment, load_endpoint, parse_yaml


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("a: " + "[" * 3000 + "]" * 3000, "nested more than 64 levels deep"),  # RecursionError inside PyYAML
        ("a: " + "[" * 65 + "]" * 65, "nested more than 64 levels deep"),
        ("tags: &a {x: *a}", "an alias refers to the value that contains it"),
    ],
)
def test_unbounded_yaml_is_an_error_naming_the_file(text: str, why: str) -> None:
    with pytest.raises(SpecError, match=rf"^endpoint\.yml: invalid YAML: {why}$"):
        load_endpoint(text, source="endpoint.yml", name="fix")


def test_an_alias_bomb_is_walked_once_per_shared_value() -> None:
    # Nine references to nine references ... would be 9**9 leaves walked naively; shared values are walked once.
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 10)]
    assert len(parse_yaml("\n".join(lines), label="bomb.yml")) == 10


def test_nesting_within_the_bound_still_loads() -> None:
    text = "name: blue\nendpoint_name: fix\ninstance_type: cpu1\ntags: {}\nmodel:\n  path: m\n  flavors: "
    loaded = load_deployment(text + "{a: " * 60 + "1" + "}" * 60, source="d.yml")
    assert loaded.spec.name == "blue"

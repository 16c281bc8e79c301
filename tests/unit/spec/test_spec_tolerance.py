"""The modelyard-mirror-tolerance endpoint tag: its forms, and errors that say what is allowed."""

from __future__ import annotations

import pytest

from runtime.errors import SpecError
from runtime.spec import load_endpoint
from runtime.spec.tolerance import DEFAULT_TOLERANCE, TOLERANCE_TAG, parse_tolerances, tolerances_of


def test_one_number_sets_every_field() -> None:
    tol = parse_tolerances("1e-4")
    assert tol.of("") == tol.of("a.b") == 1e-4


def test_field_pairs_set_those_fields_and_star_the_default() -> None:
    tol = parse_tolerances(" probabilities = 1e-3 , outputs.score=0.5, *=1e-2 ")
    assert (tol.of("probabilities"), tol.of("outputs.score"), tol.of("other")) == (1e-3, 0.5, 1e-2)
    assert parse_tolerances("p=1").of("q") == DEFAULT_TOLERANCE


def test_without_the_tag_the_default_applies() -> None:
    assert tolerances_of({}).of("x") == DEFAULT_TOLERANCE


@pytest.mark.parametrize("bad", ["", "abc", "-1", "nan", "inf", "p=", "=1", "p=1,p=2", "a..b=1", "p=1,x"])
def test_malformed_values_are_refused_with_the_allowed_form(bad: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_tolerances(bad)
    assert f"$.tags.{TOLERANCE_TAG}" in err.value.message
    assert '"1e-4"' in err.value.message and '"probabilities=1e-3,*=1e-6"' in err.value.message


def test_an_endpoint_file_with_a_malformed_tag_is_refused() -> None:
    text = f"name: shop\ntags:\n  {TOLERANCE_TAG}: 'scores=lots'\n"
    with pytest.raises(SpecError) as err:
        load_endpoint(text, source="ep.yml")
    assert "ep.yml" in err.value.message and "'lots' is not a number" in err.value.message
    ok = load_endpoint(f"name: shop\ntags:\n  {TOLERANCE_TAG}: 1e-3\n", source="ep.yml")
    assert tolerances_of(ok.spec.tags).of("x") == 1e-3

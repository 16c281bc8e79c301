"""The comparison of a mirror's answer with the live one: status, bytes, JSON leaves, tolerances."""

from __future__ import annotations

import msgspec
import pytest

from runtime.routing.compare import MAX_WALK_BYTES, compare
from runtime.spec.tolerance import Tolerances, parse_tolerances

DEFAULT = Tolerances()


def j(value: object) -> bytes:
    return msgspec.json.encode(value)


def test_different_statuses_are_a_status_mismatch_scoring_zero() -> None:
    verdict = compare(200, b"{}", 500, b"{}", DEFAULT)
    assert (verdict.score, verdict.status_mismatch, verdict.diff, verdict.agreed) == (0.0, True, "status", False)


def test_equal_bytes_and_equal_json_spelled_differently_agree() -> None:
    assert compare(200, b"anything", 200, b"anything", DEFAULT).agreed
    assert compare(200, b'{"a": 1, "b": [1, 2]}', 200, b'{"b":[1,2],"a":1}', DEFAULT).agreed


def test_a_list_of_labels_scores_the_share_of_labels_that_agree() -> None:
    verdict = compare(200, j([3, 7, 1]), 200, j([3, 7, 2]), DEFAULT)
    assert verdict.score == pytest.approx(2 / 3) and not verdict.agreed
    assert verdict.diff == "$[2]" and not verdict.status_mismatch


def test_the_first_differing_path_names_keys_and_indices() -> None:
    live = {"outputs": {"labels": [1, 2], "name": "x"}}
    shadow = {"outputs": {"labels": [1, 5], "name": "y"}}
    verdict = compare(200, j(live), 200, j(shadow), DEFAULT)
    assert verdict.diff == "$.outputs.labels[1]" and verdict.score == pytest.approx(1 / 3)


def test_numbers_agree_within_the_default_tolerance_and_not_beyond() -> None:
    assert compare(200, j({"p": 0.5}), 200, j({"p": 0.5 + 1e-9}), DEFAULT).agreed
    assert not compare(200, j({"p": 0.5}), 200, j({"p": 0.5001}), DEFAULT).agreed
    assert compare(200, j([1]), 200, j([1.0]), DEFAULT).agreed  # int and float of the same value


def test_a_field_tolerance_applies_to_that_field_and_its_list_elements_only() -> None:
    tol = parse_tolerances("probabilities=1e-3,*=1e-6")
    live = {"probabilities": [0.25, 0.75], "score": 1.0}
    close = {"probabilities": [0.2502, 0.7498], "score": 1.0}
    assert compare(200, j(live), 200, j(close), tol).agreed
    off = {"probabilities": [0.25, 0.75], "score": 1.0002}
    verdict = compare(200, j(live), 200, j(off), tol)
    assert verdict.diff == "$.score" and verdict.score == pytest.approx(2 / 3)


def test_bools_are_not_numbers_and_types_must_match() -> None:
    assert not compare(200, j([True]), 200, j([1]), DEFAULT).agreed
    assert not compare(200, j(["1"]), 200, j([1]), DEFAULT).agreed
    assert not compare(200, j({"a": None}), 200, j({"a": 0}), DEFAULT).agreed


def test_missing_keys_and_extra_elements_are_leaves_that_disagree() -> None:
    keys = compare(200, j({"a": 1, "b": 2}), 200, j({"a": 1, "c": 2}), DEFAULT)
    assert keys.score == pytest.approx(1 / 3) and keys.diff == "$.b"
    longer = compare(200, j([1, 2]), 200, j([1, 2, 3, 4]), DEFAULT)
    assert longer.score == pytest.approx(2 / 4) and longer.diff == "$[2]"


def test_non_json_bodies_that_differ_score_zero() -> None:
    verdict = compare(200, b"cat", 200, b"dog", DEFAULT)
    assert verdict.score == 0.0 and verdict.diff == "$" and not verdict.status_mismatch
    assert compare(200, j([1]), 200, b"not json", DEFAULT).score == 0.0


def test_bodies_too_large_to_walk_are_compared_as_bytes() -> None:
    big = j(list(range(MAX_WALK_BYTES // 2)))
    other = big[:-2] + b"9]"
    assert compare(200, big, 200, other, DEFAULT).score == 0.0

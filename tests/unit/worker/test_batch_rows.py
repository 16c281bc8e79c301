"""How run()'s return value becomes output rows: lists, tuples, DataFrames (duck-typed), and what is refused."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest

from runtime.worker.batch_rows import WRONG_TYPE, WrongReturnType, to_text


class Frame:
    """What a pandas DataFrame offers that the conversion uses; pandas itself is not installed here."""

    def __init__(self, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        self.columns = columns
        self._rows = rows

    def itertuples(self, index: bool = True, name: str | None = "Pandas") -> Iterator[tuple[Any, ...]]:
        assert index is False and name is None  # column names and the index never reach the output
        return iter(self._rows)


class Odd:
    def __str__(self) -> str:
        return "odd object"


def test_a_list_gives_one_row_per_element_with_complex_objects_as_their_string() -> None:
    text, count = to_text(["a.csv 0.5", 3, 0.25, None, True, [1, "x"], {"k": 1}, Odd(), "two words", "é"])
    assert count == 10
    assert text.decode().split("\n") == [
        "a.csv 0.5",
        "3",
        "0.25",
        "None",
        "True",
        "[1, 'x']",
        "{'k': 1}",
        "odd object",
        "two words",
        "é",
        "",
    ]


def test_a_tuple_is_taken_as_a_list_and_an_empty_result_gives_no_rows() -> None:
    assert to_text(("x", 1)) == (b"x\n1\n", 2)
    assert to_text([]) == (b"", 0)
    assert to_text(Frame(["a"], [])) == (b"", 0)


def test_a_dataframe_gives_one_row_per_row_without_names_missing_values_empty_and_spaces_quoted() -> None:
    frame = Frame(
        ["file", "score", "none", "nan", "text", "quote", "lines"],
        [
            ("a.csv", 0.5, None, math.nan, "two words", 'say "hi"', "one\ntwo"),
            ("b.csv", 2, "", 1e-10, "plain", "x", "y"),
        ],
    )
    text, count = to_text(frame)
    assert count == 2
    assert text == b'a.csv 0.5   "two words" "say ""hi""" "one\ntwo"\nb.csv 2  1e-10 plain x y\n'


def test_a_one_column_dataframe_quotes_an_empty_field_as_csv_does() -> None:
    assert to_text(Frame(["a"], [(None,), ("x",), ("",)])) == (b'""\nx\n""\n', 3)


@pytest.mark.parametrize("result", [None, {"a": 1}, "a string", 3, (x for x in [1]), {1, 2}])
def test_anything_but_a_list_or_a_dataframe_is_refused_with_azures_message(result: object) -> None:
    with pytest.raises(WrongReturnType) as caught:
        to_text(result)
    assert str(caught.value) == f"run() returned {type(result).__name__}. {WRONG_TYPE}"
    assert "doesn't return a Pandas DataFrame or a list" in str(caught.value)

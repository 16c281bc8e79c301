"""How a batch run()'s return value becomes append_row lines, as Azure's parallel-run engine writes them.

run() returns a list (a tuple is taken as one) or a pandas DataFrame; anything else fails the mini-batch. Azure's
parallel-run engine writes a list with `"{}\n".format(element)` per element and a DataFrame with
`to_csv(header=None, index=None, sep=" ")`, so here a list gives one line per element, the element as format()
writes it (a complex object becomes its string, unquoted), and a DataFrame one line per DataFrame row, its fields
separated by one space, column names and index dropped, each field as to_csv writes it: empty for a missing value,
quoted (csv's minimal quoting) when it holds a space, a quote or a line break. The worker writes the lines, so the
control process only stores the bytes. pandas is not imported here: a
DataFrame is recognised by the methods used, so a worker whose script does not use pandas never loads it.
"""

from __future__ import annotations

import math
import sys
from typing import Any

#: What Azure's engine says when run() returns something else (EntryScriptRunReturnWrongType).
WRONG_TYPE = (
    "The run() method doesn't return a Pandas DataFrame or a list. Please verify your entry script. run() method "
    "should return a Pandas DataFrame or a list. For append_row output_action, these returned elements are appended "
    "into the common output file. For summary_only, the contents of the elements are ignored. For all output "
    "actions, each returned output element indicates one successful inference of input element in the input "
    "mini-batch."
)

_QUOTE_IF = frozenset(' "\n\r')
_EMPTY = '""'


class WrongReturnType(Exception):
    """run() returned neither a list nor a DataFrame; the message is Azure's, naming the type returned."""

    def __init__(self, result: object) -> None:
        super().__init__(f"run() returned {type(result).__name__}. {WRONG_TYPE}")


def to_text(result: object) -> tuple[bytes, int]:
    """The append_row lines (UTF-8, each ended by a newline) for one run() return value, and how many there are.

    WrongReturnType unless it is a list, tuple or DataFrame.
    """
    if isinstance(result, (list, tuple)):
        return "".join([f"{element}\n" for element in result]).encode(), len(result)
    if is_dataframe(result):
        frame: Any = result
        rows = [[_field(value) for value in row] for row in frame.itertuples(index=False, name=None)]
        if len(frame.columns) == 1:
            # csv quotes a lone empty field, so that the line is not taken for an empty one.
            lines = [f"{row[0] or _EMPTY}\n" for row in rows]
        else:
            lines = [" ".join(row) + "\n" for row in rows]
        return "".join(lines).encode(), len(rows)
    raise WrongReturnType(result)


def is_dataframe(value: object) -> bool:
    """Whether `value` walks like a pandas DataFrame: rows through itertuples(), named columns."""
    return callable(getattr(value, "itertuples", None)) and hasattr(value, "columns")


def _field(value: object) -> str:
    if isinstance(value, str):
        text = value
    elif _missing(value):
        return ""
    else:
        text = str(value)
    if _QUOTE_IF.isdisjoint(text):
        return text
    return '"' + text.replace('"', '""') + '"'  # the csv module's minimal quoting, which to_csv uses


def _missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    pandas = sys.modules.get("pandas")
    # NaT and NA are written as empty fields by to_csv; only pandas makes them, so only look when it is loaded.
    return pandas is not None and (value is getattr(pandas, "NaT", None) or value is getattr(pandas, "NA", None))

"""`--query`: a JMESPath expression over a command's JSON result, compiled and evaluated as az does."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult

from runtime.errors import ModelyardError


def jmespath_type(text: str) -> ParsedResult:
    """argparse type of --query: a bad expression is argparse's `invalid jmespath_type value: ...`, as in az."""
    try:
        return jmespath.compile(text)
    except KeyError:
        # jmespath raises KeyError for some malformed expressions; argparse reports only ValueError and TypeError.
        raise ValueError(text) from None


def search(expression: ParsedResult, result: Any) -> Any:
    """The query's answer; objects it builds keep the expression's key order (az's tsv and table rely on it)."""
    try:
        return expression.search(result, jmespath.Options(dict_cls=OrderedDict))
    except JMESPathError as exc:  # e.g. a function given the wrong type: the expression parsed, the data did not fit
        raise ModelyardError(f"--query {expression.expression!r}: {exc}".replace("\n", " ")) from None

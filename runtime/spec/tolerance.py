"""Numeric tolerances for comparing a mirror deployment's answers with the live ones, from an endpoint tag.

Azure accepts any endpoint tags and ignores this one, so an endpoint file that sets it deploys unchanged to the
cloud. The value is one number for every field (`"1e-4"`), or comma-separated FIELD=NUMBER pairs where FIELD is a
dotted path of JSON object keys and `*` is the default (`"probabilities=1e-3,*=1e-6"`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import msgspec

from runtime.errors import SpecError

#: The endpoint tag that holds the tolerances.
TOLERANCE_TAG = "modelyard-mirror-tolerance"
#: Tolerance of a field the tag does not name (relative and absolute, as math.isclose takes them).
DEFAULT_TOLERANCE = 1e-6

_FORM = (
    'one number for every field (e.g. "1e-4"), or comma-separated FIELD=NUMBER pairs where FIELD is a dotted path '
    'of JSON keys and * the default (e.g. "probabilities=1e-3,*=1e-6"); numbers are finite and not negative'
)


class Tolerances(msgspec.Struct, frozen=True):
    """How far two numbers may differ and still agree: per field path, else the default."""

    default: float = DEFAULT_TOLERANCE
    fields: Mapping[str, float] = msgspec.field(default_factory=dict)

    def of(self, path: str) -> float:
        """The tolerance of a field given as its dotted path of object keys ("" for the top level)."""
        if not self.fields:
            return self.default
        return self.fields.get(path, self.default)


def parse_tolerances(text: str, *, where: str = f"$.tags.{TOLERANCE_TAG}") -> Tolerances:
    """Parse the tag's value; SpecError naming `where` and the allowed form when it is malformed."""
    text = text.strip()
    if not text:
        raise SpecError(f"{where}: the value is empty; expected {_FORM}")
    if "=" not in text:
        return Tolerances(default=_number(text, where))
    default = DEFAULT_TOLERANCE
    fields: dict[str, float] = {}
    seen: set[str] = set()
    for item in text.split(","):
        field, sep, value = (part.strip() for part in item.partition("="))
        if not sep or not field:
            raise SpecError(f"{where}: {item.strip()!r} is not FIELD=NUMBER; expected {_FORM}")
        if field in seen:
            raise SpecError(f"{where}: {field!r} is given twice; expected {_FORM}")
        seen.add(field)
        if field != "*" and any(not key for key in field.split(".")):
            raise SpecError(f"{where}: {field!r} has an empty key; a FIELD is like outputs.scores; expected {_FORM}")
        if field == "*":
            default = _number(value, where)
        else:
            fields[field] = _number(value, where)
    return Tolerances(default=default, fields=fields)


def tolerances_of(tags: Mapping[str, str]) -> Tolerances:
    """The tolerances an endpoint's tags set; the default where the tag is absent."""
    text = tags.get(TOLERANCE_TAG)
    return Tolerances() if text is None else parse_tolerances(text)


def _number(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SpecError(f"{where}: {text!r} is not a number; expected {_FORM}") from None
    if not math.isfinite(value) or value < 0:
        raise SpecError(f"{where}: {text!r} is not a finite number of 0 or more; expected {_FORM}")
    return value

"""Compares a mirror deployment's answer with the live one: status, then bodies field by field (pure).

Each JSON leaf (a number, string, bool or null, or an empty container) is one vote: a pair's score is the share
of leaves that agree, so a list of labels [3, 7, 1] against [3, 7, 2] scores 2/3. Numbers agree within their
field's tolerance; a key or list element on one side only, or a leaf whose type differs, is a leaf that
disagrees. Bodies that differ and are not both JSON score 0.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec

from runtime.spec.tolerance import Tolerances

#: Bodies above this size are compared as bytes only: walking them would cost the control process a request's
#: worth of CPU for every copy.
MAX_WALK_BYTES = 1 << 20


class Verdict(msgspec.Struct, frozen=True):
    """How one live/mirror pair compared."""

    score: float  #: share of leaves that agree, 0..1
    status_mismatch: bool = False
    diff: str = ""  #: where they first differ: "status", "$" (the whole body) or a path like $.labels[2]

    @property
    def agreed(self) -> bool:
        """Whether the pair agrees in full."""
        return self.score == 1.0


AGREED = Verdict(1.0)


def compare(live_status: int, live_body: bytes, shadow_status: int, shadow_body: bytes, tol: Tolerances) -> Verdict:
    """Compare the status and body the client got from the live deployment with the mirror's."""
    if live_status != shadow_status:
        return Verdict(0.0, status_mismatch=True, diff="status")
    if live_body == shadow_body:
        return AGREED
    if len(live_body) > MAX_WALK_BYTES or len(shadow_body) > MAX_WALK_BYTES:
        return Verdict(0.0, diff="$")
    try:
        left = msgspec.json.decode(live_body)
        right = msgspec.json.decode(shadow_body)
    except msgspec.DecodeError:
        return Verdict(0.0, diff="$")
    walk = _Walk(tol)
    walk.visit(left, right, "", "$")
    if walk.total == 0 or walk.agreed == walk.total:
        return AGREED  # the same JSON spelled differently (spacing, key order)
    return Verdict(walk.agreed / walk.total, diff=walk.first)


class _Walk:
    """Counts agreeing leaves and remembers the first path that differs."""

    __slots__ = ("tol", "agreed", "total", "first")

    def __init__(self, tol: Tolerances) -> None:
        self.tol = tol
        self.agreed = 0
        self.total = 0
        self.first = ""

    def visit(self, left: Any, right: Any, field: str, shown: str) -> None:
        # `field` is the dotted path of object keys the tolerances name (list elements share their list's);
        # `shown` adds the list indices, for the report.
        if isinstance(left, dict) and isinstance(right, dict) and (left or right):
            for key in [*left, *(k for k in right if k not in left)]:  # in order, so `first` is stable
                sub = f"{field}.{key}" if field else str(key)
                at = f"{shown}.{key}"
                if key in left and key in right:
                    self.visit(left[key], right[key], sub, at)
                else:
                    self.leaf(False, at)
        elif isinstance(left, list) and isinstance(right, list) and (left or right):
            for i in range(max(len(left), len(right))):
                if i < len(left) and i < len(right):
                    self.visit(left[i], right[i], field, f"{shown}[{i}]")
                else:
                    self.leaf(False, f"{shown}[{i}]")
        else:
            self.leaf(_same(left, right, self.tol.of(field)), shown)

    def leaf(self, agrees: bool, shown: str) -> None:
        self.total += 1
        if agrees:
            self.agreed += 1
        elif not self.first:
            self.first = shown


def _same(left: Any, right: Any, tol: float) -> bool:
    if _number(left) and _number(right):
        return bool(left == right or math.isclose(left, right, rel_tol=tol, abs_tol=tol))
    return type(left) is type(right) and bool(left == right)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)

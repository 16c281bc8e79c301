"""The naming rule Azure applies to endpoint and deployment names."""

from __future__ import annotations

import re

from runtime.errors import SpecError

NAME_RULE = "3-32 characters: letters, digits and '-', starting with a letter and ending with a letter or digit"
_NAME_RE = re.compile(r"[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?")


def is_valid_name(name: str) -> bool:
    """Whether `name` is a valid endpoint or deployment name (the SDK regex plus the service's 3-32 length)."""
    return 3 <= len(name) <= 32 and _NAME_RE.fullmatch(name) is not None


def validate_name(name: str, *, where: str = "$.name") -> None:
    """Raise SpecError unless `name` is a valid endpoint or deployment name; the message states the rule."""
    if not is_valid_name(name):
        raise SpecError(f"{where}: {name!r} is not a valid name; names are {NAME_RULE}")

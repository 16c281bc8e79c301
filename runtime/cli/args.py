"""Argument types of the CLI: bad values are refused by argparse, before any request is sent."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def not_blank(value: str) -> str:
    """Any value but a blank one: names the server judges (in a body or query), file paths."""
    if not value.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return value


def path_name(value: str) -> str:
    """A name that becomes a URL path segment: not blank, and without '/'."""
    # The HTTP server decodes %2F before routing, so a '/' would pick another route however it is encoded.
    if "/" in not_blank(value):
        from runtime.spec import NAME_RULE

        raise argparse.ArgumentTypeError(f"{value!r} must not contain '/'; names are {NAME_RULE}")
    return value


def valid_name(kind: str) -> Callable[[str], str]:
    """An argparse type for an endpoint or deployment name that is created or sent in a header: Azure's rule."""

    def parse(value: str) -> str:
        from runtime.spec import NAME_RULE, is_valid_name

        if not is_valid_name(not_blank(value)):
            raise argparse.ArgumentTypeError(f"{value!r} is not a valid {kind} name; names are {NAME_RULE}")
        return value

    return parse


#: A deployment name sent in the azureml-model-deployment header: a valid name is a valid header value.
header_name = valid_name("deployment")
endpoint_name = valid_name("endpoint")


def model_name(value: str) -> str:
    """A model name or version: a valid asset name (it also becomes a folder and a URL path segment)."""
    from runtime.spec.model import ASSET_RULE, is_asset_name

    if not is_asset_name(not_blank(value)):
        raise argparse.ArgumentTypeError(f"{value!r} is not a valid model name or version; use {ASSET_RULE}")
    return value


def float_in(low: float, high: float, rule: str) -> Callable[[str], float]:
    """An argparse type for a number in [low, high]; `rule` says what is allowed."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not low <= value <= high:  # NaN fails both comparisons
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text!r}")
        return value

    return parse


def int_in(low: int, high: int | None, rule: str) -> Callable[[str], int]:
    """An argparse type for an integer in [low, high]; `rule` says what is allowed."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text!r}")
        return value

    return parse


port = int_in(0, 65535, "0-65535")
positive = int_in(1, None, "a positive integer")
non_negative = int_in(0, None, "a non-negative integer")

"""A small, tolerant reader for protobuf text format, enough for Triton's config.pbtxt (no protobuf needed).

Every field maps to a list of values, since any field may repeat; nested messages are dicts of the same shape.
Unknown fields are kept, so the caller picks what it understands.
"""

from __future__ import annotations

import ast
import re
from typing import Any

Message = dict[str, list[Any]]

_TOKEN = re.compile(
    r"""\s+|\#[^\n]*|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|[{}\[\]:,;<>]|[^\s{}\[\]:,;<>"'\#]+""",
)
_CLOSE = {"{": "}", "<": ">"}


class PbtxtError(ValueError):
    """The text is not valid protobuf text format."""


def parse(text: str) -> Message:
    """Parse a whole text-format message."""
    tokens = [t for t in _TOKEN.findall(text) if t.strip() and not t.startswith("#")]
    message, pos = _message(tokens, 0, None)
    return message


def first(message: Message, name: str, default: Any = None) -> Any:
    """The first value of a field, or `default` if it is absent."""
    values = message.get(name)
    return values[0] if values else default


def _message(tokens: list[str], pos: int, close: str | None) -> tuple[Message, int]:
    out: Message = {}
    while pos < len(tokens):
        token = tokens[pos]
        if token == close:
            return out, pos + 1
        if token in (",", ";"):
            pos += 1
            continue
        if not re.fullmatch(r"[A-Za-z_][\w.]*|\[[\w./]+\]", token):
            raise PbtxtError(f"expected a field name, found {token!r}")
        pos += 1
        if pos < len(tokens) and tokens[pos] == ":":
            pos += 1
        if pos >= len(tokens):
            raise PbtxtError(f"field {token!r} has no value")
        values, pos = _value(tokens, pos)
        out.setdefault(token, []).extend(values)
    if close is not None:
        raise PbtxtError(f"missing {close!r} at the end of the text")
    return out, pos


def _value(tokens: list[str], pos: int) -> tuple[list[Any], int]:
    token = tokens[pos]
    if token in _CLOSE:
        message, pos = _message(tokens, pos + 1, _CLOSE[token])
        return [message], pos
    if token == "[":
        items: list[Any] = []
        pos += 1
        while pos < len(tokens) and tokens[pos] != "]":
            if tokens[pos] == ",":
                pos += 1
                continue
            values, pos = _value(tokens, pos)
            items.extend(values)
        if pos >= len(tokens):
            raise PbtxtError("missing ']' at the end of a list")
        return items, pos + 1
    if token in ("}", ">", "]", ":", ",", ";"):
        raise PbtxtError(f"expected a value, found {token!r}")
    # Adjacent string literals concatenate, as in protobuf.
    if token[0] in "\"'":
        text = ""
        while pos < len(tokens) and tokens[pos][0] in "\"'":
            text += _string(tokens[pos])
            pos += 1
        return [text], pos
    return [_scalar(token)], pos + 1


def _string(token: str) -> str:
    try:
        return str(ast.literal_eval(token))
    except (ValueError, SyntaxError):
        return token[1:-1]


def _scalar(token: str) -> Any:
    lowered = token.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return int(token, 0)
    except ValueError:
        pass
    try:
        return float(token)
    except ValueError:
        return token  # an enum value such as TYPE_FP32 or KIND_GPU

"""YAML text to builtins, bounded: nothing nested deeper than any Azure spec, no self-referencing aliases.

PyYAML builds nested values recursively, so a document (or a `--set` value) thousands of levels deep raises
RecursionError, and an alias that contains itself (`a: &a [*a]`) builds a cycle that every later walk would follow
for ever. Both are refused here as bad input.
"""

from __future__ import annotations

from typing import Any

import yaml

#: Azure's deepest spec keys are a few levels down; user dicts (tags, flavors) may nest a little further.
MAX_DEPTH = 64


class TooDeep(ValueError):
    """The YAML nests deeper than MAX_DEPTH or refers to itself; the message says which."""


def load(text: str) -> Any:
    """yaml.safe_load, refusing values nested deeper than MAX_DEPTH or containing themselves (TooDeep)."""
    try:
        data = yaml.safe_load(text)
    except RecursionError:
        raise TooDeep(f"nested more than {MAX_DEPTH} levels deep") from None
    _check(data)
    return data


def _children(node: dict[Any, Any] | list[Any]) -> list[Any]:
    values = node.values() if isinstance(node, dict) else node
    return [v for v in values if isinstance(v, (dict, list))]


def _check(root: Any) -> None:
    # Iterative and memoised by identity: aliases share one object, so an alias bomb is walked in linear time.
    heights: dict[int, int] = {}
    entered: set[int] = set()  # the containers on the current path: meeting one again is a cycle
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if not isinstance(node, (dict, list)):
            continue
        key = id(node)
        if done:
            entered.discard(key)
            heights[key] = 1 + max((heights[id(c)] for c in _children(node)), default=0)
            if heights[key] > MAX_DEPTH:
                raise TooDeep(f"nested more than {MAX_DEPTH} levels deep")
        elif key in entered:
            raise TooDeep("an alias refers to the value that contains it")
        elif key not in heights:
            entered.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in _children(node))

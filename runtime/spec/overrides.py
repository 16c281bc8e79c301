"""`--set a.b=c` overrides, applied to the raw YAML mapping before it is decoded (as `az ml` does)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import yaml

from runtime.errors import SpecError
from runtime.spec import _yaml as bounded_yaml

_FORM = "expected KEY=VALUE with a dotted key, e.g. --set instance_count=2 or --set tags.team=ml"


def apply_overrides(raw: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Return a copy of `raw` with each override applied in order; missing intermediate mappings are created."""
    result = copy.deepcopy(raw)
    for override in overrides:
        keys, value = _parse(override)
        node: Any = result
        for depth, key in enumerate(keys[:-1]):
            node = _child(node, key, override, keys[: depth + 1])
        _assign(node, keys[-1], value, override, keys)
    return result


def blame(message: str, overrides: Sequence[str]) -> str:
    """`message` ("$.path: why") naming the --set override that wrote that path, when one did."""
    path = message.partition(": ")[0]
    if not overrides or not path.startswith("$"):
        return message
    for override in reversed(overrides):
        keys = override.partition("=")[0].strip().split(".")
        written = "$" + "".join(f"[{k}]" if k.isascii() and k.isdigit() else f".{k}" for k in keys)
        if path == written or path.startswith((f"{written}.", f"{written}[")) or written.startswith(f"{path}."):
            return f"{message} (from --set {_shown(override)})"
    return message


def _parse(override: str) -> tuple[list[str], object]:
    path, sep, text = override.partition("=")
    keys = path.strip().split(".")
    if not sep or any(not key for key in keys):
        raise SpecError(f"--set {_shown(override)!r}: {_FORM}")
    try:
        return keys, _value(text)
    except bounded_yaml.TooDeep as exc:
        raise SpecError(f"--set {path.strip()}=...: the value is {exc}") from None


def _value(text: str) -> object:
    # The value is read as YAML, so `instance_count=2` sets an int and `traffic={blue: 90}` a mapping; text that is
    # not valid YAML on its own (e.g. "a: b: c") stays the literal string the user typed.
    if not text.strip():
        return text
    try:
        return bounded_yaml.load(text)
    except yaml.YAMLError:
        return text


def _child(node: Any, key: str, override: str, walked: list[str]) -> Any:
    if isinstance(node, list):
        return node[_index(node, key, override, walked)]
    if not isinstance(node, dict):
        raise _not_container(node, override, walked[:-1])
    if node.get(key) is None:
        node[key] = {}
    return node[key]


def _assign(node: Any, key: str, value: object, override: str, keys: list[str]) -> None:
    if isinstance(node, list):
        node[_index(node, key, override, keys)] = value
    elif isinstance(node, dict):
        node[key] = value
    else:
        raise _not_container(node, override, keys[:-1])


def _index(node: list[Any], key: str, override: str, walked: list[str]) -> int:
    if not (key.isascii() and key.isdigit()) or int(key) >= len(node):
        where = "$." + ".".join(walked[:-1])
        raise SpecError(
            f"--set {_shown(override)!r}: {where} is a list of {len(node)}; {key!r} is not an index into it"
        )
    return int(key)


def _not_container(node: object, override: str, walked: list[str]) -> SpecError:
    where = "$." + ".".join(walked)
    return SpecError(f"--set {_shown(override)!r}: {where} is {node!r}, not a mapping, so it has no keys to set")


def _shown(override: str) -> str:
    """An override as an error quotes it: a huge value is cut, so the error stays one readable line."""
    return override if len(override) <= 100 else f"{override[:80]}... ({len(override)} characters)"

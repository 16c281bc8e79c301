"""Decode raw YAML builtins into spec Structs, with Azure's leniency and one-line errors that name the $.path.

msgspec alone would reject `auth_mode: Key` (enum values are case-sensitive there) and reports dict entries as
`$.traffic[...]`. So the raw value is first walked against `msgspec.inspect.type_info(T)`: enum strings go through
Azure's camel_to_snake transform, YAML scalars become strings where the field asks for that, unknown keys are listed
against the allowed ones, and every type or range error names the exact key. msgspec then builds the Structs.
"""

from __future__ import annotations

import datetime
import difflib
import enum
import functools
import operator
import re
from collections.abc import Sequence
from typing import Any, TypeVar

import msgspec
import msgspec.inspect as mi
import yaml

from runtime.errors import SpecError
from runtime.spec import _yaml as bounded_yaml
from runtime.spec._types import SCALAR_TO_STR
from runtime.spec.overrides import blame

T = TypeVar("T")

# marshmallow's fields.Bool (what azure-ai-ml uses) accepts these besides real booleans.
_TRUE = frozenset({"t", "true", "y", "yes", "on", "1"})
_FALSE = frozenset({"f", "false", "n", "no", "off", "0"})


def parse_yaml(text: str, *, label: str) -> dict[str, Any]:
    """Parse one YAML document that must be a mapping; errors name the file, line and column."""
    try:
        data = bounded_yaml.load(text)
    except bounded_yaml.TooDeep as exc:
        raise SpecError(f"{label}: invalid YAML: {exc}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = exc.problem or exc.context or "cannot be parsed"
        raise SpecError(f"{label}: {where}invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{label}: invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        got = "an empty document" if data is None else _DESCRIBED.get(type_name(data), type_name(data))
        raise SpecError(f"{label}: expected a mapping of `key: value` lines, got {got}")
    return data


_DESCRIBED = {"array": "a list", "str": "a single string", "int": "a number", "float": "a number", "bool": "a boolean"}


def located(label: str, message: str) -> str:
    """`message` prefixed with the file it is about; a spec from flags alone (`<api>`) has no file to name."""
    return message if label.startswith("<") and label.endswith(">") else f"{label}: {message}"


def decode(raw: object, target: Any, *, label: str, overrides: Sequence[str] = ()) -> Any:
    """Validate `raw` against `target` (a Struct or generic alias) and build it; errors read `<label>: $.path: ...`.

    `overrides` are the --set arguments applied to `raw`: an error at a path one of them wrote names it.
    """
    try:
        prepared = _prepare(raw, _type_info(target), "$")
        return msgspec.convert(prepared, target)
    except _Invalid as exc:
        raise SpecError(located(label, blame(f"{exc.path}: {exc.reason}", overrides))) from None
    except msgspec.ValidationError as exc:  # a safety net: _prepare should have caught it with a better path
        message, _, at = str(exc).partition(" - at `")
        path = at.rstrip("`") or "$"
        raise SpecError(located(label, blame(f"{path}: {message}", overrides))) from None


def camel_to_snake(text: str) -> str:
    """Azure's casing transform for enum values: `AMLToken` -> `aml_token`, `TritonModel` -> `triton_model`."""
    text = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", text)
    return re.sub("([a-z0-9])([A-Z])", r"\1_\2", text).lower()


def type_name(value: object) -> str:
    """The JSON-ish name of a loaded YAML value, as msgspec words it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


class _Invalid(Exception):
    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@functools.cache
def _type_info(target: Any) -> mi.Type:
    return mi.type_info(target)


def _prepare(value: object, t: mi.Type, path: str) -> object:
    if isinstance(t, mi.Metadata):
        if t.extra and t.extra.get(SCALAR_TO_STR) and _is_scalar(value):
            value = _scalar_str(value)
        return _prepare(value, t.type, path)
    if isinstance(t, mi.UnionType):
        return _prepare_union(value, t, path)
    if isinstance(t, mi.StructType):
        if not isinstance(value, dict):
            raise _Invalid(path, f"Expected `object`, got `{type_name(value)}`")
        return _prepare_struct(value, t, path)
    if isinstance(t, mi.DictType):
        if not isinstance(value, dict):
            raise _Invalid(path, f"Expected `object`, got `{type_name(value)}`")
        for key in value:
            if not isinstance(key, str):
                raise _Invalid(f"{path}.{key}", f"keys must be strings, got `{type_name(key)}`")
        return {key: _prepare(item, t.value_type, f"{path}.{key}") for key, item in value.items()}
    if isinstance(t, mi.ListType | mi.VarTupleType):
        if not isinstance(value, list):
            raise _Invalid(path, f"Expected `array`, got `{type_name(value)}`")
        return [_prepare(item, t.item_type, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(t, mi.EnumType):
        return _enum_value(value, t.cls, path)
    return _scalar(value, t, path)


def _prepare_struct(value: dict[Any, Any], t: mi.StructType, path: str) -> dict[str, object]:
    fields = {f.encode_name: f for f in t.fields}
    allowed = sorted([*fields, t.tag_field] if t.tag_field else fields)
    out: dict[str, object] = {}
    for key, item in value.items():
        if key == t.tag_field:
            out[key] = item
        elif key in fields:
            out[key] = _prepare(item, fields[key].type, f"{path}.{key}")
        else:
            raise _Invalid(f"{path}.{key}", _unknown_key(key, allowed))
    for name, f in fields.items():
        if f.required and name not in value:
            raise _Invalid(f"{path}.{name}", "required key is missing")
    return out


def _unknown_key(key: object, allowed: list[str]) -> str:
    """A misspelt key names the key it is closest to; one that is close to none lists what is allowed."""
    close = difflib.get_close_matches(str(key), allowed, n=1) if isinstance(key, str) else []
    if close:
        return f"unknown key; did you mean {close[0]}?"
    return f"unknown key; allowed: {', '.join(allowed)}"


def _prepare_union(value: object, t: mi.UnionType, path: str) -> object:
    members = t.types
    if value is None and any(isinstance(m, mi.NoneType) for m in members):
        return None
    if isinstance(value, dict):
        structs = [m for m in members if isinstance(m, mi.StructType)]
        if len(structs) > 1:
            return _prepare_tagged(value, structs, path)
        mappings: list[mi.Type] = [m for m in members if isinstance(m, mi.StructType | mi.DictType)]
        if mappings:
            return _prepare(value, mappings[0], path)
    for member in members:
        if _accepts(member, value):
            return _prepare(value, member, path)
    expected = " | ".join(dict.fromkeys(_kind(m) for m in members))
    raise _Invalid(path, f"Expected `{expected}`, got `{type_name(value)}`")


def _prepare_tagged(value: dict[Any, Any], structs: list[mi.StructType], path: str) -> object:
    tag_field = structs[0].tag_field or "type"
    tags = {str(s.tag): s for s in structs}
    if tag_field not in value:
        raise _Invalid(f"{path}.{tag_field}", f"required key is missing; one of: {', '.join(tags)}")
    raw_tag = value[tag_field]
    tag = camel_to_snake(raw_tag) if isinstance(raw_tag, str) else raw_tag
    if tag not in tags:
        raise _Invalid(f"{path}.{tag_field}", f"{raw_tag!r} is not one of: {', '.join(tags)}")
    return _prepare_struct({**value, tag_field: tag}, tags[tag], path)


def _accepts(t: mi.Type, value: object) -> bool:
    """Whether `value` has the right Python kind for `t` (constraints are checked later)."""
    if isinstance(t, mi.Metadata):
        return _accepts(t.type, value) or bool(t.extra and t.extra.get(SCALAR_TO_STR) and _is_scalar(value))
    if isinstance(t, mi.StrType | mi.EnumType):
        return isinstance(value, str)
    if isinstance(t, mi.BoolType):
        return isinstance(value, bool)
    if isinstance(t, mi.IntType):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(t, mi.FloatType):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(t, mi.StructType | mi.DictType):
        return isinstance(value, dict)
    if isinstance(t, mi.ListType | mi.VarTupleType):
        return isinstance(value, list)
    return isinstance(t, mi.AnyType)


def _kind(t: mi.Type) -> str:
    if isinstance(t, mi.Metadata):
        return _kind(t.type)
    names: dict[type[mi.Type], str] = {
        mi.StrType: "str",
        mi.EnumType: "str",
        mi.BoolType: "bool",
        mi.IntType: "int",
        mi.FloatType: "float",
        mi.NoneType: "null",
        mi.StructType: "object",
        mi.DictType: "object",
        mi.ListType: "array",
        mi.VarTupleType: "array",
    }
    return names.get(type(t), "any")


def _enum_value(value: object, cls: type[enum.Enum], path: str) -> object:
    allowed = [str(member.value) for member in cls]
    if isinstance(value, str):
        for candidate in (camel_to_snake(value), value.lower()):
            if candidate in allowed:
                return candidate
        raise _Invalid(path, f"{value!r} is not one of: {', '.join(allowed)}")
    raise _Invalid(path, f"Expected `str` (one of: {', '.join(allowed)}), got `{type_name(value)}`")


def _scalar(value: object, t: mi.Type, path: str) -> object:
    if isinstance(t, mi.AnyType):
        return value
    if isinstance(t, mi.BoolType) and isinstance(value, str | int) and not isinstance(value, bool):
        text = str(value).strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
    if not _accepts(t, value):
        raise _Invalid(path, f"Expected `{_kind(t)}`, got `{type_name(value)}`")
    if isinstance(t, mi.IntType | mi.FloatType) and isinstance(value, int | float):
        _check_range(value, t, path)
    if isinstance(t, mi.StrType) and isinstance(value, str):
        if t.min_length is not None and len(value) < t.min_length:
            raise _Invalid(path, f"must be at least {t.min_length} characters")
        if t.pattern is not None and not re.search(t.pattern, value):
            raise _Invalid(path, f"{value!r} does not match {t.pattern}")
    return value


def _check_range(value: float, t: mi.IntType | mi.FloatType, path: str) -> None:
    bounds = ((t.ge, ">=", operator.ge), (t.gt, ">", operator.gt), (t.le, "<=", operator.le), (t.lt, "<", operator.lt))
    active = [(bound, symbol, op) for bound, symbol, op in bounds if bound is not None]
    if not all(op(value, bound) for bound, _, op in active):
        rule = " and ".join(f"{symbol} {bound}" for bound, symbol, _ in active)
        raise _Invalid(path, f"{value} is out of range: must be {rule}")


def _is_scalar(value: object) -> bool:
    return isinstance(value, int | float | bool | str | datetime.date)


def _scalar_str(value: object) -> str:
    if isinstance(value, datetime.date):  # datetime is a date subclass
        return value.isoformat()
    return str(value)

"""Reading a traffic split typed in the dashboard (`blue=80 green=20`), checked before anything is sent."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def parse_split(text: str, known: Iterable[str]) -> dict[str, int]:
    """The whole new split (deployments left out take 0); ValueError says what is wrong and what is allowed."""
    names = {n.lower(): n for n in known}
    allowed = ", ".join(names.values()) or "none"
    split = dict.fromkeys(names.values(), 0)
    seen: set[str] = set()
    parts = text.replace(",", " ").split()
    if not parts:
        raise ValueError(f"type name=percent pairs such as {_example(names.values())}")
    for part in parts:
        name, sep, value = part.partition("=")
        if not sep or not name:
            raise ValueError(f"{part!r} is not name=percent; for example {_example(names.values())}")
        stored = names.get(name.lower())
        if stored is None:
            raise ValueError(f"no deployment {name!r} on this endpoint; its deployments are {allowed}")
        if stored in seen:
            raise ValueError(f"{stored} is given twice")
        if not value.isdigit() or int(value) > 100:
            raise ValueError(f"{stored}={value}: a percentage is a whole number from 0 to 100")
        seen.add(stored)
        split[stored] = int(value)
    total = sum(split.values())
    if total != 100:
        raise ValueError(f"the percentages add up to {total}; they must add up to 100")
    return split


def describe(split: Mapping[str, int]) -> str:
    """`blue=80 green=20`: a split as it is typed."""
    return " ".join(f"{name}={pct}" for name, pct in split.items()) or "(none)"


def _example(names: Iterable[str]) -> str:
    listed = list(names)[:2] or ["blue", "green"]
    if len(listed) == 1:
        return f"{listed[0]}=100"
    return f"{listed[0]}=80 {listed[1]}=20"

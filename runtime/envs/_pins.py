"""Merging requirements for one project and spotting pins that no version can meet, without an index to ask.

A pin is `==X`, `===X` or the prefix form `==X.*`. Ranges alone are never called impossible here: telling that
`>=1.0,<1.0.1,!=1.0` still admits 1.0.0.1 needs the list of published versions, and a false alarm would refuse a
deployment that installs fine. Pins are cheap to judge exactly, and they are where users' files collide.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from packaging.requirements import Requirement
from packaging.specifiers import Specifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version


@dataclasses.dataclass
class Entry:
    """One project (under one marker) while requirements are merged: what it needs and the lines that said so."""

    name: str
    marker: str
    extras: set[str] = dataclasses.field(default_factory=set)
    specifier: SpecifierSet = dataclasses.field(default_factory=SpecifierSet)
    url: str | None = None
    said: list[str] = dataclasses.field(default_factory=list)
    urls: set[str] = dataclasses.field(default_factory=set)

    def render(self) -> str:
        """The entry as one PEP 508 string: canonical name, sorted extras, sorted specifiers, marker."""
        text = self.name + (f"[{','.join(sorted(self.extras))}]" if self.extras else "")
        if self.url:
            # PEP 508 has no form for a URL and a version range together; the URL names the one artifact wanted.
            text += f" @ {self.url}" + (" " if self.marker else "")
        else:
            text += str(self.specifier)
        return text + (f"; {self.marker}" if self.marker else "")


def normalized(req: Requirement) -> str:
    """`req` with its canonical name and extras, in the one spelling used for comparing and hashing."""
    return single(req).render()


def single(req: Requirement) -> Entry:
    """An Entry holding `req` alone."""
    entry = Entry(name=canonicalize_name(req.name), marker=str(req.marker) if req.marker else "")
    add(entry, req)
    return entry


def add(entry: Entry, req: Requirement) -> None:
    """Fold `req` (same project and marker) into `entry`."""
    entry.extras |= {canonicalize_name(e) for e in req.extras}
    entry.specifier &= req.specifier
    if req.url:
        entry.urls.add(req.url)
        entry.url = entry.url or req.url
    piece = Entry(name=entry.name, marker=entry.marker, extras={canonicalize_name(e) for e in req.extras})
    piece.specifier, piece.url = req.specifier, req.url
    entry.said.append(piece.render())


def merge(reqs: Iterable[Requirement]) -> tuple[list[str], list[str]]:
    """Normalized, sorted, merged requirement strings, and one sentence per project whose lines cannot all hold."""
    entries: dict[tuple[str, str], Entry] = {}
    for req in reqs:
        key = (canonicalize_name(req.name), str(req.marker) if req.marker else "")
        entry = entries.get(key)
        if entry is None:
            entries[key] = entry = Entry(name=key[0], marker=key[1])
        add(entry, req)
    conflicts = [clash(e) for e in entries.values() if len(e.urls) > 1 or impossible(e.specifier)]
    rendered = sorted((e.name, e.render()) for e in entries.values())
    return [text for _, text in rendered], conflicts


def clash(entry: Entry) -> str:
    """The sentence for an entry whose lines cannot all hold."""
    said = list(dict.fromkeys(entry.said))
    listed = " and ".join([", ".join(said[:-1]), said[-1]]) if len(said) > 1 else said[0]
    if len(entry.urls) > 1:
        return f"{listed} name different files for {entry.name}; keep one"
    return f"{listed} cannot {'both' if len(said) == 2 else 'all'} hold; keep one pin for {entry.name}"


def impossible(spec: SpecifierSet) -> bool:
    """Whether some pin in `spec` is excluded by the rest of it."""
    specs = list(spec)
    return any(not admits(pin, [s for s in specs if s is not pin]) for pin in specs if is_pin(pin))


def is_pin(spec: Specifier) -> bool:
    """Whether `spec` names one version, or one version prefix (`==1.2.*`)."""
    return spec.operator in ("==", "===")


def admits(pin: Specifier, others: Iterable[Specifier]) -> bool:
    """Whether some version meets `pin` and every one of `others`."""
    rest = list(others)
    if not pin.version.endswith(".*") or pin.operator == "===":
        return all(_contains(o, pin.version) for o in rest)
    return any(_contains(pin, c) and all(_contains(o, c) for o in rest) for c in _candidates(pin, rest))


def _contains(spec: Specifier, version: str) -> bool:
    # A user who pins a pre-release asked for it, so pre-releases count as versions here.
    return spec.contains(version, prereleases=True)


def _candidates(prefix: Specifier, others: list[Specifier]) -> list[str]:
    # The versions a prefix and a set of bounds could share lie at the prefix itself or next to a bound.
    found = [prefix.version[:-2]]
    for spec in [prefix, *others]:
        text = spec.version.removesuffix(".*")
        try:
            release = Version(text).release
        except InvalidVersion:
            continue
        bumped = (*release[:-1], release[-1] + 1)
        found += [text, ".".join(map(str, (*release, 1))), ".".join(map(str, bumped))]
    return found

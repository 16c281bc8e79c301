"""Which versions of a project have a wheel this interpreter can install, from the index's simple API (PEP 691).

A failed build asks this for each exact pin, so the error names every pin without a wheel and the nearest version
that has one, and `--relax-pins` can take that version. The interpreter is modelyard's own: environments are built
on it, so its tags (packaging.tags.sys_tags) are the ones that count.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterable

from packaging.tags import Tag, sys_tags
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

PYPI_SIMPLE = "https://pypi.org/simple"
_ACCEPT = "application/vnd.pypi.simple.v1+json"
_TIMEOUT_S = 20.0


def index_of(index_url: str | None) -> str:
    """The simple API root to ask: the configured index, or PyPI's."""
    return (index_url or PYPI_SIMPLE).rstrip("/")


def fetch_files(project: str, index: str) -> list[dict[str, object]]:
    """The files the index lists for `project` (PEP 691 JSON); [] when it has none; OSError when unreachable."""
    url = f"{index}/{canonicalize_name(project)}/"
    request = urllib.request.Request(url, headers={"Accept": _ACCEPT})
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as answer:  # noqa: S310 - the index's own URL
            body = json.load(answer)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return []
        raise OSError(f"{url}: HTTP {exc.code}") from None
    except (ValueError, urllib.error.URLError) as exc:
        raise OSError(f"{url}: {exc}") from None
    files = body.get("files", []) if isinstance(body, dict) else []
    return [f for f in files if isinstance(f, dict)]


def installable_versions(files: Iterable[dict[str, object]], tags: frozenset[Tag] | None = None) -> list[Version]:
    """Versions with at least one wheel (not yanked) whose tags this interpreter supports, oldest first."""
    supported = tags if tags is not None else frozenset(sys_tags())
    found: set[Version] = set()
    for entry in files:
        name = entry.get("filename")
        if not isinstance(name, str) or not name.endswith(".whl") or entry.get("yanked"):
            continue
        try:
            _, version, _, wheel_tags = parse_wheel_filename(name)
        except (InvalidWheelFilename, InvalidVersion):
            continue
        if not supported.isdisjoint(wheel_tags):
            found.add(version)
    return sorted(found)


def all_versions(files: Iterable[dict[str, object]]) -> list[Version]:
    """Every version the index has files for, oldest first."""
    found: set[Version] = set()
    for entry in files:
        name = entry.get("filename")
        if not isinstance(name, str):
            continue
        try:
            found.add(parse_wheel_filename(name)[1] if name.endswith(".whl") else _sdist_version(name))
        except (InvalidWheelFilename, InvalidVersion, ValueError):
            continue
    return sorted(found)


def nearest(pinned: Version, candidates: list[Version]) -> Version | None:
    """The candidate closest to the pin: the first newer final release, else the newest older one."""
    finals = [v for v in candidates if not v.is_prerelease] or candidates
    newer = [v for v in finals if v > pinned]
    if newer:
        return newer[0]
    older = [v for v in finals if v < pinned]
    return older[-1] if older else None


def _sdist_version(filename: str) -> Version:
    stem = filename
    for ext in (".tar.gz", ".zip", ".tar.bz2", ".tgz"):
        if stem.endswith(ext):
            stem = stem[: -len(ext)]
            break
    else:
        raise ValueError(filename)
    return Version(stem.rsplit("-", 1)[-1])

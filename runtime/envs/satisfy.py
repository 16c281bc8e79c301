"""Whether an environment's installed distributions already meet a requirement set, so nothing needs building."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

if TYPE_CHECKING:
    from runtime.envs.requirements import RequirementSet

#: Distributions that install another's modules under the same import name: asking for the key is met by any of
#: these (a GPU or headless build answers `import onnxruntime` / `import cv2` / `import tensorflow` the same way).
ALIASES: dict[str, tuple[str, ...]] = {
    "onnxruntime": ("onnxruntime-gpu", "onnxruntime-openvino", "onnxruntime-directml"),
    "opencv-python": ("opencv-python-headless", "opencv-contrib-python", "opencv-contrib-python-headless"),
    "opencv-python-headless": ("opencv-contrib-python-headless",),
    "tensorflow": ("tensorflow-cpu", "tensorflow-gpu"),
}

Requires = Callable[[str], "list[str] | None"]


def installed_here() -> dict[str, str]:
    """Canonical name -> version of every distribution this interpreter can import, the first on sys.path winning."""
    found: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found.setdefault(canonicalize_name(name), dist.version)
    return found


def dist_requires(name: str) -> list[str] | None:
    """The Requires-Dist lines of this interpreter's distribution `name`; None when it is not installed here."""
    try:
        return importlib.metadata.distribution(name).requires or []
    except importlib.metadata.PackageNotFoundError:
        return None


def satisfied_by(reqs: RequirementSet, installed: Mapping[str, str], *, requires: Requires = dist_requires) -> bool:
    """Whether `installed` (canonical name -> version) meets every requirement of `reqs` on this interpreter.

    A requirement whose marker is false here is met; URL requirements and index options never are (what they
    name cannot be compared without fetching it); an extra is met when its own requirements are, read one level
    deep through `requires`.
    """
    if reqs.index_options:
        return False
    return all(_met(Requirement(text), installed, requires) for text in reqs.requirements)


def _met(req: Requirement, installed: Mapping[str, str], requires: Requires) -> bool:
    if req.marker is not None and not req.marker.evaluate({"extra": ""}):
        return True
    if req.url:
        return False
    name = canonicalize_name(req.name)
    for dist in (name, *ALIASES.get(name, ())):
        version = installed.get(dist)
        if version is not None and _version_ok(req.specifier, version) and _extras_met(dist, req, installed, requires):
            return True
    return False


def _version_ok(spec: SpecifierSet, version: str) -> bool:
    # Pre-releases count: an environment that already holds one was built on purpose with it.
    return not spec or spec.contains(version, prereleases=True)


def _extras_met(dist: str, req: Requirement, installed: Mapping[str, str], requires: Requires) -> bool:
    if not req.extras:
        return True
    lines = requires(dist)
    if lines is None:
        return False
    for line in lines:
        try:
            dep = Requirement(line)
        except InvalidRequirement:
            continue
        if dep.marker is None or dep.marker.evaluate({"extra": ""}):
            continue  # a base dependency, not one an extra adds
        if not any(dep.marker.evaluate({"extra": extra}) for extra in req.extras):
            continue
        dep.marker = None
        dep.extras = set()  # one level is enough: the extra's own packages, not their extras
        if not _met(dep, installed, requires):
            return False
    return True

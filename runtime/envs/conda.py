"""Conda environment files (an Azure environment's `conda_file`) as requirement sets installed from PyPI.

Conda specs are translated to PEP 440 the way conda reads them: `numpy=1.23.5` is fuzzy (1.23.5.*), `numpy==1.23.5`,
`numpy 1.23.5` and `numpy=1.23.5=<build>` are exact, and build strings and channels are dropped (wheels have no
builds to pick). The `pip:` list passes through with requirements.txt semantics.
"""

from __future__ import annotations

import platform
import re
from pathlib import Path
from typing import Any

import msgspec
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from runtime.envs import conda_names
from runtime.envs.requirements import AZURE_SERVING, RequirementSet, build, read_lines
from runtime.errors import SpecError
from runtime.spec import parse_yaml

_KEYS = ("name", "channels", "dependencies", "prefix", "variables")
_SPEC = re.compile(r"(?:[^:\s]+::)?(?P<name>[A-Za-z0-9_][A-Za-z0-9_.\-]*)\s*(?P<rest>.*)")
_OPERATORS = ("==", "!=", ">=", "<=", "~=", ">", "<", "=")


def load_conda_file(path: Path) -> RequirementSet:
    """Read and translate the conda file at `path`; SpecError when it cannot be read or is not a conda file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SpecError(f"cannot read the conda file {path}: {why}") from None
    return from_conda(parse_yaml(text, label=str(path)) if text.strip() else {}, where=str(path))


def from_conda(doc: object, *, where: str) -> RequirementSet:
    """A parsed conda environment file as a requirement set; one SpecError names every entry that cannot be used."""
    if not isinstance(doc, dict):
        raise SpecError(f"{where}: a conda environment file is a mapping with name, channels and dependencies")
    unknown = [str(k) for k in doc if k not in _KEYS]
    if unknown:
        raise SpecError(f"{where}: unknown keys {', '.join(unknown)}; a conda file has {', '.join(_KEYS)}")
    if not isinstance(doc.get("channels") or [], list):
        raise SpecError(f"{where}: channels must be a list of channel names")
    deps = doc.get("dependencies") or []
    if not isinstance(deps, list):
        raise SpecError(f"{where}: dependencies must be a list of conda packages and at most one `pip:` list")
    notes = [_IGNORED[k] for k in ("prefix", "variables") if k in doc]
    conda_specs, pip_lines, problems = _split(deps)
    translated = _Translation()
    for text in conda_specs:
        translated.add(text)
    lines = read_lines(pip_lines)
    if translated.unknown:
        names = ", ".join(dict.fromkeys(translated.unknown))
        many = len(set(translated.unknown)) > 1
        subject, them = (f"conda packages {names} have", "them") if many else (f"conda package {names} has", "it")
        problems.append(f"{subject} no known PyPI name; list {them} under `pip:` with the PyPI name, or remove {them}")
    notes += translated.notes()
    return build(
        where,
        msgspec.structs.replace(lines, serving=(*translated.serving, *lines.serving)),
        extra=translated.requirements,
        extra_problems=[*problems, *translated.problems],
        notes=notes,
        python=translated.python,
        source=f"conda file {where}",
    )


_IGNORED = {
    "prefix": "`prefix` is ignored: modelyard keeps each environment in its own cache",
    "variables": "`variables` are not set: put them under the deployment's environment_variables",
}


def _split(deps: list[Any]) -> tuple[list[str], list[str], list[str]]:
    """The conda spec strings, the pip lines and the problems of a `dependencies` list."""
    specs: list[str] = []
    pip: list[str] = []
    problems: list[str] = []
    pip_lists = 0
    for item in deps:
        if isinstance(item, str):
            specs.append(item)
        elif isinstance(item, dict) and list(item) == ["pip"]:
            pip_lists += 1
            entries = item["pip"] or []
            if not isinstance(entries, list):
                problems.append("`pip:` must be a list of requirements")
                continue
            pip += [e for e in entries if isinstance(e, str)]
            problems += [f"pip entry {e!r} is not a requirement string" for e in entries if not isinstance(e, str)]
        else:
            problems.append(f"{item!r} is not a conda package spec or a `pip:` list")
    if pip_lists > 1:
        problems.append("dependencies has more than one `pip:` list; merge them into one")
    return specs, pip, problems


class _Translation:
    """Conda specs read one by one: the PyPI requirements, the python asked for, and what was dropped."""

    def __init__(self) -> None:
        self.requirements: list[Requirement] = []
        self.problems: list[str] = []
        self.unknown: list[str] = []
        self.dropped: list[str] = []
        self.renamed: list[str] = []
        self.serving: list[str] = []
        self.python: str | None = None
        self.python_note: str | None = None

    def add(self, text: str) -> None:
        """Translate one conda spec string."""
        match = _SPEC.fullmatch(text.strip())
        if match is None:
            self.problems.append(f"{text!r} is not a conda package spec")
            return
        raw = match["name"].lower()
        name = canonicalize_name(raw)
        if name == "python":
            self._python(text, match["rest"])
        elif raw.startswith(conda_names.CONDA_ONLY_PREFIXES) or name in conda_names.CONDA_ONLY:
            self.dropped.append(raw)
        elif name in AZURE_SERVING:
            self.serving.append(name)
        elif name in conda_names.RENAMED or name in conda_names.SAME_ON_PYPI:
            pypi = conda_names.RENAMED.get(name, name)
            if pypi != name:
                self.renamed.append(f"{raw} -> {pypi}")
            specs = self._specifiers(text, match["rest"])
            if specs is not None:
                self._require(text, pypi + ",".join(specs))
        else:
            self.unknown.append(raw)

    def _specifiers(self, text: str, rest: str) -> list[str] | None:
        specs, problem = conda_specifiers(rest)
        if problem:
            self.problems.append(f"{text!r} {problem}")
            return None
        return specs

    def _require(self, text: str, pep508: str) -> None:
        try:
            self.requirements.append(Requirement(pep508))
        except InvalidRequirement as exc:
            self.problems.append(f"{text!r} has no PyPI form ({str(exc).splitlines()[0]})")

    def _python(self, text: str, rest: str) -> None:
        specs = self._specifiers(text, rest)
        if specs is None or not specs:
            return
        single = specs[0].removeprefix("==").removesuffix(".*") if len(specs) == 1 and specs[0][:2] == "==" else None
        self.python = single or ",".join(specs)
        try:
            self.python_note = interpreter_note(text.strip(), SpecifierSet(",".join(specs)))
        except InvalidSpecifier:
            self.problems.append(f"{text!r} is not a Python version")

    def notes(self) -> list[str]:
        """The sentences to show for what this translation dropped or changed."""
        found: list[str] = [self.python_note] if self.python_note else []
        if self.dropped:
            names = list(dict.fromkeys(self.dropped))
            subject = (
                f"conda-only packages {', '.join(names)} are" if len(names) > 1 else f"conda-only package {names[0]} is"
            )
            found.append(
                f"{subject} left out: PyPI wheels carry their own libraries, and the environment has its own installer"
            )
        if self.renamed:
            found.append(f"conda names installed under their PyPI names: {', '.join(dict.fromkeys(self.renamed))}")
        return found


def interpreter_note(asked: str, spec: SpecifierSet) -> str | None:
    """The note for a Python version `spec` (written as `asked`) that the running interpreter does not meet."""
    running = platform.python_version()
    if spec.contains(running, prereleases=True):
        return None
    return (
        f"{asked} was asked for; this machine runs Python {running}, which the environment uses "
        "(modelyard does not download interpreters)"
    )


def conda_specifiers(rest: str) -> tuple[list[str], str | None]:
    """PEP 440 specifiers for the version part of a conda spec (what follows the name), or the problem with it."""
    rest = rest.strip()
    if "|" in rest:
        return [], "uses `|` (or), which pip cannot express; pick one version or range"
    if "[" in rest:
        return [], "uses conda's bracket syntax; write it as name=version"
    if not rest:
        return [], None
    if rest.startswith("=") and not rest.startswith("=="):
        version, _, build = rest[1:].partition("=")
        # conda: `name=1.2` means 1.2.*, but with a build string (`name=1.2=py39_0`) the version is exact.
        return _parts(version, fuzzy=not build)
    if rest.startswith("=="):
        return _parts(rest[2:].partition("=")[0], fuzzy=False)
    if rest.startswith(_OPERATORS):
        return _parts(rest.split()[0], fuzzy=False)
    tokens = rest.split()
    if len(tokens) > 2:
        return [], "has more than a version and a build string"
    return _parts(tokens[0], fuzzy=False)


def _parts(version: str, *, fuzzy: bool) -> tuple[list[str], str | None]:
    specs: list[str] = []
    for part in (p.strip() for p in version.split(",")):
        op = next((o for o in _OPERATORS if part.startswith(o)), "")
        value = part[len(op) :].strip()
        if value in ("", "*"):
            if op:
                return [], f"has an operator without a version ({part!r})"
            continue
        if op in ("", "=", "=="):
            glob = value.endswith("*")
            value = value.rstrip("*").rstrip(".")
            # A bare `=X` (or `X` after `name=`) is conda's fuzzy match; `X*` and `X.*` are prefixes everywhere.
            prefix = glob or op == "=" or (fuzzy and not op)
            specs.append(f"=={value}.*" if prefix else f"=={value}")
        else:
            specs.append(op + value)
    return specs, None

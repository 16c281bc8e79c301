"""Requirement sets: the packages a deployment's environment must hold, in one normalized, hashable form.

Every input (a requirements.txt, a conda file's `pip:` list, a curated environment, an MLflow model) ends as a
RequirementSet whose requirements are PEP 508 strings with canonical names, sorted, one entry per project (and
marker), so that two files asking for the same thing share one cached environment.
"""

from __future__ import annotations

import hashlib
import platform
import re
import sys
import sysconfig
from collections.abc import Iterable

import msgspec
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from runtime.envs import _pins
from runtime.envs.satisfy import installed_here, satisfied_by
from runtime.errors import SpecError

__all__ = [
    "INTERPRETER",
    "WORKER_NEEDS",
    "RequirementSet",
    "digest",
    "installed_here",
    "merged",
    "parse_requirements",
    "satisfied_by",
    "with_worker_needs",
]


class RequirementSet(msgspec.Struct, frozen=True, kw_only=True):
    """What an environment must hold: normalized PEP 508 requirements plus the index options to find them."""

    requirements: tuple[str, ...]  #: canonical names, sorted, one entry per project and marker
    index_options: tuple[str, ...] = ()  #: `--index-url U`, `--extra-index-url U`, `--find-links P`, in order
    python: str | None = None  #: the Python version the file asked for, e.g. "3.8"; informational
    notes: tuple[str, ...] = ()  #: sentences for the user: what was dropped or not honoured, and why
    source: str = ""  #: where the set came from, e.g. "conda file environment/conda.yaml"


#: The running interpreter, as environments built for it are keyed: implementation, version (with ABI flags such
#: as the free-threaded "t") and platform, e.g. "cpython-3.11.7-linux-x86_64".
INTERPRETER = (
    f"{sys.implementation.name}-{platform.python_version()}{getattr(sys, 'abiflags', '')}-{sysconfig.get_platform()}"
)

#: What modelyard's worker imports, so every environment gets them.
WORKER_NEEDS = ("msgspec>=0.19", "werkzeug>=3", "inference-schema>=1.5")

#: Azure's serving stack: modelyard serves the scoring contract itself, so installing these would only add a
#: second HTTP server and its pins (Flask 2 wants werkzeug<3, which the worker cannot use).
AZURE_SERVING = frozenset({"azureml-defaults", "azureml-inference-server-http", "azureml-contrib-services"})

_INDEX_OPTIONS = {
    "--index-url": "--index-url",
    "-i": "--index-url",
    "--extra-index-url": "--extra-index-url",
    "--find-links": "--find-links",
    "-f": "--find-links",
}
_NESTED = {"-r", "--requirement", "-c", "--constraint", "-e", "--editable"}
# Installer preferences: accepted (pip-compile and hand-written files carry them) but not passed on, since the
# builder owns how wheels are chosen; a note names them.
_HARMLESS = {"--pre", "--prefer-binary", "--only-binary", "--no-binary", "--trusted-host", "--use-feature"}
_COMMENT = re.compile(r"(^|\s)#.*$")
_OPTION = re.compile(r"(-{1,2}[A-Za-z][A-Za-z-]*)(?:[=\s]\s*(.*))?")
_HASH = re.compile(r"\s--hash[=\s]\s*\S+")
_PATHLIKE = re.compile(r"(\.{1,2}[/\\]|[/\\~]|[A-Za-z]:[/\\]|file:|[a-z+]+://)")
_ARCHIVE = (".whl", ".tar.gz", ".tgz", ".zip", ".tar.bz2")
ALLOWED_LINES = (
    "each line must be a requirement such as `numpy>=1.2` or `name @ https://...`, "
    "or one of --index-url URL, --extra-index-url URL, --find-links PATH"
)


class Lines(msgspec.Struct, frozen=True, kw_only=True):
    """requirements.txt lines read but not yet merged; `problems` holds one phrase per unusable line."""

    requirements: tuple[Requirement, ...] = ()
    index_options: tuple[str, ...] = ()
    serving: tuple[str, ...] = ()  #: Azure serving packages that were left out
    notes: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()


def read_lines(lines: Iterable[str]) -> Lines:
    """Parse requirements.txt lines (comments, continuations, index options) without merging or raising."""
    reqs: list[Requirement] = []
    index: list[str] = []
    serving: list[str] = []
    problems: list[str] = []
    unapplied: list[str] = []
    hashes = False
    for text in _logical(lines):
        if text.startswith("-"):
            kept, bad = _option(text)
            index += [kept] if kept else []
            problems += [bad] if bad else []
            unapplied += [] if kept or bad else [text.split()[0].split("=")[0]]
            continue
        bare = _HASH.sub("", text)
        hashes |= bare != text
        if _PATHLIKE.match(bare) or (bare.lower().endswith(_ARCHIVE) and " @ " not in bare):
            problems.append(f"{bare!r} is a path or URL, not a package; name the package (`name @ URL` for a URL)")
            continue
        try:
            req = Requirement(bare)
        except InvalidRequirement as exc:
            problems.append(f"{bare!r} is not a valid requirement ({str(exc).splitlines()[0]})")
            continue
        if canonicalize_name(req.name) in AZURE_SERVING:
            serving.append(canonicalize_name(req.name))
        else:
            reqs.append(req)
    notes = ["--hash options are not checked: modelyard installs by name and version"] if hashes else []
    if unapplied:
        listed = ", ".join(dict.fromkeys(unapplied))
        notes.append(f"installer options {listed} are ignored: only index options and requirements are used")
    return Lines(
        requirements=tuple(reqs),
        index_options=tuple(index),
        serving=tuple(dict.fromkeys(serving)),
        notes=tuple(notes),
        problems=tuple(problems),
    )


def _logical(lines: Iterable[str]) -> Iterable[str]:
    # Comments go first, line by line, so that a `\` inside a comment does not join the next line.
    pending = ""
    for raw in lines:
        line = _COMMENT.sub("", raw).strip()
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        text, pending = (pending + line).strip(), ""
        if text:
            yield text
    if pending.strip():
        yield pending.strip()


def _option(text: str) -> tuple[str | None, str | None]:
    """(the kept index line, or the problem); neither means an installer preference that can be ignored."""
    match = _OPTION.fullmatch(text)
    option, value = (match[1], (match[2] or "").strip()) if match else (text.split()[0], "")
    if option in _INDEX_OPTIONS:
        if not value:
            return None, f"{text!r} needs a URL or path after it"
        return f"{_INDEX_OPTIONS[option]} {value}", None
    if option in _NESTED:
        return None, f"{text!r} refers to another file or a local folder; list the packages themselves here"
    if option in _HARMLESS:
        return None, None
    return None, f"{text!r} is not an option modelyard understands"


def serving_note(names: Iterable[str]) -> str | None:
    """The note for Azure serving packages that were left out; None when there were none."""
    listed = list(dict.fromkeys(names))
    if not listed:
        return None
    verb = "is" if len(listed) == 1 else "are"
    return (
        f"{', '.join(listed)} {verb} left out: modelyard serves the scoring contract itself, "
        "azureml.contrib.services included"
    )


def refuse(where: str, problems: Iterable[str], *, allowed: str | None = None) -> None:
    """Raise one SpecError naming every problem (and what is allowed), or return when there are none."""
    found = list(problems)
    if found:
        tail = f"; {allowed}" if allowed else ""
        raise SpecError(f"{where}: {'; '.join(found)}{tail}")


def build(
    where: str,
    lines: Lines,
    *,
    extra: Iterable[Requirement] = (),
    extra_problems: Iterable[str] = (),
    notes: Iterable[str] = (),
    python: str | None = None,
    source: str = "",
) -> RequirementSet:
    """Merge parsed lines (and `extra` requirements) into a set, raising one SpecError for every problem found."""
    strings, conflicts = _pins.merge([*extra, *lines.requirements])
    problems = [*extra_problems, *lines.problems]
    refuse(where, [*problems, *conflicts], allowed=ALLOWED_LINES if lines.problems else None)
    note = serving_note(lines.serving)
    return RequirementSet(
        requirements=tuple(strings),
        index_options=tuple(dict.fromkeys(lines.index_options)),
        python=python,
        notes=tuple(dict.fromkeys([*notes, *lines.notes, *([note] if note else [])])),
        source=source,
    )


def parse_requirements(lines: Iterable[str], *, where: str) -> RequirementSet:
    """A requirements.txt as a set; SpecError for nested files, editables, paths and invalid requirements."""
    return build(where, read_lines(lines), source=where)


def merged(*sets: RequirementSet, notes: Iterable[str] = ()) -> RequirementSet:
    """The union of `sets` under the same merge rules; the first python asked for wins, notes are kept in order."""
    sources = list(dict.fromkeys(s.source for s in sets if s.source))
    where = ", ".join(sources) or "the environment"
    strings, conflicts = _pins.merge(Requirement(t) for s in sets for t in s.requirements)
    refuse(where, conflicts)
    return RequirementSet(
        requirements=tuple(strings),
        index_options=tuple(dict.fromkeys(o for s in sets for o in s.index_options)),
        python=next((s.python for s in sets if s.python is not None), None),
        notes=tuple(dict.fromkeys([*(n for s in sets for n in s.notes), *notes])),
        source=", ".join(sources),
    )


def digest(reqs: RequirementSet, *, interpreter: str = INTERPRETER, relax: bool = False) -> str:
    """16 hex characters naming the environment `reqs` builds on `interpreter`; notes and source do not count."""
    payload = msgspec.json.encode([sorted(reqs.requirements), list(reqs.index_options), interpreter, relax])
    return hashlib.sha256(payload).hexdigest()[:16]


def with_worker_needs(reqs: RequirementSet) -> RequirementSet:
    """`reqs` plus WORKER_NEEDS, keeping the user's pins; SpecError when a user pin excludes what the worker needs."""
    user = [Requirement(t) for t in reqs.requirements]
    problems: list[str] = []
    added: list[Requirement] = []
    for need_text in WORKER_NEEDS:
        need = Requirement(need_text)
        name = canonicalize_name(need.name)
        mine = [r for r in user if canonicalize_name(r.name) == name]
        # An entry under a marker false here never installs, so it neither conflicts nor stands in for the need.
        live = [r for r in mine if r.marker is None or r.marker.evaluate({"extra": ""})]
        for req in live:
            if req.url:
                continue
            bad = [p for p in req.specifier if _pins.is_pin(p) and not _pins.admits(p, need.specifier)]
            if bad:
                problems.append(
                    f"the environment pins {_pins.normalized(req)} but modelyard's worker needs {need_text}; "
                    f"remove the pin or pin a version that {need_text} admits"
                )
            else:
                added.append(_with_marker(need, req))
        if not any(r.marker is None for r in live):
            added.append(need)
    refuse(reqs.source or "the environment", problems)
    strings, conflicts = _pins.merge([*user, *added])
    refuse(reqs.source or "the environment", conflicts)
    return msgspec.structs.replace(reqs, requirements=tuple(strings))


def _with_marker(need: Requirement, req: Requirement) -> Requirement:
    # The need merges into the user's entry by sharing its marker (merging is per project and marker).
    joined = Requirement(need.name)
    joined.specifier = SpecifierSet(str(need.specifier))
    joined.marker = req.marker
    return joined

"""The content-addressed cache of built environments: one virtualenv per requirement set and interpreter.

    <root>/<digest>/                 the virtualenv; `modelyard-env.json` inside is written last and marks it built
    <root>/.logs/<digest>.log        the last build's log, kept when a build fails
    <root>/.locks/<digest>.lock      held while one process builds that digest
    <root>/.runtime/runtime          a link to modelyard's worker package, put on workers' PYTHONPATH

A digest is built once: concurrent callers in this process share one build, and other processes wait on the lock
file and then find it built. A folder without its marker is a build that was interrupted; it is never used and is
removed before the next try, and a failed build removes its folder at once, so nothing half-made is ever run.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import shutil
import sys
import time
from pathlib import Path

import msgspec
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet

from runtime.envs import wheels
from runtime.envs.installer import Installer, read_failure, run
from runtime.envs.requirements import INTERPRETER, RequirementSet, digest
from runtime.errors import BuildError, Code, NotFound, SpecError

log = logging.getLogger("modelyard.envs")

MARKER = "modelyard-env.json"
#: modelyard's own package folder (runtime/), linked into the cache for workers that run on another interpreter.
_PACKAGE = Path(__file__).resolve().parents[1]


class BuiltEnv(msgspec.Struct, frozen=True, kw_only=True):
    """A built environment, as its marker file records it."""

    digest: str
    path: str
    python: str  #: the interpreter workers start with
    requirements: tuple[str, ...]  #: what was installed from (a relaxed pin shows its new version)
    index_options: tuple[str, ...] = ()
    installed: tuple[str, ...] = ()  #: `name==version` of every distribution in it
    interpreter: str = INTERPRETER
    installer: str = "uv"
    build_seconds: float = 0.0
    created_at: float = 0.0
    relaxed: tuple[str, ...] = ()  #: pins replaced by the nearest version with a wheel, as sentences
    offline: bool = False  #: built from find-links folders with no index

    def version_of(self, project: str) -> str | None:
        """The installed version of one distribution (canonical or as spelt)."""
        want = project.lower().replace("_", "-")
        for line in self.installed:
            name, _, version = line.partition("==")
            if name.lower().replace("_", "-") == want:
                return version
        return None


class Progress(msgspec.Struct, kw_only=True):
    """A build under way, for progress displays."""

    digest: str
    started_at: float
    line: str = ""  #: the installer's last line (which package it is at)


class EnvSettings(msgspec.Struct, frozen=True, kw_only=True):
    """serve's environment options: where wheels come from, and whether pins without a wheel may move."""

    find_links: tuple[str, ...] = ()  #: wheelhouse folders: build from them alone, with no index
    index_url: str | None = None
    relax_pins: bool = False

    def cache(self, root: Path) -> EnvCache:
        """The cache these settings build with."""
        installer = Installer(find_links=[Path(p) for p in self.find_links], index_url=self.index_url)
        return EnvCache(root, installer, relax_pins=self.relax_pins)


class EnvCache:
    """Builds, finds, lists and removes environments under `root`."""

    def __init__(self, root: Path, installer: Installer | None = None, *, relax_pins: bool = False) -> None:
        self.root = root
        self.installer = installer or Installer()
        self.relax_pins = relax_pins  #: serve's default for sets that do not say
        self._tasks: dict[str, asyncio.Future[BuiltEnv]] = {}
        self.progress: dict[str, Progress] = {}
        self.failures: dict[str, str] = {}  #: digest -> why its last build failed

    def key(self, reqs: RequirementSet, relax: bool | None = None) -> str:
        """The digest a requirement set is built under."""
        return digest(reqs, relax=self.relax_pins if relax is None else relax)

    def python(self, key: str) -> Path:
        """The interpreter of the environment `key` (built or not)."""
        return self.root / key / "bin" / "python"

    def log_path(self, key: str) -> Path:
        """The log of the last build of `key`."""
        return self.root / ".logs" / f"{key}.log"

    def get(self, key: str) -> BuiltEnv | None:
        """The built environment `key`; None unless its build finished."""
        try:
            return msgspec.json.decode((self.root / key / MARKER).read_bytes(), type=BuiltEnv)
        except (OSError, msgspec.DecodeError):
            return None

    def builds(self) -> list[BuiltEnv]:
        """Every built environment, oldest first."""
        if not self.root.is_dir():
            return []
        found = [env for p in self.root.iterdir() if not p.name.startswith(".") and (env := self.get(p.name))]
        return sorted(found, key=lambda e: e.created_at)

    def worker_path(self) -> str:
        """A folder holding only modelyard's package, for a worker's PYTHONPATH (not modelyard's site-packages)."""
        shim = self.root / ".runtime"
        link = shim / "runtime"
        if not (link.is_symlink() and link.resolve() == _PACKAGE):
            shim.mkdir(parents=True, exist_ok=True)
            tmp = shim / f".runtime-{os.getpid()}"
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            tmp.symlink_to(_PACKAGE, target_is_directory=True)
            os.replace(tmp, link)
        return str(shim)

    async def ensure(self, reqs: RequirementSet, *, relax: bool | None = None) -> BuiltEnv:
        """The built environment for `reqs`, building it first when needed; BuildError when it cannot be built."""
        relax = self.relax_pins if relax is None else relax
        key = self.key(reqs, relax)
        if (env := self.get(key)) is not None:
            return env
        task = self._tasks.get(key)
        if task is None:
            task = asyncio.ensure_future(self._build(key, reqs, relax))
            self._tasks[key] = task
            task.add_done_callback(lambda _: self._tasks.pop(key, None))
        return await asyncio.shield(task)

    async def remove(self, key: str) -> bool:
        """Remove a built environment and its log; False when there was none. Refused while it builds."""
        if key in self._tasks:
            raise BuildError(f"environment {key} is being built; remove it once the build is done", code=Code.CONFLICT)
        path = self.root / key
        existed = path.exists()
        await asyncio.to_thread(shutil.rmtree, path, True)
        with contextlib.suppress(FileNotFoundError):
            self.log_path(key).unlink()
        self.failures.pop(key, None)
        return existed

    async def export(self, key: str, dest: Path) -> list[str]:
        """Download every wheel environment `key` holds into `dest`; the wheel file names."""
        env = self.get(key)
        if env is None:
            raise NotFound(f"environment {key} is not built; build it first (environment create, or a deployment)")
        pins = [line for line in env.installed if "==" in line and " @ " not in line]
        listing = dest / f".{key}-requirements.txt"
        try:
            await asyncio.to_thread(_write_listing, listing, pins)
        except OSError as exc:
            raise SpecError(
                f"cannot write the wheels into {dest}: {exc.strerror or exc}; name a folder you can write"
            ) from None
        cmd = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--only-binary=:all:"]
        cmd += ["--no-deps", "--dest", str(dest), *self.installer.source_options(env.index_options)]
        cmd += ["-r", str(listing)]
        out = dest / f".{key}-download.log"
        try:
            status = await run(cmd, self.installer.environment(), out, lambda _: None)
            if status != 0:
                failure = read_failure(out.read_text(errors="replace"))
                raise BuildError(f"exporting environment {key} failed: {failure.summary}", log=str(out))
            out.unlink()
        finally:
            listing.unlink(missing_ok=True)
        return sorted(name for name in os.listdir(dest) if name.endswith(".whl"))

    async def _build(self, key: str, reqs: RequirementSet, relax: bool) -> BuiltEnv:
        locks = self.root / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        (self.root / ".logs").mkdir(exist_ok=True)
        with open(locks / f"{key}.lock", "w") as lock:  # noqa: ASYNC230 - opening a lock file, once per build
            await asyncio.to_thread(fcntl.flock, lock, fcntl.LOCK_EX)
            try:
                if (env := self.get(key)) is not None:  # another process built it while this one waited
                    return env
                self.progress[key] = Progress(digest=key, started_at=time.time())
                self.failures.pop(key, None)
                try:
                    env = await self._install(key, reqs, relax)
                except BuildError as exc:
                    self.failures[key] = exc.message
                    raise
                log.info("built environment %s in %.1f s", key, env.build_seconds)
                return env
            finally:
                self.progress.pop(key, None)
                fcntl.flock(lock, fcntl.LOCK_UN)

    async def _install(self, key: str, reqs: RequirementSet, relax: bool) -> BuiltEnv:
        dest, log_file = self.root / key, self.log_path(key)
        started = time.monotonic()
        await asyncio.to_thread(shutil.rmtree, dest, True)  # an interrupted build's leftovers
        log_file.write_text(f"building environment {key} for {INTERPRETER} with {self.installer.kind}\n")
        installer, env_vars = self.installer, self.installer.environment()

        def note(line: str) -> None:
            # uv's preamble names the target, not the progress: which package, what step.
            if (progress := self.progress.get(key)) is not None and not line.startswith("Using "):
                progress.line = line

        try:
            if await run(installer.venv_command(dest), env_vars, log_file, note) != 0:
                raise BuildError(f"cannot create a virtualenv for environment {key}", log=str(log_file))
            python = dest / "bin" / "python"
            requirements, relaxed = list(reqs.requirements), []
            while True:
                listing = dest / "requirements.txt"
                listing.write_text("".join(f"{r}\n" for r in requirements))
                mark = log_file.stat().st_size
                command = installer.install_command(python, listing, reqs.index_options)
                if await run(command, env_vars, log_file, note) == 0:
                    break
                output = log_file.read_text(errors="replace")[mark:]
                swaps = await self._why(key, requirements, output, relax, str(log_file))
                requirements = [swaps.get(r, r) for r in requirements]
                relaxed += [
                    f"{old} has no wheel for this interpreter; {new} was installed" for old, new in swaps.items()
                ]
            note("compiling bytecode")
            for site in dest.glob("lib/python*/site-packages"):
                # A file that does not compile (a package's Python 2 leftovers) is only left to compile at import.
                await run(installer.compile_command(python, site), env_vars, log_file, note)
            frozen = await _capture(installer.freeze_command(python), env_vars)
            env = BuiltEnv(
                digest=key,
                path=str(dest),
                python=str(python),
                requirements=tuple(requirements),
                index_options=reqs.index_options,
                installed=tuple(ln for ln in frozen.splitlines() if ln and not ln.startswith("#")),
                installer=installer.kind,
                build_seconds=round(time.monotonic() - started, 2),
                created_at=time.time(),
                relaxed=tuple(relaxed),
                offline=installer.offline,
            )
            tmp = dest / (MARKER + ".tmp")
            tmp.write_bytes(msgspec.json.encode(env))
            os.replace(tmp, dest / MARKER)
            return env
        except BaseException:
            await asyncio.shield(asyncio.to_thread(shutil.rmtree, dest, True))
            raise

    async def _why(self, key: str, requirements: list[str], output: str, relax: bool, log_file: str) -> dict[str, str]:
        """Requirements to narrow to their nearest installable version (with relax); else the BuildError saying why.

        Each requirement with a version constraint is looked up on the index (only when a build failed), so one
        error names every one that cannot install here, not just the first the installer met."""
        failure = read_failure(output)
        if failure.kind == "unreachable":
            raise BuildError(
                f"environment {key} could not be built: {failure.summary}", log=log_file, code=Code.UNAVAILABLE
            )
        problems: list[str] = []
        swaps: dict[str, str] = {}
        if not self.installer.offline:
            index = wheels.index_of(self.installer.index_url)
            found = await asyncio.gather(*(asyncio.to_thread(_check, r, index) for r in requirements))
            for req, (problem, better) in zip(requirements, found, strict=True):
                if problem is None:
                    continue
                if relax and better is not None:
                    swaps[req] = better
                else:
                    problems.append(problem)
        if swaps and not problems:
            return swaps
        if not problems:
            problems.append(failure.summary)
        raise BuildError(f"environment {key} could not be built: {'; '.join(problems)}", log=log_file)


def _check(requirement: str, index: str) -> tuple[str | None, str | None]:
    """(what keeps the requirement from installing, or None; it narrowed to the nearest installable version)."""
    try:
        req = Requirement(requirement)
    except InvalidRequirement:
        return None, None
    if not req.specifier or (req.marker is not None and not req.marker.evaluate()):
        return None, None  # any version will do, or none is wanted here: the installer's own message stands
    try:
        files = wheels.fetch_files(req.name, index)
    except OSError:
        return None, None
    installable = wheels.installable_versions(files)
    if any(req.specifier.contains(v, prereleases=True) for v in installable):
        return None, None
    every = wheels.all_versions(files)
    matching = [v for v in every if req.specifier.contains(v, prereleases=True)]
    wanted = f"{req.name}{req.specifier}"
    if not matching:
        newest = f" (newest: {every[-1]})" if every else " (the index has no such project)"
        pinned = len(req.specifier) == 1 and next(iter(req.specifier)).operator in ("==", "===")
        return f"{wanted} {'does not exist' if pinned else 'matches no version'} on the index{newest}", None
    near = wheels.nearest(max(matching), installable)
    if near is None:
        return f"{wanted} has no wheel for {INTERPRETER}, nor does any other version", None
    req.specifier = SpecifierSet(f"=={near}")
    why = f"{wanted} has no wheel for {INTERPRETER}; the nearest version with one is {near}"
    return f"{why} (pass --relax-pins to take it)", str(req)


def _write_listing(path: Path, pins: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{p}\n" for p in pins))


async def _capture(cmd: list[str], env: dict[str, str]) -> str:
    proc = await asyncio.create_subprocess_exec(
        *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env=env
    )
    out, _ = await proc.communicate()
    return out.decode(errors="replace")

"""The installer that builds an environment: uv when it is installed (the `envs` extra), else venv + pip.

Both are driven as subprocesses with binary wheels only (`--only-binary :all:`), so a build never compiles and a
pin without a wheel for this interpreter fails fast, by name. What they print goes to the build log line by line;
the last line is the build's progress. A failure is read back from the log into one sentence (which pin has no
wheel, which version does not exist, which index cannot be reached) rather than the installer's whole report.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import msgspec

Kind = Literal["uv", "pip"]

#: uv's and pip's words for "this pin has no wheel this interpreter can install".
_NO_WHEEL = (
    re.compile(r"Because (?P<req>[A-Za-z0-9._-]+[=<>!~][^\s]*) has no (?:usable )?wheels"),
    re.compile(r"Could not find a version that satisfies the requirement (?P<req>[A-Za-z0-9._-]+==[^\s,)]+)"),
)
_NO_VERSION = re.compile(r"Because there is no version of (?P<req>[A-Za-z0-9._-]+==[^\s,]+)")
_OFFLINE = re.compile(
    r"(error sending request|dns error|Failed to fetch|Could not connect|Connection refused|"
    r"Network is unreachable|Temporary failure in name resolution|No route to host|Failed to establish)",
    re.IGNORECASE,
)


class Failure(msgspec.Struct, frozen=True):
    """Why an install failed, read from its output."""

    kind: Literal["no_wheel", "no_version", "unreachable", "other"]
    summary: str  #: one or a few lines for the user
    requirement: str = ""  #: the `name==version` it names, for no_wheel and no_version


class Installer:
    """Runs one installer; `find_links` and `index_url` choose where wheels come from."""

    def __init__(
        self,
        kind: Kind | None = None,
        *,
        find_links: Sequence[Path] = (),
        index_url: str | None = None,
    ) -> None:
        uv = _uv_binary()
        self.kind: Kind = kind or ("uv" if uv else "pip")
        if self.kind == "uv" and uv is None:
            raise ValueError("uv is not installed: install modelyard[envs], or build with pip")
        self._uv = uv or ""
        self.find_links = tuple(find_links)
        self.index_url = index_url

    @property
    def offline(self) -> bool:
        """Whether builds take wheels from the find-links folders only, with no index."""
        return bool(self.find_links)

    def venv_command(self, dest: Path) -> list[str]:
        """The command that creates an empty virtualenv at `dest` on this interpreter."""
        if self.kind == "uv":
            return [self._uv, "venv", "--quiet", "--python", sys.executable, str(dest)]
        return [sys.executable, "-m", "venv", str(dest)]

    def install_command(self, python: Path, requirements: Path, index_options: Sequence[str]) -> list[str]:
        """The command that installs a requirements file into the environment of `python`, wheels only."""
        if self.kind == "uv":
            cmd = [self._uv, "pip", "install", "--python", str(python), "--only-binary", ":all:"]
        else:
            cmd = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--only-binary=:all:"]
            cmd.append("--no-compile")  # compile_command does it, leaving the packages' own test suites out
        cmd += self.source_options(index_options)
        return [*cmd, "-r", str(requirements)]

    def compile_command(self, python: Path, site_packages: Path) -> list[str]:
        """The command that compiles an environment's bytecode once, so its workers start fast.

        Where PYTHONDONTWRITEBYTECODE is set a worker never caches what it compiles, and importing scikit-learn
        and pandas from source takes seconds at every start. The packages' own test suites are left out: they
        are half of what there is to compile and no worker imports them.
        """
        return [str(python), "-m", "compileall", "-q", "-j", "0", "-x", r"[/\\]tests?[/\\]", str(site_packages)]

    def freeze_command(self, python: Path) -> list[str]:
        """The command that lists what an environment holds, as `name==version` lines."""
        if self.kind == "uv":
            return [self._uv, "pip", "freeze", "--python", str(python)]
        return [str(python), "-m", "pip", "freeze", "--all", "--disable-pip-version-check"]

    def source_options(self, index_options: Sequence[str]) -> list[str]:
        """Where wheels come from: the find-links folders alone (offline), else the index and the set's options."""
        if self.find_links:
            # Offline: the user's index options would send the installer to an index that cannot be reached.
            return ["--no-index", *(arg for p in self.find_links for arg in ("--find-links", str(p)))]
        options = ["--index-url", self.index_url] if self.index_url else []
        for option in index_options:
            options += option.split(None, 1)
        return options

    def environment(self) -> dict[str, str]:
        """The installer's process environment: never download an interpreter, never ask a question."""
        env = dict(os.environ)
        env["UV_PYTHON_DOWNLOADS"] = "never"
        env["PIP_NO_INPUT"] = "1"
        env.pop("VIRTUAL_ENV", None)  # modelyard's own venv must not become the target
        return env


async def run(cmd: Sequence[str], env: dict[str, str], log: Path, on_line: Callable[[str], None]) -> int:
    """Run `cmd`, appending its output to `log` and passing each line on; its exit status.

    Cancelled (the server stops), the process is killed before the cancellation goes on.
    """
    proc = await asyncio.create_subprocess_exec(
        *cmd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    assert proc.stdout is not None
    try:
        with open(log, "ab") as out:  # noqa: ASYNC230 - a local append per line of a child's output
            out.write(("$ " + " ".join(cmd) + "\n").encode())
            while line := await proc.stdout.readline():
                out.write(line)
                text = line.decode(errors="replace").strip()
                if text:
                    on_line(text)
        return await proc.wait()
    except BaseException:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise


def read_failure(output: str) -> Failure:
    """What went wrong, from an installer's output."""
    for pattern in _NO_WHEEL:
        if found := pattern.search(output):
            req = found["req"]
            return Failure("no_wheel", f"{req} has no wheel for this interpreter", req)
    if found := _NO_VERSION.search(output):
        req = found["req"]
        return Failure("no_version", f"{req} does not exist on the index", req)
    if _OFFLINE.search(output):
        return Failure("unreachable", "the package index cannot be reached: " + _last_lines(output, 2))
    return Failure("other", _last_lines(output, 6))


def _last_lines(output: str, count: int) -> str:
    lines = [ln.strip() for ln in output.splitlines() if ln.strip() and not ln.startswith("$ ")]
    # uv ends with hints about its own flags; the cause comes before them.
    causes = [ln for ln in lines if not ln.startswith("hint:")]
    return " ".join((causes or lines)[-count:])


def _uv_binary() -> str | None:
    """uv next to this interpreter (the `envs` extra), from its package, or on PATH."""
    beside = Path(sys.executable).parent / "uv"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    try:
        from uv import find_uv_bin  # type: ignore[import-not-found,unused-ignore]

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")

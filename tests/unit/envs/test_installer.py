"""What the installer is asked to run, and how its failures read back as one sentence."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from runtime.envs.installer import Installer, read_failure

UV_NO_WHEEL = """\
  x No solution found when resolving dependencies:
  `-> Because msgpack==1.0.0 has no usable wheels and you require msgpack==1.0.0, we can conclude that your
      requirements are unsatisfiable.
hint: Wheels are required for `msgpack` because building from source is disabled for all packages
"""
UV_RANGE = "cause: Because matplotlib>=3.5.0,<=3.5.3 has no usable wheels and only the following versions ..."
UV_NO_VERSION = "Because there is no version of numpy==99.0.1 and you require numpy==99.0.1, we can conclude ..."
PIP_NO_WHEEL = (
    "ERROR: Could not find a version that satisfies the requirement scikit-learn==1.0.2 (from versions: 1.1.3)"
)
OFFLINE = "error: Failed to fetch: `http://127.0.0.1:9/simple/numpy/`\n  Caused by: Connection refused (os error 111)"


@pytest.mark.parametrize(
    ("output", "kind", "requirement"),
    [
        (UV_NO_WHEEL, "no_wheel", "msgpack==1.0.0"),
        (UV_RANGE, "no_wheel", "matplotlib>=3.5.0,<=3.5.3"),
        (PIP_NO_WHEEL, "no_wheel", "scikit-learn==1.0.2"),
        (UV_NO_VERSION, "no_version", "numpy==99.0.1"),
        (OFFLINE, "unreachable", ""),
        ("error: something else broke\nhint: try --verbose", "other", ""),
    ],
)
def test_failures_are_read_back_by_kind(output: str, kind: str, requirement: str) -> None:
    failure = read_failure(output)
    assert (failure.kind, failure.requirement) == (kind, requirement)
    if kind == "other":
        assert failure.summary == "error: something else broke"  # uv's hint about its own flags is left out


def test_uv_installs_wheels_only_and_never_downloads_an_interpreter(tmp_path: Path) -> None:
    uv = Installer("uv")
    python = tmp_path / "bin" / "python"
    assert uv.venv_command(tmp_path)[1:] == ["venv", "--quiet", "--python", sys.executable, str(tmp_path)]
    install = uv.install_command(python, tmp_path / "r.txt", ["--extra-index-url https://example.org/simple"])
    assert install[1:7] == ["pip", "install", "--python", str(python), "--only-binary", ":all:"]
    assert install[-4:] == ["--extra-index-url", "https://example.org/simple", "-r", str(tmp_path / "r.txt")]
    env = uv.environment()
    assert env["UV_PYTHON_DOWNLOADS"] == "never" and "VIRTUAL_ENV" not in env


def test_pip_is_the_fallback_with_the_same_rules(tmp_path: Path) -> None:
    pip = Installer("pip")
    python = tmp_path / "bin" / "python"
    assert pip.venv_command(tmp_path) == [sys.executable, "-m", "venv", str(tmp_path)]
    install = pip.install_command(python, tmp_path / "r.txt", [])
    assert install[:3] == [str(python), "-m", "pip"] and "--only-binary=:all:" in install and "--no-compile" in install
    assert pip.freeze_command(python)[:3] == [str(python), "-m", "pip"]


def test_find_links_means_no_index_at_all(tmp_path: Path) -> None:
    offline = Installer("uv", find_links=[tmp_path / "wheelhouse"], index_url="https://example.org/simple")
    assert offline.offline
    # The set's own index options would send the installer to an index; offline they are dropped.
    options = offline.source_options(["--index-url https://download.pytorch.org/whl/cpu"])
    assert options == ["--no-index", "--find-links", str(tmp_path / "wheelhouse")]


def test_compiling_leaves_the_packages_test_suites_out(tmp_path: Path) -> None:
    command = Installer("pip").compile_command(tmp_path / "python", tmp_path / "site-packages")
    assert command[1:3] == ["-m", "compileall"] and r"[/\\]tests?[/\\]" in command

"""The environment cache with a stand-in installer: real subprocesses that record what they were asked to do.

The stand-in makes a folder with a `bin/python` (a symlink to this interpreter) instead of a virtualenv, and its
install step appends a line to a tally file, sleeps a little and succeeds or fails as the requirements say; so
the cache's own rules (one build per hash, nothing half-made, logs kept, cancellation) are what is tested.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from runtime.envs.cache import MARKER, EnvCache
from runtime.envs.installer import Installer
from runtime.envs.requirements import RequirementSet
from runtime.errors import BuildError, Code

_VENV = "import os, sys; d = sys.argv[1]; os.makedirs(d + '/bin'); os.symlink(sys.executable, d + '/bin/python')"
_INSTALL = """
import sys, time
tally, listing = sys.argv[1], sys.argv[2]
with open(tally, "a") as f:
    f.write("install\\n")
wanted = open(listing).read()
print("Resolved 1 package")
time.sleep(float(sys.argv[3]))
if "broken" in wanted:
    print("error: Because broken==1.0 has no usable wheels and you require broken==1.0, ...")
    sys.exit(1)
print("Installed 1 package")
"""


class Recorder(Installer):
    """An installer whose steps are small Python processes; `tally` counts the installs run."""

    def __init__(self, tally: Path, delay: float = 0.2) -> None:
        super().__init__("pip")
        self.tally, self.delay = tally, delay

    def venv_command(self, dest: Path) -> list[str]:
        return [sys.executable, "-c", _VENV, str(dest)]

    def install_command(self, python: Path, requirements: Path, index_options: Sequence[str]) -> list[str]:
        return [sys.executable, "-c", _INSTALL, str(self.tally), str(requirements), str(self.delay)]

    def freeze_command(self, python: Path) -> list[str]:
        return [sys.executable, "-c", "print('numpy==1.26.4')"]


def reqs(*names: str) -> RequirementSet:
    return RequirementSet(requirements=names)


def installs(tally: Path) -> int:
    return len(tally.read_text().splitlines()) if tally.exists() else 0


def visible(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if not p.name.startswith("."))


def test_concurrent_callers_of_one_set_share_one_build(tmp_path: Path) -> None:
    tally = tmp_path / "tally"
    cache = EnvCache(tmp_path / "envs", Recorder(tally))

    async def main() -> list[str]:
        built = await asyncio.gather(*(cache.ensure(reqs("numpy==1.26.4")) for _ in range(5)))
        return [env.digest for env in built]

    digests = asyncio.run(main())
    assert len(set(digests)) == 1 and installs(tally) == 1
    env = cache.get(digests[0])
    assert env is not None and env.installed == ("numpy==1.26.4",) and env.version_of("NumPy") == "1.26.4"
    # Asked again later, and by a second cache on the same folder (another process): found, not installed again.
    asyncio.run(cache.ensure(reqs("numpy==1.26.4")))
    asyncio.run(EnvCache(tmp_path / "envs", Recorder(tally)).ensure(reqs("numpy==1.26.4")))
    assert installs(tally) == 1
    assert [e.digest for e in cache.builds()] == digests[:1]


def test_two_sets_build_two_environments(tmp_path: Path) -> None:
    cache = EnvCache(tmp_path / "envs", Recorder(tmp_path / "tally", delay=0))
    one = asyncio.run(cache.ensure(reqs("numpy==1.26.4")))
    two = asyncio.run(cache.ensure(reqs("numpy==2.2.6")))
    assert one.digest != two.digest and visible(tmp_path / "envs") == sorted([one.digest, two.digest])
    assert Path(one.python).parent.parent == tmp_path / "envs" / one.digest


def test_a_failed_build_leaves_no_folder_and_keeps_its_log(tmp_path: Path) -> None:
    cache = EnvCache(tmp_path / "envs", Recorder(tmp_path / "tally", delay=0))
    cache.installer.find_links = (tmp_path,)  # offline: no index is asked about the pin
    with pytest.raises(BuildError) as failed:
        asyncio.run(cache.ensure(reqs("broken==1.0")))
    key = cache.key(reqs("broken==1.0"))
    assert failed.value.code is Code.INVALID_ARGUMENT
    assert "broken==1.0 has no wheel for this interpreter" in failed.value.message
    assert str(cache.log_path(key)) in failed.value.message
    assert visible(tmp_path / "envs") == []
    assert "has no usable wheels" in cache.log_path(key).read_text()
    assert cache.failures[key] == failed.value.message and cache.get(key) is None


def test_a_folder_an_interrupted_build_left_is_built_again(tmp_path: Path) -> None:
    tally = tmp_path / "tally"
    cache = EnvCache(tmp_path / "envs", Recorder(tally, delay=0))
    key = cache.key(reqs("numpy==1.26.4"))
    leftover = tmp_path / "envs" / key
    (leftover / "lib").mkdir(parents=True)  # no marker: the build never finished
    assert cache.get(key) is None and cache.builds() == []
    env = asyncio.run(cache.ensure(reqs("numpy==1.26.4")))
    assert installs(tally) == 1 and (leftover / MARKER).exists() and not (leftover / "lib").exists()
    assert env.digest == key


def test_a_cancelled_build_stops_its_installer_and_leaves_nothing(tmp_path: Path) -> None:
    cache = EnvCache(tmp_path / "envs", Recorder(tmp_path / "tally", delay=30))

    async def main() -> None:
        task = asyncio.ensure_future(cache.ensure(reqs("numpy==1.26.4")))
        for _ in range(500):  # until the installer runs
            if (tmp_path / "tally").exists():
                break
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.1)  # the shielded build sees the cancellation through the server's shutdown

    asyncio.run(main())
    assert visible(tmp_path / "envs") == []


def test_remove_takes_the_folder_and_its_log(tmp_path: Path) -> None:
    cache = EnvCache(tmp_path / "envs", Recorder(tmp_path / "tally", delay=0))
    env = asyncio.run(cache.ensure(reqs("numpy==1.26.4")))
    assert asyncio.run(cache.remove(env.digest)) is True
    assert cache.get(env.digest) is None and not cache.log_path(env.digest).exists()
    assert asyncio.run(cache.remove(env.digest)) is False


def test_the_worker_path_holds_only_modelyards_package(tmp_path: Path) -> None:
    cache = EnvCache(tmp_path / "envs")
    shim = Path(cache.worker_path())
    assert sorted(p.name for p in shim.iterdir()) == ["runtime"]
    assert (shim / "runtime" / "worker" / "__main__.py").is_file()
    assert cache.worker_path() == str(shim)  # the link is kept, not made again

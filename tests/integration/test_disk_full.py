"""A full state directory: workers come back once there is room again, and management calls fail cleanly.

The state directory lives on a small tmpfs when the test may mount one (root, no container rule against it). Where
mounting is refused it cannot be filled for real, so the same test makes the same paths unwritable instead: the
OSError is then another one (500 rather than 507), and the test says so on stdout.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from live import FIXTURES, Server, wait_for_state

DEPLOYMENT = FIXTURES / "echo-deployment.yml"


class Disk:
    """A folder that can be filled until writes fail, and emptied again."""

    def __init__(self, root: Path, mounted: bool) -> None:
        self.root = root
        self.mounted = mounted
        self._filler = root / "filler"
        self._blocked: list[tuple[Path, Path]] = []

    def fill(self, log: Path, folder: Path) -> None:
        """Take every free byte, the last page of `log` included (mounted), or make `log`'s folder and `folder`
        unwritable paths (not mounted)."""
        if not self.mounted:
            for path in (log.parent, folder):  # the folder becomes a file: creating or opening anything in it fails
                aside = path.with_name(path.name + ".aside")
                path.rename(aside)
                path.write_bytes(b"")
                self._blocked.append((path, aside))
            return
        for path, sizes in ((self._filler, (2**20, 4096)), (log, (1,))):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
            try:
                for size in sizes:
                    _write_until_full(fd, size)
            finally:
                os.close(fd)

    def free(self) -> None:
        """Give the space (or the paths) back."""
        self._filler.unlink(missing_ok=True)
        for folder, aside in self._blocked:
            folder.unlink()
            aside.rename(folder)
        self._blocked.clear()


def _write_until_full(fd: int, size: int) -> None:
    chunk = b"x" * size
    while True:
        try:
            os.write(fd, chunk)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
            return


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Disk]:
    root = tmp_path / "disk"
    root.mkdir()
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(root)], capture_output=True, text=True, check=False
    )
    mounted = mount.returncode == 0
    if not mounted:
        print(f"mounting a tmpfs was refused ({mount.stderr.strip()}): unwritable paths stand in for a full disk")  # noqa: T201
    try:
        yield Disk(root, mounted)
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(root)], check=False)


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.name != "serve.out"}


def test_a_full_disk_delays_a_restart_until_there_is_room_and_a_create_leaves_no_trace(
    disk: Disk, tmp_path: Path
) -> None:
    server = Server(disk.root / "state")
    server.state.mkdir()
    serve_log = tmp_path / "serve.out"
    (server.state / "serve.out").symlink_to(serve_log)  # serve's own log stays writable, to be read afterwards
    server.start()
    try:
        server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
        server.deploy_echo("--all-traffic")
        auth = {"Authorization": f"Bearer {server.key('fix')}"}
        admin = {"Authorization": f"Bearer {(server.state / 'admin-token').read_text().strip()}"}
        worker_log = server.state / "logs" / "fix" / "echo" / "echo-0.log"
        with server.client() as http:
            assert http.post("/endpoints/fix/score", json={"k": 1}, headers=auth).status_code == 200
            (old_pid,) = [w["pid"] for w in _workers(http, admin)]
            disk.fill(worker_log, server.state / "snapshots" / "fix")
            before = _tree(server.state)

            # A create that cannot write its files: a JSON error in the API's shape, and nothing left behind.
            body = {"yaml": DEPLOYMENT.read_text(), "source": str(DEPLOYMENT), "name": "green"}
            r = http.post("/api/endpoints/fix/deployments", json=body, headers=admin)
            assert r.headers["content-type"] == "application/json"
            error = r.json()["error"]
            if disk.mounted:
                assert r.status_code == 507 and error["code"] == "insufficient_storage", r.text
                assert "No space left on device" in error["message"], error
            else:
                assert r.status_code == 500 and error["code"] == "internal", r.text
            names = [d["name"] for d in http.get("/api/endpoints/fix/deployments", headers=admin).json()]
            assert names == ["echo"]
            assert _tree(server.state) == before

            # A worker that exits now cannot be restarted (its log takes no line): it is retried, not given up.
            os.kill(old_pid, signal.SIGKILL)
            deadline = time.monotonic() + 30
            while "restart failed" not in serve_log.read_text():
                assert time.monotonic() < deadline, serve_log.read_text()[-2000:]
                time.sleep(0.1)
            (w,) = _workers(http, admin)
            assert w["state"] == "Restarting" and w["pid"] is None
            assert http.post("/endpoints/fix/score", json={}, headers=auth).status_code == 503
            disk.free()
            deadline = time.monotonic() + 60  # the backoff is at most 30 s
            while not ((w := _workers(http, admin)[0])["state"] == "Ready" and w["pid"] not in (None, old_pid)):
                assert time.monotonic() < deadline, f"the worker did not come back: {w}"
                time.sleep(0.1)
            assert http.post("/endpoints/fix/score", json={"k": 2}, headers=auth).status_code == 200
        text = serve_log.read_text()
        why = "No space left on device" if disk.mounted else "cannot open its log"
        assert any("restart failed" in line and why in line for line in text.splitlines()), text[-2000:]
        assert "is back after" in text
    finally:
        server.stop()
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(server.state)


def test_a_worker_whose_log_disk_is_full_keeps_serving_and_says_how_many_lines_it_lost(
    disk: Disk, tmp_path: Path
) -> None:
    if not disk.mounted:
        pytest.skip("an open log cannot be made to refuse writes without a tmpfs to fill")
    server = Server(disk.root / "state")
    server.state.mkdir()
    (server.state / "serve.out").symlink_to(tmp_path / "serve.out")
    server.start()
    try:
        server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
        server.deploy_echo("--all-traffic")
        auth = {"Authorization": f"Bearer {server.key('fix')}"}
        admin = {"Authorization": f"Bearer {(server.state / 'admin-token').read_text().strip()}"}
        worker_log = server.state / "logs" / "fix" / "echo" / "echo-0.log"
        with server.client() as http:
            assert http.post("/endpoints/fix/score", json={"k": 1}, headers=auth).status_code == 200
            (pid,) = [w["pid"] for w in _workers(http, admin)]
            disk.fill(worker_log, server.state / "snapshots" / "fix")
            # Every answer logs an access line the disk refuses; the worker drops them and keeps serving.
            for i in range(20):
                r = http.post("/endpoints/fix/score", json={"k": i}, headers=auth)
                assert r.status_code == 200, r.text
            assert [(w["pid"], w["state"]) for w in _workers(http, admin)] == [(pid, "Ready")]
            assert "The log lost" not in worker_log.read_text(errors="replace")
            disk.free()
            assert http.post("/endpoints/fix/score", json={"k": 20}, headers=auth).status_code == 200
            deadline = time.monotonic() + 30  # the worker writes its log once it has nothing left to answer
            while "The log lost" not in (text := worker_log.read_text(errors="replace")):
                assert time.monotonic() < deadline, text[-2000:]
                time.sleep(0.05)
            assert [w["pid"] for w in _workers(http, admin)] == [pid]
        (notice,) = [line for line in text.splitlines() if "The log lost" in line]
        lost = int(notice.split("The log lost ")[1].split()[0])
        assert lost >= 20 and "No space left on device" in notice, notice
    finally:
        server.stop()
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(server.state)


def test_a_deployment_whose_outcome_cannot_be_recorded_shows_succeeded_once_there_is_room(
    disk: Disk, tmp_path: Path
) -> None:
    if not disk.mounted:
        pytest.skip("the state database refuses writes only on a full tmpfs")
    server = Server(disk.root / "state")
    server.state.mkdir()
    serve_log = tmp_path / "serve.out"
    (server.state / "serve.out").symlink_to(serve_log)
    server.start()
    try:
        server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
        go = tmp_path / "go"  # init() waits for it, so the disk fills between the create and the workers' start
        server.deploy_echo("--all-traffic", "--no-wait", "--set", f"environment_variables.INIT_WAIT_FOR={go}")
        auth = {"Authorization": f"Bearer {server.key('fix')}"}
        admin = {"Authorization": f"Bearer {(server.state / 'admin-token').read_text().strip()}"}
        with server.client() as http:
            deadline = time.monotonic() + 30
            while not [w for w in _workers(http, admin) if w["pid"]]:
                assert time.monotonic() < deadline, _workers(http, admin)
                time.sleep(0.05)
            disk.fill(server.state / "logs" / "fix" / "echo" / "echo-0.log", server.state / "snapshots" / "fix")
            go.touch()
            deadline = time.monotonic() + 30
            while "cannot record its state Succeeded" not in serve_log.read_text():
                assert time.monotonic() < deadline, serve_log.read_text()[-2000:]
                time.sleep(0.05)
            shown = http.get("/api/endpoints/fix/deployments/echo", headers=admin).json()
            assert shown["provisioning_state"] == "Creating"
            assert [w["state"] for w in shown["workers"]] == ["Ready"]
            disk.free()
            wait_for_state(server, "fix", "echo", "Succeeded")
            assert http.post("/endpoints/fix/score", json={"k": 1}, headers=auth).status_code == 200
        warning = next(line for line in serve_log.read_text().splitlines() if "cannot record its state" in line)
        assert "database or disk is full" in warning, warning
    finally:
        server.stop()
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(server.state)


def _workers(http: httpx.Client, admin: dict[str, str]) -> list[dict[str, Any]]:
    shown = http.get("/api/endpoints/fix/deployments/echo", headers=admin).json()
    return list(shown["workers"])

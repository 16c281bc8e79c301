"""WorkerHandle against an in-process peer that speaks the real frame protocol over the real Unix socket.

Only the process is faked: `asyncio.create_subprocess_exec` starts a peer coroutine that connects to the socket the
handle listens on, as `python -m runtime.worker` would, and "exits" when told to or when its socket closes.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from runtime.control import worker_handle
from runtime.control.worker_handle import WorkerHandle
from runtime.errors import WorkerLost, WorkerStartError
from runtime.ipc.framing import encode_frame, worker_decoder
from runtime.ipc.messages import Failure, Infer, Load, Ping, Pong, Ready, Result, Shutdown

FAKE_PID = 999_999_999  #: above any real pid: a stray signal to it can reach nothing


class Peer:
    """The worker's side: answers Load with Ready, Pings with Pongs, and Infers as `on_infer` decides."""

    def __init__(self) -> None:
        self.returncode: int | None = None
        self.pid = FAKE_PID
        self.infers: asyncio.Queue[Infer] = asyncio.Queue()
        self.answer_pings = True
        self.load_failure: str | None = None
        self._exited = asyncio.Event()
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None

    async def wait(self) -> int:
        """What asyncio.subprocess.Process.wait returns: the exit status, negative for a signal."""
        await self._exited.wait()
        assert self.returncode is not None
        return self.returncode

    def exit(self, status: int) -> None:
        """End the 'process' (a negative status is death by that signal); its socket closes with it."""
        if self.returncode is None:
            self.returncode = status
            if self._writer is not None:
                self._writer.close()
            self._exited.set()

    def send(self, message: Any) -> None:
        assert self._writer is not None
        self._writer.write(encode_frame(message))

    def send_raw(self, data: bytes) -> None:
        assert self._writer is not None
        self._writer.write(data)

    def spawn(self, socket_path: str) -> None:
        self._task = asyncio.get_running_loop().create_task(self._serve(socket_path))

    async def _serve(self, socket_path: str) -> None:
        reader, self._writer = await asyncio.open_unix_connection(socket_path)
        decoder = worker_decoder()
        while data := await reader.read(65536):
            for message in decoder.feed(data):
                match message:
                    case Load():
                        if self.load_failure is not None:
                            self.send(Failure(0, "unavailable", self.load_failure))
                        else:
                            self.send(Ready(pid=self.pid, mode="string"))
                    case Ping(id=rid) if self.answer_pings:
                        self.send(Pong(rid, 0))
                    case Infer():
                        await self.infers.put(message)
                    case Shutdown():
                        self.exit(0)
                        return
        self.exit(1)  # a real worker exits once its control socket closes


@pytest.fixture
def workdir() -> Iterator[Path]:
    # A short path: Unix socket paths are limited to ~107 bytes, which pytest's tmp_path can exceed.
    path = Path(tempfile.mkdtemp(prefix="mywh-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def run_with_peer(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, body: Callable[[WorkerHandle, Peer], Awaitable[None]], **peer: Any
) -> None:
    async def main() -> None:
        fake = Peer()
        for name, value in peer.items():
            setattr(fake, name, value)

        async def exec_(*cmd: str, **_: Any) -> Peer:
            fake.spawn(cmd[cmd.index("--socket") + 1])
            return fake

        def killpg(pid: int, sig: int) -> None:
            assert pid == FAKE_PID, "only the fake process may be signalled"
            fake.exit(-sig)

        monkeypatch.setattr(worker_handle.asyncio, "create_subprocess_exec", exec_)
        monkeypatch.setattr(worker_handle.os, "killpg", killpg)
        handle = WorkerHandle(
            name="blue-0",
            socket_path=workdir / "w.sock",
            log_path=workdir / "blue-0.log",
            env=dict(os.environ),
            cores=(),
            load=Load("script"),
        )
        try:
            await body(handle, fake)
        finally:
            await handle.kill()

    asyncio.run(asyncio.wait_for(main(), 20))


def answer(req: Infer, body: bytes, status: int = 200) -> Result:
    return Result(req.id, status, [("content-type", "application/json")], body)


def test_concurrent_requests_get_their_own_answers_whatever_order_they_come_in(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def body(handle: WorkerHandle, peer: Peer) -> None:
        ready = await handle.start(timeout=5)
        assert ready.pid == FAKE_PID and handle.alive
        calls = [
            asyncio.ensure_future(handle.infer("POST", "/score", "", [], f"req{i}".encode(), timeout=5))
            for i in range(3)
        ]
        got = [await peer.infers.get() for _ in range(3)]
        assert handle.inflight == 3
        for req in reversed(got):  # the worker answers the last first
            peer.send(answer(req, b"answer to " + req.body))
        results = await asyncio.gather(*calls)
        assert [r.body for r in results if isinstance(r, Result)] == [
            b"answer to req0",
            b"answer to req1",
            b"answer to req2",
        ]
        assert handle.inflight == 0

    run_with_peer(workdir, monkeypatch, body)


def test_a_timed_out_request_holds_its_slot_until_the_late_answer_then_releases_it_once(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def body(handle: WorkerHandle, peer: Peer) -> None:
        await handle.start(timeout=5)
        released: list[str] = []
        with pytest.raises(TimeoutError):
            await handle.infer("POST", "/score", "", [], b"slow", timeout=0.05, on_late=lambda: released.append("x"))
        assert handle.inflight == 1 and released == []  # the worker is still busy with it
        late = await peer.infers.get()
        peer.send(answer(late, b"too late"))
        peer.send(answer(late, b"twice"))  # a duplicate answer must not release it again
        # The next request's answer arrives after the late ones, so by then they have been read.
        nxt = asyncio.ensure_future(handle.infer("POST", "/score", "", [], b"next", timeout=5))
        peer.send(answer(await peer.infers.get(), b"ok"))
        result = await nxt
        assert isinstance(result, Result) and result.body == b"ok"
        assert released == ["x"] and handle.inflight == 0

    run_with_peer(workdir, monkeypatch, body)


def test_a_worker_that_dies_fails_its_pending_requests_with_how_it_ended(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def body(handle: WorkerHandle, peer: Peer) -> None:
        await handle.start(timeout=5)
        pending = asyncio.ensure_future(handle.infer("POST", "/score", "", [], b"x", timeout=5))
        await peer.infers.get()
        peer.exit(-signal.SIGKILL)  # the OOM killer, say
        with pytest.raises(WorkerLost, match=r"blue-0 \(pid 999999999\) was killed by SIGKILL while handling"):
            await pending
        await handle.exited.wait()
        assert not handle.alive and handle.inflight == 0
        with pytest.raises(WorkerLost, match="is not running"):
            await handle.infer("POST", "/score", "", [], b"x", timeout=5)
        assert not await handle.ping(1)

    run_with_peer(workdir, monkeypatch, body)


def test_a_garbage_frame_drops_the_connection_and_fails_what_was_pending(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def body(handle: WorkerHandle, peer: Peer) -> None:
        await handle.start(timeout=5)
        pending = asyncio.ensure_future(handle.infer("POST", "/score", "", [], b"x", timeout=5))
        await peer.infers.get()
        peer.send_raw(b"\x00\x00\x00\x03\xc1\xc1\xc1")  # a well-framed body that is not msgpack
        with pytest.raises(WorkerLost, match="blue-0"):
            await pending
        assert not handle.alive

    run_with_peer(workdir, monkeypatch, body)


def test_pings_are_answered_or_fail_after_their_timeout(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def body(handle: WorkerHandle, peer: Peer) -> None:
        await handle.start(timeout=5)
        assert await handle.ping(1)
        peer.answer_pings = False  # a hung worker
        assert not await handle.ping(0.05)
        assert handle.last_answer is not None

    run_with_peer(workdir, monkeypatch, body)


def test_a_failed_load_is_a_start_error_with_the_workers_message(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def body(handle: WorkerHandle, peer: Peer) -> None:
        with pytest.raises(WorkerStartError, match="init\\(\\) raised KeyError: 'MODEL'"):
            await handle.start(timeout=5)
        assert not handle.alive and peer.returncode == -signal.SIGKILL
        assert "modelyard: starting worker blue-0 on cores any" in (workdir / "blue-0.log").read_text()

    run_with_peer(workdir, monkeypatch, body, load_failure="init() raised KeyError: 'MODEL'")


def test_stop_asks_the_worker_to_exit_and_it_ends_cleanly(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def body(handle: WorkerHandle, peer: Peer) -> None:
        await handle.start(timeout=5)
        await handle.stop(grace=5)
        assert peer.returncode == 0 and handle.exit_message == "exited with status 0"

    run_with_peer(workdir, monkeypatch, body)

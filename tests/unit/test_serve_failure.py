"""serve's failure path: a long-lived task that fails stops the server cleanly, with one log line and status 1."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import pytest

from runtime import serve
from runtime.api.limits import Limits
from runtime.api.server import bind
from runtime.batch.runner import BatchOptions
from runtime.control.controller.status import StatusOps
from runtime.envs.cache import EnvSettings
from runtime.errors import StorageError
from runtime.statedir import ServerInfo, StateDir


def test_a_failing_sampler_stops_serve_with_one_line_and_status_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    state = StateDir(tmp_path / "state")
    state.ensure()
    served: list[bool] = []
    listening = asyncio.Event()
    write_server = StateDir.write_server

    def written(self: StateDir, info: ServerInfo) -> None:
        write_server(self, info)
        listening.set()

    async def broken_sampler(self: StatusOps) -> None:
        await listening.wait()  # fail once the server is up
        served.append(state.server_file.exists())
        raise RuntimeError("the sampler broke")

    monkeypatch.setattr(StateDir, "write_server", written)
    monkeypatch.setattr(StatusOps, "_sample_loop", broken_sampler)
    sock = bind("127.0.0.1", 0)
    main = serve._main(state, sock, "uvicorn", 3600, Limits(), BatchOptions(), 1.0, 300.0, EnvSettings())
    with caplog.at_level(logging.INFO):
        status = asyncio.run(asyncio.wait_for(main, 30))
    assert status == 1 and served == [True]
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == ["sampler failed: RuntimeError: the sampler broke; stopping the server"]
    assert "stopping workers" in [r.getMessage() for r in caplog.records]
    # Stopped as a normal stop: no server file left behind, every database connection closed, the database whole.
    assert not state.server_file.exists()
    assert not Path(f"{state.db}-wal").exists()
    with sqlite3.connect(state.db) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_an_error_while_starting_is_raised_as_itself_for_the_cli_to_show(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = StateDir(tmp_path / "state")
    state.ensure()

    def refused(self: StatusOps) -> None:
        raise StorageError("the state database failed: disk I/O error")

    monkeypatch.setattr(StatusOps, "start", refused)
    with bind("127.0.0.1", 0) as sock:
        main = serve._main(state, sock, "uvicorn", 3600, Limits(), BatchOptions(), 1.0, 300.0, EnvSettings())
        with pytest.raises(StorageError, match="disk I/O error"):  # not wrapped in the task group's ExceptionGroup
            asyncio.run(asyncio.wait_for(main, 30))

"""Fixtures for the integration tests; the server and its helpers are in live.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from live import Server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "state")
    srv.state.mkdir()
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()

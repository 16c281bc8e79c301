"""Fixtures for the integration tests; the server and its helpers are in live.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from live import Server, cleared, started


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with started(tmp_path / "state") as srv:
        yield srv


@pytest.fixture(scope="session")
def session_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for every test that takes `shared_server`."""
    with started(tmp_path_factory.mktemp("shared") / "state") as srv:
        yield srv


@pytest.fixture
def shared_server(session_server: Server) -> Iterator[Server]:
    """The session's one server, left as a new one after each test (live.cleared): for tests that need no server of
    their own, because they look at no counter or log earlier tests would have moved and leave only what is cleared.
    A test may stop it, or restart it with flags."""
    yield session_server
    cleared(session_server)


@pytest.fixture(scope="session")
def mlflow_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An interpreter with mlflow-skinny, scikit-learn, pandas, pyarrow, Pillow and the worker's own packages, built
    once per session by modelyard's own environment cache (uv), for the tests that train and score MLflow models."""
    import asyncio

    from runtime.envs.cache import EnvCache
    from runtime.envs.requirements import RequirementSet, with_worker_needs

    packages = ("mlflow-skinny", "scikit-learn", "pandas", "pyarrow", "pillow")
    cache = EnvCache(tmp_path_factory.mktemp("mlflow-envs"))
    env = asyncio.run(cache.ensure(with_worker_needs(RequirementSet(requirements=packages, source="tests"))))
    return Path(env.python)


@pytest.fixture(scope="session")
def mlflow_models(mlflow_python: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Any]]:
    """Small MLflow models saved by MLflow itself (see mlflow_models.save_all): kind -> (folder, rows)."""
    from mlflow_models import save_all

    return save_all(mlflow_python, tmp_path_factory.mktemp("mlflow-models"))

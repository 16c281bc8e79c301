"""Helpers for the worker tests: load a fixture scoring script in-process and send it requests."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runtime.ipc.messages import Load
from runtime.worker.adapters import Adapter, load_adapter

SCRIPTS = Path(__file__).resolve().parents[2] / "fixtures" / "scripts"


def _forget_schemas() -> None:
    # inference_schema registers decorated functions process-wide under "entry_module.run"; Azure (and the real
    # worker) host one script per process, so tests that load several must forget the previous registrations.
    schema_util = sys.modules.get("inference_schema.schema_util")
    if schema_util is not None:
        for registry in (vars(schema_util)["__functions_schema__"], vars(schema_util)["__versions__"]):
            for key in [k for k in registry if k.startswith("entry_module.")]:
                del registry[key]


@pytest.fixture
def load_script(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Adapter]]:
    """Load a script of tests/fixtures/scripts the way a worker does, restoring env and sys.path afterwards."""
    saved_env = dict(os.environ)
    saved_path = list(sys.path)
    saved_modules = set(sys.modules)

    def load(name: str, *, timeout_ms: int = 3_600_000, model_dir: str | None = None) -> Adapter:
        _forget_schemas()
        return load_adapter(
            Load("script", app_root=str(SCRIPTS), entry_script=name, model_dir=model_dir, scoring_timeout_ms=timeout_ms)
        )

    yield load
    os.environ.clear()
    os.environ.update(saved_env)
    sys.path[:] = saved_path
    _forget_schemas()
    # The shim's Azure module names must not leak into other tests of this process (some import the real server).
    for name in set(sys.modules) - saved_modules:
        if name.startswith(("azureml", "entry_module", "sibling_helper")):
            del sys.modules[name]

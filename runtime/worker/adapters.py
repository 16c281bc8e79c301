"""What the serve loop needs from a loaded model, and how a Load becomes one."""

from __future__ import annotations

import itertools
import logging
import os
import traceback
from collections.abc import Iterator
from typing import Protocol

from runtime.ipc.messages import Failure, Infer, Load, Result

logger = logging.getLogger("azmlinfsrv")

#: Azure logs at most this many lines of the model directory when loading fails.
TREE_LINE_LIMIT = 200


class Adapter(Protocol):
    """A loaded model that turns each Infer into exactly one Result."""

    mode: str  #: reported in Ready: "string", "schema", "rawhttp" or "triton"
    models: list[str]  #: model names served (Triton repositories), else empty

    def handle(self, req: Infer) -> Result | Failure:
        """Answer one request; bad requests become HTTP errors (or a Failure for the front end), not exceptions."""
        ...


class LoadError(Exception):
    """The Load failed; the message is one line for `Failure.message`, the details are in the log."""


def load_adapter(load: Load) -> Adapter:
    """Load what the Load names; raise LoadError with a one-line reason after logging the full story."""
    export_env(load)
    try:
        if load.kind == "script":
            from runtime.worker.scoring import load_script

            return load_script(load)
        from runtime.worker.triton.server import load_repository_adapter

        return load_repository_adapter(load)
    except Exception as exc:
        logger.error("Loading the %s failed: %s", load.kind, traceback.format_exc())
        log_model_tree(load.model_dir or load.model_repository or os.environ.get("AZUREML_MODEL_DIR", ""))
        raise LoadError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from exc


def export_env(load: Load) -> None:
    """Set the Azure environment variables the Load names, as the spawner did (AZUREML_BI_OUTPUT_PATH included)."""
    # The spawner set these already; setting them from the Load keeps an in-process load (tests, tools) faithful.
    for name, value in (
        ("AML_APP_ROOT", load.app_root),
        ("AZUREML_ENTRY_SCRIPT", load.entry_script),
        ("AZUREML_MODEL_DIR", load.model_dir),
        ("AZUREML_BI_OUTPUT_PATH", load.output_path),
    ):
        if value:
            os.environ[name] = value
    os.environ["SCORING_TIMEOUT_MS"] = str(load.scoring_timeout_ms)


def log_model_tree(model_dir: str) -> None:
    """Log an indented tree of the model directory, at most TREE_LINE_LIMIT lines, as Azure does on a failed load."""
    if not model_dir or not os.path.exists(model_dir):
        return
    logger.info("Model Directory Contents:")
    tree = walk_path(model_dir)
    for line in itertools.islice(tree, TREE_LINE_LIMIT):
        logger.info(line)
    if next(tree, None) is not None:
        logger.info("Output Truncated. First %d lines shown.", TREE_LINE_LIMIT)


def walk_path(path: str, depth: int = 0, indent: int = 4) -> Iterator[str]:
    """Lines of an indented tree of `path`, directories first named with a trailing separator, sorted."""
    path = os.path.normpath(path)
    name = os.path.basename(path.rstrip(os.sep))
    pad = " " * depth * indent
    if os.path.isdir(path):
        yield f"{pad}{name}{os.sep}"
        for child in sorted(os.listdir(path)):
            yield from walk_path(os.path.join(path, child), depth + 1, indent)
    else:
        yield f"{pad}{name}"

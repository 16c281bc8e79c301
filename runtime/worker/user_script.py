"""Import an Azure scoring script, check its run() signature, and pick the input mode, as Azure's server does."""

from __future__ import annotations

import importlib.util
import inspect
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

from runtime.worker import aml_request, shim

logger = logging.getLogger("azmlinfsrv.user_script")

Mode = Literal["string", "schema", "rawhttp"]


class ScriptError(Exception):
    """The script cannot be served; the message is one line, fit for `Failure.message`."""


@dataclass(frozen=True, slots=True)
class ScoringScript:
    """A loaded script: its init(), its run(), and how run() takes its input."""

    init: Callable[[], Any]
    run: Callable[..., Any]
    mode: Mode
    input_name: str  #: the parameter that receives the input in "string" and "rawhttp" modes
    params: tuple[inspect.Parameter, ...]  #: parameters bound from JSON keys in "schema" mode
    wants_headers: bool  #: run() declares `request_headers`


def load(app_root: str, entry_script: str | None) -> ScoringScript:
    """Import the entry script under the name `entry_module` and analyse run(); raise ScriptError if unusable."""
    module = import_entry(app_root, entry_script)
    where = getattr(module, "__file__", entry_script)

    # Azure calls the real script's run() behind an SDK-generated driver module, whose run() mangles
    # inference-schema arguments; init() stays the driver's because drivers do real work there.
    driver_target = getattr(module, "driver_module", None)
    if isinstance(driver_target, ModuleType) and hasattr(driver_target, "run"):
        run = driver_target.run
        logger.info("Found driver script at %s and the score script at %s", where, driver_target.__file__)
    else:
        run = module.run
        logger.info("Found user script at %s", where)
    return analyze(module.init, run)


def import_entry(app_root: str, entry_script: str | None) -> ModuleType:
    """Put the app root on sys.path and import the entry script as `entry_module`; it must define init() and run().

    Online and batch scripts load alike; what run() takes differs, and is for the caller to check.
    """
    sys.path.append(app_root)
    source_dir = os.environ.get("AZUREML_SOURCE_DIRECTORY")
    if source_dir:
        sys.path.append(os.path.join(app_root, source_dir))
    shim.install()
    aml_request.reset_raw_http()

    module = _import(app_root, entry_script)
    where = getattr(module, "__file__", entry_script)
    if not hasattr(module, "init"):
        raise ScriptError(f"User script at {where} does not have a init() function defined.")
    if not hasattr(module, "run"):
        raise ScriptError(f"User script at {where} does not have a run() function defined.")
    return module


def _import(app_root: str, entry_script: str | None) -> ModuleType:
    if not entry_script:
        try:
            import main  # type: ignore[import-not-found]  # Azure's fallback when no entry script is named
        except BaseException as exc:
            raise ScriptError(f"importing main raised {_describe(exc)}") from exc
        return main  # type: ignore[no-any-return]
    location = os.path.join(app_root, entry_script.replace("/", os.sep))
    try:
        spec = importlib.util.spec_from_file_location("entry_module", location)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {location!r} as a Python module")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except BaseException as exc:
        raise ScriptError(f"importing {entry_script} raised {_describe(exc)}") from exc
    return module


def analyze(init: Callable[[], Any], run: Callable[..., Any]) -> ScoringScript:
    """Apply Azure's run() signature rules and choose the input mode."""
    params = list(inspect.signature(run).parameters.values())
    if any(p.kind not in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params):
        raise ScriptError("run() cannot accept positional-only arguments, *args, or **kwargs.")

    wants_headers = any(p.name == "request_headers" for p in params)
    params = [p for p in params if p.name != "request_headers"]
    if not params:
        if wants_headers:
            raise ScriptError('run() needs to accept an argument other than "request_headers".')
        raise ScriptError("run() needs to accept an argument for input data.")

    raw = aml_request.raw_http_requested()
    schema = _is_schema_decorated(run)
    mode: Mode
    if raw and schema:
        raise ScriptError("run() cannot be decorated with both @rawhttp and @input_schema")
    if raw:
        mode = "rawhttp"
        logger.info("run() is decorated with @rawhttp. Server will invoke it with the flask request object.")
    elif schema:
        mode = "schema"
        logger.info(
            "run() is decorated with @input_schema. Server will invoke it with the following arguments: %s.",
            ", ".join(p.name for p in params),
        )
    else:
        mode = "string"
        logger.info("run() is not decorated. Server will invoke it with the input in JSON string.")
    return ScoringScript(init, run, mode, params[0].name, tuple(params), wants_headers)


def _is_schema_decorated(run: Callable[..., Any]) -> bool:
    # A script can only be decorated if it imported inference_schema itself; not importing it here keeps the
    # worker's start-up lean for undecorated scripts.
    schema_util = sys.modules.get("inference_schema.schema_util")
    if schema_util is None:
        return False
    return bool(schema_util.is_schema_decorated(run))


def call_init(init: Callable[[], Any]) -> None:
    """Run the script's init(); raise ScriptError naming the exception if it fails."""
    logger.info("Invoking user's init function")
    try:
        init()
    except BaseException as exc:
        raise ScriptError(f"init() raised {_describe(exc)}") from exc
    logger.info("Users's init has completed successfully")


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__

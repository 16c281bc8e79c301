"""modelyard's AMLRequest and rawhttp, importable as Azure's `aml_request` modules (see `shim.install`).

A scoring script imports this module as `azureml.contrib.services.aml_request` or
`azureml_inference_server_http.api.aml_request`; both names are this one module object.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from werkzeug.exceptions import BadRequest
from werkzeug.wrappers import Request

F = TypeVar("F", bound=Callable[..., Any])

# Azure's decorator only flips this module-global flag; it is not a marker on run(). One worker hosts one script,
# so the global is as isolated here as in Azure's one-script-per-process server.
_rawHttpRequested = False


def rawhttp(func: F) -> F:
    """Ask the server to call run() with the HTTP request itself instead of the decoded body."""
    global _rawHttpRequested
    _rawHttpRequested = True
    return func


def raw_http_requested() -> bool:
    """Whether any function of the loaded script was decorated with @rawhttp."""
    return _rawHttpRequested


def reset_raw_http() -> None:
    """Forget an earlier script's @rawhttp, before another script is imported in this process."""
    global _rawHttpRequested
    _rawHttpRequested = False


class AMLRequest(Request):
    """The werkzeug request a @rawhttp run() receives, as Flask's request behaves in Azure's server."""

    # Flask's request attributes that scripts occasionally read; there is no routing in the worker.
    url_rule: None = None
    view_args: dict[str, Any] = {}
    routing_exception: None = None

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        """Raise a plain 400 BadRequest, as Flask does outside debug mode."""
        try:
            return super().on_json_loading_failed(e)
        except BadRequest:
            raise BadRequest() from e

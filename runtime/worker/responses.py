"""Build Results byte-for-byte like Azure's Flask app: header order, JSON bodies, the id headers it adds last."""

from __future__ import annotations

import json
import logging
import os
import uuid
from typing import Any

from werkzeug.wrappers import Response

from runtime.ipc.messages import Headers, Result

logger = logging.getLogger("azmlinfsrv")

#: Azure's limit on the id headers; longer ones get 431.
HEADER_LIMIT = 100

NOT_FOUND = (
    "The requested URL was not found on the server. If you entered the URL manually please check your spelling "
    "and try again."
)
METHOD_NOT_ALLOWED = "The method is not allowed for the requested URL."
INTERNAL_ERROR = "An unexpected internal error occurred. Check the logs for more info."
SCRIPT_ERROR = "An unexpected error occurred in scoring script. Check the logs for more info."

_JSON = ("Content-Type", "application/json")
_HTML = ("Content-Type", "text/html; charset=utf-8")
_FAILED = ("x-ms-run-function-failed", "False")
_RUN_FAILED = ("x-ms-run-function-failed", "True")
#: Headers Azure's after_request sets (replacing a script's own); the others it adds.
_SET_NAMES = frozenset({"x-request-id", "x-ms-request-id", "x-ms-client-request-id"})


def trace_headers(lowered: dict[str, str]) -> tuple[Headers, str | None]:
    """The id headers Azure appends to every blueprint response, and the 431 message if an id is too long."""
    tail: Headers = []
    server_version = os.environ.get("HTTP_X_MS_SERVER_VERSION", "")
    if server_version:
        tail.append(("x-ms-server-version", server_version))
    request_id = lowered.get("x-request-id")
    if request_id is None:
        request_id = str(uuid.uuid4())
    error = None
    if len(request_id) > HEADER_LIMIT:
        error = f"x-request-id must not exceed {HEADER_LIMIT} characters"
        request_id = legacy = client = ""
    else:
        legacy = lowered.get("x-ms-request-id", "")
        client = lowered.get("x-ms-client-request-id", "")
        if legacy:
            logger.warning(
                "x-ms-request-id header has been deprecated and will be removed from future versions of the server."
                " Please use x-ms-client-request-id."
            )
            client = client or legacy
        else:
            legacy = client or request_id
        if len(legacy) > HEADER_LIMIT or len(client) > HEADER_LIMIT:
            error = f"x-ms-request-id and x-ms-client-request-id must not exceed {HEADER_LIMIT} characters"
            legacy = client = ""
    if request_id:
        tail.append(("x-request-id", request_id))
    if legacy:
        tail.append(("x-ms-request-id", legacy))
    if client:
        tail.append(("x-ms-client-request-id", client))
    if "traceid" in lowered:
        tail.append(("TraceId", lowered["traceid"]))
    return tail, error


def json_result(
    rid: int, status: int, body: bytes, tail: Headers, *, failed: bool = False, exec_ms: str | None = None
) -> Result:
    """An AMLResponse(json_str=True) as Azure sends it."""
    headers: Headers = [_JSON, ("Content-Length", str(len(body))), _RUN_FAILED if failed else _FAILED]
    if exec_ms is not None:
        headers.append(("x-ms-run-fn-exec-ms", exec_ms))
    headers += tail
    return Result(rid, status, headers, body)


def error_result(rid: int, status: int, message: str, tail: Headers, *, failed: bool = False) -> Result:
    """Azure's ErrorResponse: `{"message": ...}` with the blueprint's id headers."""
    return json_result(rid, status, json.dumps({"message": message}).encode(), tail, failed=failed)


def app_error(rid: int, status: int) -> Result:
    """The app-level 404/405: Flask's routing failed before the blueprint, so no id headers."""
    message = NOT_FOUND if status == 404 else METHOD_NOT_ALLOWED
    return json_result(rid, status, json.dumps({"message": message}).encode(), [])


def healthy(rid: int, tail: Headers) -> Result:
    """`GET /`: Flask's response for the view's "Healthy" string."""
    return Result(rid, 200, [_HTML, ("Content-Length", "7"), *tail], b"Healthy")


def root_options(rid: int, tail: Headers) -> Result:
    """`OPTIONS /`: Flask's automatic OPTIONS answer for the health route."""
    return Result(rid, 200, [_HTML, ("Allow", "HEAD, GET, OPTIONS"), *tail, ("Content-Length", "0")], b"")


def score_options(rid: int, tail: Headers) -> Result:
    """`OPTIONS /score` when run() is not @rawhttp: Azure's `AMLResponse("", 200)`."""
    return Result(rid, 200, [_HTML, ("Content-Length", "0"), _FAILED, *tail], b"")


def from_response(rid: int, response: Response, environ: dict[str, Any], tail: Headers, exec_ms: str) -> Result:
    """A werkzeug Response run() returned, with Azure's additions, rendered as its WSGI server would send it."""
    headers = response.headers
    if response.status_code >= 500:
        if "x-ms-run-function-failed" in headers:
            headers["x-ms-run-function-failed"] = True
        else:
            headers.add("x-ms-run-function-failed", True)
    headers.add("x-ms-run-fn-exec-ms", exec_ms)
    for name, value in tail:
        if name in _SET_NAMES:
            headers[name] = value
        else:
            headers.add(name, value)
    wsgi_headers = response.get_wsgi_headers(environ)
    try:
        body = b"".join(response.get_app_iter(environ))
    finally:
        response.close()
    return Result(rid, response.status_code, list(wsgi_headers.items()), body)


def strip_body(result: Result) -> Result:
    """The answer to a HEAD request: same status and headers (Content-Length included), no body."""
    return Result(result.id, result.status, result.headers, b"") if result.body else result

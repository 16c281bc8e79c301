"""Turn an Infer into what run() receives, with the quirks of Azure's gunicorn + Flask stack.

Header names follow the WSGI round trip: names holding "_" are dropped (gunicorn's default), repeated headers
are joined with "," and `request_headers` sees werkzeug's canonical case (`x-custom` → `X-Custom`).
"""

from __future__ import annotations

import inspect
import io
import json
import logging
from typing import Any
from urllib.parse import parse_qsl

import werkzeug.urls  # noqa: F401 - registers the "werkzeug.url_quote" codec error handler that args parsing uses

from runtime.ipc.messages import Headers, Infer
from runtime.worker.aml_request import AMLRequest

logger = logging.getLogger("modelyard.worker")

#: Mimetypes whose body werkzeug's form parser consumes, leaving `request.data` empty (Azure's "" quirk).
FORM_MIMETYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


class BadInput(Exception):
    """The request cannot be turned into run()'s arguments: Azure answers 400."""


class UnsupportedInput(Exception):
    """The request's Content-Type does not fit the input mode: Azure answers 415."""


def lower_headers(headers: Headers) -> dict[str, str]:
    """Header values by lower-case name, as a WSGI server hands them to the app."""
    out: dict[str, str] = {}
    for name, value in headers:
        if "_" in name:
            continue
        key = name.lower()
        if key in out:
            out[key] = f"{out[key]},{value}"
        else:
            out[key] = value
    return out


def canonical_headers(lowered: dict[str, str]) -> dict[str, str]:
    """`dict(request.headers)` as Flask builds it: werkzeug's canonical names, empty Content-* headers left out."""
    return {
        name.title(): value
        for name, value in lowered.items()
        if value or name not in ("content-type", "content-length")
    }


def mimetype(lowered: dict[str, str]) -> str:
    """The request's mimetype, lower-case and without parameters, as werkzeug's `Request.mimetype`."""
    return lowered.get("content-type", "").partition(";")[0].strip().lower()


def is_json(lowered: dict[str, str]) -> bool:
    """werkzeug's `Request.is_json`: application/json or application/*+json."""
    mt = mimetype(lowered)
    return mt == "application/json" or (mt.startswith("application/") and mt.endswith("+json"))


def query_inputs(query: str) -> dict[str, Any]:
    """Azure's GET binding: each query value JSON-parsed where possible, repeated keys collected in a list."""
    values: dict[str, list[str]] = {}
    for key, value in parse_qsl(query, keep_blank_values=True, errors="werkzeug.url_quote"):
        values.setdefault(key, []).append(value)
    return {key: _json_or_text(vs[0]) if len(vs) == 1 else [_json_or_text(v) for v in vs] for key, vs in values.items()}


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text
    except RecursionError:
        # Azure's server lets this one through as its internal error, a 500 for what is the client's mistake.
        raise BadInput("A query value could not be decoded as JSON: it is nested too deeply") from None


def string_input(req: Infer, lowered: dict[str, str]) -> str:
    """The str an undecorated run() receives for a POST."""
    # For form bodies, let werkzeug's parser consume the body exactly as Flask's `request.data` does (including
    # its malformed-body and size-limit behaviour); rare enough to not matter for speed.
    if mimetype(lowered) in FORM_MIMETYPES:
        with make_request(req, lowered) as request:
            data = request.data
        if req.body and not data:
            # Azure does the same, and the script then fails on "" with no hint why; curl -d sends this type.
            logger.warning(
                "The request body came as %s, so run() receives an empty string, as on Azure; "
                "send Content-Type: application/json (or text/plain) to pass the body through",
                mimetype(lowered),
            )
    else:
        data = req.body
    try:
        return str(data, "utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"Input cannot be decoded as UTF-8: {exc}") from None


def object_inputs(req: Infer, lowered: dict[str, str], params: tuple[inspect.Parameter, ...]) -> dict[str, Any]:
    """The keyword arguments of an @input_schema run() for a POST (GET goes through `bind`)."""
    if not is_json(lowered):
        raise UnsupportedInput("Expects Content-Type to be application/json")
    body = req.body
    try:
        decoded = json.loads(body)
    except ValueError as exc:
        # UnicodeDecodeError too: json.loads guesses UTF-16/32 from NUL bytes and fails decoding. Azure's server
        # catches only JSONDecodeError and answers that with its internal error, a 500 for the client's mistake.
        if body:
            raise BadInput(f"POST body could not be decoded as JSON: {exc}") from None
        raise BadInput("POST body is empty. Expecting a JSON dictionary.") from None
    except RecursionError:
        raise BadInput("POST body could not be decoded as JSON: it is nested too deeply") from None
    if not isinstance(decoded, dict):
        raise BadInput("POST body should be a JSON dictionary.")
    return bind(decoded, params)


def bind(body: dict[str, Any], params: tuple[inspect.Parameter, ...]) -> dict[str, Any]:
    """Fill each parameter from the top-level key of the same name, else its default; extra keys are ignored."""
    out: dict[str, Any] = {}
    for param in params:
        value = body.get(param.name, param.default)
        if value is inspect.Parameter.empty:
            raise BadInput(f"A value is not provided for the {param.name!r} parameter.")
        out[param.name] = value
    return out


def make_environ(req: Infer, lowered: dict[str, str]) -> dict[str, Any]:
    """A WSGI environ for the request, shaped like gunicorn's (header order kept, duplicates joined)."""
    host = lowered.get("host", "localhost")
    server_name, _, port = host.partition(":")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": req.method,
        "SCRIPT_NAME": "",
        # WSGI carries the path as latin-1 text of its UTF-8 bytes; werkzeug undoes that.
        "PATH_INFO": req.path.encode("utf-8").decode("latin-1"),
        "QUERY_STRING": req.query.encode("utf-8").decode("latin-1"),
        "RAW_URI": req.path + ("?" + req.query if req.query else ""),
        "SERVER_NAME": server_name or "localhost",
        "SERVER_PORT": port or "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(req.body),
        "wsgi.input_terminated": True,
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in lowered.items():
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            environ[key] = value
        else:
            environ["HTTP_" + key] = value
    return environ


def make_request(req: Infer, lowered: dict[str, str]) -> AMLRequest:
    """The AMLRequest (a werkzeug Request) for the Infer."""
    return AMLRequest(make_environ(req, lowered))

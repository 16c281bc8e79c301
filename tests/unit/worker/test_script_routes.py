"""Routes, methods and the id headers of Azure's inference server (azure-contract §2.1-2.3)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from worker_helpers import body_json, call, header

from runtime.worker.adapters import Adapter

NOT_FOUND = {
    "message": "The requested URL was not found on the server. If you entered the URL manually please check your "
    "spelling and try again."
}
NOT_ALLOWED = {"message": "The method is not allowed for the requested URL."}


def test_health_route(load_script: Callable[..., Adapter]) -> None:
    adapter = load_script("behave.py")
    result = call(adapter, "GET", "/")
    assert (result.status, result.body) == (200, b"Healthy")
    assert header(result, "Content-Type") == "text/html; charset=utf-8"
    head = call(adapter, "HEAD", "/")
    assert (head.status, head.body, header(head, "Content-Length")) == (200, b"", "7")
    options = call(adapter, "OPTIONS", "/")
    assert (options.status, header(options, "Allow")) == (200, "HEAD, GET, OPTIONS")


def test_unknown_paths_are_404_without_id_headers(load_script: Callable[..., Adapter]) -> None:
    adapter = load_script("behave.py")
    for path in ("/nope", "/score/", "/Score", "/swagger.yaml"):
        result = call(adapter, "GET", path, headers=[("x-request-id", "rid")])
        assert (result.status, body_json(result)) == (404, NOT_FOUND), path
        assert header(result, "x-request-id") is None
        assert header(result, "x-ms-run-function-failed") == "False"


def test_other_methods_are_405(load_script: Callable[..., Adapter]) -> None:
    adapter = load_script("behave.py")
    for method, path in (("PUT", "/score"), ("DELETE", "/score"), ("PATCH", "/score"), ("POST", "/")):
        result = call(adapter, method, path, headers=[("x-request-id", "rid")])
        assert (result.status, body_json(result)) == (405, NOT_ALLOWED), (method, path)
        assert header(result, "x-request-id") is None


def test_options_and_head_on_score_without_rawhttp(load_script: Callable[..., Adapter]) -> None:
    adapter = load_script("behave.py")
    options = call(adapter, "OPTIONS", headers=[("x-request-id", "rid")])
    assert (options.status, options.body, header(options, "x-request-id")) == (200, b"", "rid")
    assert header(options, "x-ms-run-fn-exec-ms") is None
    # Flask routes HEAD to the view, whose input parser refuses it: a blueprint 405 with an emptied body.
    head = call(adapter, "HEAD", headers=[("x-request-id", "rid")])
    assert (head.status, head.body, header(head, "Content-Length")) == (405, b"", "33")
    assert header(head, "x-request-id") == "rid"


def test_request_id_is_echoed_or_generated(load_script: Callable[..., Adapter]) -> None:
    adapter = load_script("behave.py")
    echoed = call(adapter, "POST", headers=[("x-request-id", "rid-1")], body="x")
    assert header(echoed, "x-request-id") == "rid-1"
    assert header(echoed, "x-ms-request-id") == "rid-1"
    assert header(echoed, "x-ms-client-request-id") is None
    generated = call(adapter, "POST", body="x")
    request_id = header(generated, "x-request-id")
    assert request_id is not None and uuid.UUID(request_id).version == 4
    assert header(generated, "x-ms-request-id") == request_id


def test_client_and_legacy_request_ids(load_script: Callable[..., Adapter]) -> None:
    adapter = load_script("behave.py")
    legacy = call(adapter, "POST", headers=[("x-ms-request-id", "legacy")], body="x")
    assert (header(legacy, "x-ms-request-id"), header(legacy, "x-ms-client-request-id")) == ("legacy", "legacy")
    client = call(adapter, "POST", headers=[("x-ms-client-request-id", "client")], body="x")
    assert (header(client, "x-ms-request-id"), header(client, "x-ms-client-request-id")) == ("client", "client")
    both = call(adapter, "POST", headers=[("x-ms-client-request-id", "c"), ("x-ms-request-id", "l")], body="x")
    assert (header(both, "x-ms-request-id"), header(both, "x-ms-client-request-id")) == ("l", "c")
    traced = call(adapter, "POST", headers=[("traceid", "trace-1")], body="x")
    assert ("TraceId", "trace-1") in traced.headers


def test_ids_over_100_characters_are_431(load_script: Callable[..., Adapter]) -> None:
    adapter = load_script("behave.py")
    assert call(adapter, "POST", headers=[("x-request-id", "r" * 100)], body="x").status == 200
    long_request_id = call(adapter, "POST", headers=[("x-request-id", "r" * 101)], body="x")
    assert (long_request_id.status, body_json(long_request_id)) == (
        431,
        {"message": "x-request-id must not exceed 100 characters"},
    )
    assert header(long_request_id, "x-request-id") is None
    for name in ("x-ms-client-request-id", "x-ms-request-id"):
        result = call(adapter, "POST", headers=[(name, "c" * 101)], body="x")
        assert (result.status, body_json(result)) == (
            431,
            {"message": "x-ms-request-id and x-ms-client-request-id must not exceed 100 characters"},
        )
        assert header(result, "x-request-id") is not None
    assert call(adapter, "GET", "/", headers=[("x-request-id", "r" * 101)]).status == 431

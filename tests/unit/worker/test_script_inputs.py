"""What run() receives in each input mode, as Azure's inference server hands it over."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from worker_helpers import body_json, call, header

from runtime.worker.adapters import Adapter

MULTIPART_BOUNDARY = "XyZbOuNdArY"
MULTIPART = (
    f'--{MULTIPART_BOUNDARY}\r\nContent-Disposition: form-data; name="field"\r\n\r\nvalue1\r\n'
    f'--{MULTIPART_BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n'
    "Content-Type: application/octet-stream\r\n\r\nABC\x00\xff\r\n"
    f"--{MULTIPART_BOUNDARY}--\r\n"
).encode("latin-1")


# --- undecorated run(): a str ---------------------------------------------------------------------------------


def test_undecorated_post_gets_the_body_as_text_whatever_the_content_type(load_script: Callable[..., Adapter]) -> None:
    adapter = load_script("behave.py")
    assert adapter.mode == "string"
    for content_type in ("text/plain", "application/octet-stream", "application/json"):
        result = call(adapter, "POST", headers=[("Content-Type", content_type)], body=b"hello")
        assert result.status == 200
        assert body_json(result) == {"input": "hello"}
    bom = call(adapter, "POST", body=b"\xef\xbb\xbfbom")
    assert body_json(bom) == {"input": "\ufeffbom"}


def test_undecorated_non_utf8_body_is_400(load_script: Callable[..., Adapter]) -> None:
    result = call(load_script("behave.py"), "POST", headers=[("Content-Type", "text/plain")], body=b"\xff\xfeabc")
    assert result.status == 400
    assert body_json(result) == {
        "message": "Input cannot be decoded as UTF-8: 'utf-8' codec can't decode byte 0xff in position 0: "
        "invalid start byte"
    }
    assert header(result, "x-ms-run-function-failed") == "False"


def test_form_bodies_and_empty_bodies_reach_run_as_empty_string(
    load_script: Callable[..., Adapter], caplog: pytest.LogCaptureFixture
) -> None:
    adapter = load_script("behave.py")
    form = call(adapter, "POST", headers=[("Content-Type", "application/x-www-form-urlencoded")], body=b"a=1&b=2")
    assert body_json(form) == {"input": ""}
    # The log says why, since a script failing on "" gives the caller no hint (curl -d sends this type).
    assert "came as application/x-www-form-urlencoded, so run() receives an empty string" in caplog.text
    multipart_type = f"multipart/form-data; boundary={MULTIPART_BOUNDARY}"
    multipart = call(adapter, "POST", headers=[("Content-Type", multipart_type)], body=MULTIPART)
    assert body_json(multipart) == {"input": ""}
    # Without a boundary werkzeug cannot parse the form, so the body survives.
    broken = call(adapter, "POST", headers=[("Content-Type", "multipart/form-data")], body=b"no boundary")
    assert body_json(broken) == {"input": "no boundary"}
    assert body_json(call(adapter, "POST", json_body=None)) == {"input": ""}


def test_undecorated_get_turns_the_query_into_a_json_string(load_script: Callable[..., Adapter]) -> None:
    adapter = load_script("behave.py")
    query = "a=1&b=[1,2]&c=x&c=y&d=null&e=%7B%22k%22%3A1%7D&f=&g=not%20json&bad=%FF"
    result = call(adapter, "GET", query=query)
    assert result.status == 200
    assert body_json(result) == {
        "input": '{"a": 1, "b": [1, 2], "c": ["x", "y"], "d": null, "e": {"k": 1}, "f": "", "g": "not json", '
        '"bad": "%FF"}'
    }
    assert body_json(call(adapter, "GET")) == {"input": "{}"}


def test_request_headers_arrive_with_canonical_names(load_script: Callable[..., Adapter]) -> None:
    adapter = load_script("headers.py")
    headers = [
        ("x-custom", "v1"),
        ("X-Dup", "a"),
        ("x-dup", "b"),
        ("X_Under", "dropped"),
        ("content-type", "text/plain"),
    ]
    result = call(adapter, "POST", headers=headers, body=b"payload")
    assert body_json(result) == {
        "data": "payload",
        "headers": {"X-Custom": "v1", "X-Dup": "a,b", "Content-Type": "text/plain", "Content-Length": "7"},
    }
    assert body_json(call(adapter, "GET", query="q=1", headers=[("x-custom", "v1")])) == {
        "data": '{"q": 1}',
        "headers": {"X-Custom": "v1"},
    }


# --- @input_schema: parameters bound from JSON keys -----------------------------------------------------------


def test_schema_binds_json_keys_to_parameters_and_converts_types(load_script: Callable[..., Adapter]) -> None:
    adapter = load_script("schema.py")
    assert adapter.mode == "schema"
    result = call(adapter, "POST", headers=[("X-Custom", "c")], json_body={"data": [[1, 2], [3, 4]], "scale": 3})
    assert result.status == 200
    assert body_json(result) == {"sums": [9.0, 21.0], "custom": "c"}
    defaulted = call(adapter, "POST", json_body={"data": [[1, 2]], "extra": "ignored"})
    assert body_json(defaulted) == {"sums": [6.0], "custom": None}


def test_schema_accepts_json_suffix_content_types(load_script: Callable[..., Adapter]) -> None:
    adapter = load_script("schema.py")
    for content_type in ("application/vnd.api+json; charset=utf-8", "APPLICATION/JSON"):
        result = call(adapter, "POST", headers=[("Content-Type", content_type)], body=b'{"data": [[1, 2]]}')
        assert result.status == 200, content_type


def test_schema_rejects_bad_bodies_with_azures_messages(load_script: Callable[..., Adapter]) -> None:
    adapter = load_script("schema.py")
    json_type = [("Content-Type", "application/json")]
    cases = [
        (json_type, b'{"scale": 3}', 400, "A value is not provided for the 'data' parameter."),
        (json_type, b"[1, 2]", 400, "POST body should be a JSON dictionary."),
        (json_type, b"", 400, "POST body is empty. Expecting a JSON dictionary."),
        (
            json_type,
            b"{bad",
            400,
            "POST body could not be decoded as JSON: Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1)",
        ),
        (
            json_type,
            b"\x00" * 9,
            400,
            "POST body could not be decoded as JSON: 'utf-32-be' codec can't decode byte 0x00 in position 8: "
            "truncated data",
        ),
        (
            json_type,
            b'{"data": [[' + b"9" * 5000 + b"]]}",
            400,
            "POST body could not be decoded as JSON: Exceeds the limit (4300 digits) for integer string conversion: "
            "value has 5000 digits; use sys.set_int_max_str_digits() to increase the limit",
        ),
        (
            json_type,
            b"[" * 100_000 + b"]" * 100_000,
            400,
            "POST body could not be decoded as JSON: it is nested too deeply",
        ),
        ([("Content-Type", "text/plain")], b'{"data": [[1, 2]]}', 415, "Expects Content-Type to be application/json"),
        ([], b'{"data": [[1, 2]]}', 415, "Expects Content-Type to be application/json"),
    ]
    for headers, body, status, message in cases:
        result = call(adapter, "POST", headers=headers, body=body)
        assert (result.status, body_json(result)) == (status, {"message": message}), body
        assert header(result, "x-ms-run-function-failed") == "False"


def test_schema_conversion_errors_are_script_failures(load_script: Callable[..., Adapter]) -> None:
    result = call(load_script("schema.py"), "POST", json_body={"data": [[1, 2, 3]]})
    assert result.status == 500
    assert header(result, "x-ms-run-function-failed") == "True"


def test_schema_get_binds_query_parameters(load_script: Callable[..., Adapter]) -> None:
    adapter = load_script("schema.py")
    assert body_json(call(adapter, "GET", query="data=[[1,2]]&scale=10")) == {"sums": [30.0], "custom": None}
    missing = call(adapter, "GET", query="scale=10")
    assert missing.status == 400
    assert body_json(missing) == {"message": "A value is not provided for the 'data' parameter."}
    deep = call(adapter, "GET", query="data=" + "[" * 100_000 + "]" * 100_000)
    assert (deep.status, body_json(deep)) == (
        400,
        {"message": "A query value could not be decoded as JSON: it is nested too deeply"},
    )


# --- @rawhttp: the request itself -----------------------------------------------------------------------------


def test_rawhttp_legacy_import_path_gets_the_request(load_script: Callable[..., Adapter]) -> None:
    adapter = load_script("raw_legacy.py")
    assert adapter.mode == "rawhttp"
    got = call(adapter, "GET", query="a=1&a=2&b=x")
    assert body_json(got) == {"args": {"a": ["1", "2"], "b": ["x"]}, "path": "/score?a=1&a=2&b=x"}
    assert header(got, "Content-Type") == "application/json"
    posted = call(adapter, "POST", json_body={"k": [1, 2]})
    assert body_json(posted) == {"json": {"k": [1, 2]}, "isinstance": True}
    raw = call(adapter, "POST", headers=[("Content-Type", "application/octet-stream")], body=b"\x01\x02\x03")
    assert raw.body == b"\x03\x02\x01"
    assert header(raw, "Content-Type") == "application/octet-stream"


def test_rawhttp_parses_multipart_uploads(load_script: Callable[..., Adapter]) -> None:
    adapter = load_script("raw_legacy.py")
    content_type = f"multipart/form-data; boundary={MULTIPART_BOUNDARY}"
    result = call(adapter, "POST", headers=[("Content-Type", content_type)], body=MULTIPART)
    assert result.status == 200
    assert body_json(result) == {"files": {"file": ["a.bin", "ABC\x00\xff"]}, "form": {"field": "value1"}}


def test_rawhttp_options_reaches_run(load_script: Callable[..., Adapter]) -> None:
    result = call(load_script("raw_legacy.py"), "OPTIONS")
    assert result.status == 204
    assert [v for k, v in result.headers if k == "Allow"] == ["GET", "POST", "OPTIONS"]
    assert header(result, "Content-Length") is None


def test_rawhttp_new_import_path(load_script: Callable[..., Adapter]) -> None:
    adapter = load_script("raw_new.py")
    assert adapter.mode == "rawhttp"
    result = call(adapter, "GET", headers=[("X-Custom", "yes")])
    assert result.body == b"GET /score yes"
    assert header(result, "Content-Type") == "text/html; charset=utf-8"
    assert call(adapter, "OPTIONS").body == b"OPTIONS /score None"
    assert call(adapter, "DELETE").status == 405

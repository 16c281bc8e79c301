"""How run()'s return value, exceptions and timeouts become the HTTP response (azure-contract §1.2)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from worker_helpers import body_json, call, header

from runtime.worker.adapters import Adapter


def do(adapter: Adapter, what: str) -> tuple[int, bytes, dict[str, str]]:
    result = call(adapter, "POST", json_body={"do": what})
    return result.status, result.body, dict(result.headers)


def test_plain_values_are_json_dumped(load_script: Callable[..., Adapter]) -> None:
    adapter = load_script("behave.py")
    assert do(adapter, "str")[:2] == (200, b'"{\\"a\\": 1}"')  # a str is encoded again
    assert do(adapter, "none")[:2] == (200, b"{}")
    assert do(adapter, "nan")[:2] == (200, b'{"x": NaN}')
    assert do(adapter, "float64")[:2] == (200, b'{"x": 0.5}')
    status, _, headers = do(adapter, "float64")
    assert headers["Content-Type"] == "application/json"
    assert headers["x-ms-run-function-failed"] == "False"
    assert re.fullmatch(r"\d+\.\d{3}", headers["x-ms-run-fn-exec-ms"])


def test_unserialisable_values_are_internal_errors(load_script: Callable[..., Adapter]) -> None:
    adapter = load_script("behave.py")
    for what in ("int64", "ndarray"):
        status, body, headers = do(adapter, what)
        assert status == 500
        assert body == b'{"message": "An unexpected internal error occurred. Check the logs for more info."}'
        assert headers["x-ms-run-function-failed"] == "False"
        assert "x-ms-run-fn-exec-ms" not in headers


def test_run_raising_is_a_500_with_the_traceback_only_in_the_log(
    load_script: Callable[..., Adapter], caplog: pytest.LogCaptureFixture
) -> None:
    status, body, headers = do(load_script("behave.py"), "raise")
    assert status == 500
    assert body == b'{"message": "An unexpected error occurred in scoring script. Check the logs for more info."}'
    assert headers["x-ms-run-function-failed"] == "True"
    assert "boom" not in body.decode()
    assert "ValueError: boom" in caplog.text


def test_scoring_timeout(load_script: Callable[..., Adapter]) -> None:
    adapter = load_script("behave.py", timeout_ms=200)
    started = time.monotonic()
    result = call(adapter, "POST", json_body={"do": "sleep", "seconds": 5})
    assert time.monotonic() - started < 2
    assert result.status == 500
    assert body_json(result) == {"message": "Scoring timeout after 200 ms"}
    assert header(result, "x-ms-run-function-failed") == "True"
    # The worker keeps serving, and a quick run() is not cut short.
    assert call(adapter, "POST", json_body={"do": "sleep", "seconds": 0}).status == 200


def test_aml_response_is_returned_as_is(load_script: Callable[..., Adapter]) -> None:
    adapter = load_script("behave.py")
    result = call(adapter, "POST", json_body={"do": "response"})
    assert result.status == 418
    assert result.body == b"teapot"
    names = [k for k, _ in result.headers]
    # Azure's order: werkzeug's own headers, the script's (comma-split), then exec time and the id headers.
    assert names[:5] == ["Content-Length", "x-ms-run-function-failed", "X-Multi", "X-Multi", "Content-Type"]
    assert [v for k, v in result.headers if k == "X-Multi"] == ["a", "b"]
    assert header(result, "Content-Type") == "text/plain"
    assert names[5:7] == ["x-ms-run-fn-exec-ms", "x-request-id"]


def test_aml_response_variants(load_script: Callable[..., Adapter]) -> None:
    adapter = load_script("behave.py")
    status, body, headers = do(adapter, "response_json")
    assert (status, body, headers["Content-Type"]) == (201, b'{"ok": true}', "application/json")
    status, body, headers = do(adapter, "response_none")
    assert (status, body) == (202, b"{}")
    status, body, headers = do(adapter, "response_bytes")
    assert (status, body, headers["Content-Type"]) == (200, b"\x00\x01\xff", "application/octet-stream")


def test_a_5xx_response_from_run_is_marked_as_failed(load_script: Callable[..., Adapter]) -> None:
    status, body, headers = do(load_script("behave.py"), "response_500")
    assert (status, body) == (503, b"down")
    assert headers["x-ms-run-function-failed"] == "True"
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert "x-ms-run-fn-exec-ms" in headers


def test_init_sees_the_model_dir(load_script: Callable[..., Adapter], tmp_path: Path) -> None:
    (tmp_path / "model.pkl").write_bytes(b"x")
    adapter = load_script("behave.py", model_dir=str(tmp_path))
    assert body_json(call(adapter, "POST", json_body={"do": "model_dir"})) == {
        "model_dir": str(tmp_path),
        "files": ["model.pkl"],
    }

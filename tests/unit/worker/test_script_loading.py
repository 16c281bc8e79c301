"""Loading a scoring script: the import paths it may use, and the scripts Azure refuses to boot."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from worker_helpers import body_json, call

from runtime.worker.adapters import Adapter, LoadError


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("init_raises.py", "init() raised ValueError: boom"),
        ("import_raises.py", "importing import_raises.py raised RuntimeError: broken import"),
        ("varargs.py", "run() cannot accept positional-only arguments, *args, or **kwargs."),
        ("posonly.py", "run() cannot accept positional-only arguments, *args, or **kwargs."),
        ("only_headers.py", 'run() needs to accept an argument other than "request_headers".'),
        ("no_params.py", "run() needs to accept an argument for input data."),
        ("raw_and_schema.py", "run() cannot be decorated with both @rawhttp and @input_schema"),
        ("missing.py", "importing missing.py raised FileNotFoundError: "),
    ],
)
def test_scripts_azure_refuses_fail_to_load_with_one_line(
    load_script: Callable[..., Adapter], script: str, message: str
) -> None:
    with pytest.raises(LoadError) as caught:
        load_script(script)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_init_and_run_are_both_required(load_script: Callable[..., Adapter]) -> None:
    with pytest.raises(LoadError, match=r"User script at .*no_run.py does not have a run\(\) function defined."):
        load_script("no_run.py")
    with pytest.raises(LoadError, match=r"User script at .*no_init.py does not have a init\(\) function defined."):
        load_script("no_init.py")


def test_load_failure_logs_traceback_and_model_dir_tree(
    load_script: Callable[..., Adapter], caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.INFO)
    model_dir = tmp_path / "model"
    (model_dir / "sub").mkdir(parents=True)
    (model_dir / "sub" / "weights.bin").write_bytes(b"")
    with pytest.raises(LoadError):
        load_script("init_raises.py", model_dir=str(model_dir))
    assert 'raise ValueError("boom")' in caplog.text  # the script's own line, from the traceback
    assert "Model Directory Contents:" in caplog.text
    assert "model/" in caplog.text and "        weights.bin" in caplog.text


def test_sibling_modules_of_the_script_are_importable(load_script: Callable[..., Adapter]) -> None:
    adapter = load_script("sibling.py")
    assert body_json(call(adapter, "POST", body="quiet")) == "QUIET"


def test_both_azure_import_paths_name_the_same_modules(load_script: Callable[..., Adapter]) -> None:
    load_script("raw_new.py")
    import azureml.contrib.services.aml_request as legacy  # type: ignore[import-not-found]
    import azureml_inference_server_http.api.aml_response as new_response  # type: ignore[import-not-found]

    assert legacy is sys.modules["azureml_inference_server_http.api.aml_request"]
    assert new_response is sys.modules["azureml.contrib.services.aml_response"]
    assert callable(legacy.rawhttp) and new_response.AMLResponse.__name__ == "AMLResponse"
    # Even where the real azureml-inference-server-http is installed, the worker never imports it.
    assert getattr(sys.modules["azureml_inference_server_http"], "__modelyard_shim__", False)


def test_aml_response_constructor_matches_azure() -> None:
    from runtime.worker.aml_response import AMLResponse

    plain = AMLResponse("text", 200)
    assert (plain.status_code, plain.get_data(), plain.headers["Content-Type"]) == (
        200,
        b"text",
        "text/html; charset=utf-8",
    )
    assert plain.headers["x-ms-run-function-failed"] == "False"
    typed = AMLResponse(b"\x00", 201, {"Content-Type": "image/png", "Link": "a, b"})
    assert typed.headers.getlist("Content-Type") == ["image/png"]
    assert typed.headers.getlist("Link") == ["a", "b"]
    assert AMLResponse([1, 2], 200, json_str=True).get_data() == b"[1, 2]"
    assert AMLResponse(None, 204).mimetype == "application/json"

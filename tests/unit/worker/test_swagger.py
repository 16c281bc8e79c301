"""`GET /swagger.json` as azureml-inference-server-http 1.5.1 serves it (azure-contract §1.3, §2.1).

The golden files in tests/fixtures/scripts/swagger_golden/ are the bodies Azure's own server returned for
swagger_numpy.py (run with AML_APP_ROOT=tests/fixtures/scripts and no SERVICE_* variables).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from worker_helpers import body_json, call, header

from runtime.ipc.messages import Load, Result
from runtime.worker import swagger
from runtime.worker.adapters import Adapter, LoadError, load_adapter
from runtime.worker.scoring import ScriptAdapter

SCRIPTS = Path(__file__).resolve().parents[2] / "fixtures" / "scripts"
GOLDEN = SCRIPTS / "swagger_golden"
UNDECORATED = {"type": "object", "example": {}}
ALL_VERSIONS = ("2", "2.0", "3", "3.0", "3.1")


def get(adapter: Adapter, query: str = "", headers: list[tuple[str, str]] | None = None) -> Result:
    """GET /swagger.json with an x-request-id, as a client would."""
    return call(adapter, "GET", "/swagger.json", query=query, headers=[("x-request-id", "rid"), *(headers or [])])


def doc(adapter: Adapter, version: str | None = None) -> Any:
    """The swagger document served for `version` (the default when None), asserting a 200."""
    result = get(adapter, "" if version is None else f"version={version}")
    assert result.status == 200, result.body
    return body_json(result)


@pytest.fixture(autouse=True)
def _no_service_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # The golden files hold the defaults; Azure matches these names in any case, so clear every spelling.
    for name in list(os.environ):
        if name.lower() in ("service_name", "service_version", "service_path_prefix", "http_x_ms_server_version"):
            monkeypatch.delenv(name)


@pytest.fixture
def load_app(load_script: Callable[..., Adapter]) -> Callable[[Path], Adapter]:
    """Load `score.py` of an app folder as AML_APP_ROOT; `load_script` restores env, sys.path and modules after."""

    def load(root: Path) -> Adapter:
        return load_adapter(Load("script", app_root=str(root), entry_script="score.py", scoring_timeout_ms=3_600_000))

    return load


def plain_app(root: Path, **files: str) -> Path:
    """An app folder with an undecorated score.py and the given swagger files (name → text)."""
    (root / "score.py").write_text((SCRIPTS / "swagger_plain.py").read_text())
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def test_undecorated_run_gets_object_schemas_in_every_version(load_script: Callable[..., Adapter]) -> None:
    adapter = load_script("swagger_plain.py")
    v2 = doc(adapter)
    assert v2 == doc(adapter, "2") == doc(adapter, "2.0")
    assert v2["swagger"] == "2.0"
    assert v2["info"] == {
        "title": "ML service",
        "description": "API specification for the Azure Machine Learning service ML service",
        "version": "1.0",
    }
    assert list(v2["paths"]) == ["/", "/score", "/swagger.json"]
    assert v2["securityDefinitions"]["Bearer"] == {
        "type": "apiKey",
        "name": "Authorization",
        "in": "header",
        "description": "For example: Bearer abc123",
    }
    assert v2["paths"]["/score"]["post"]["security"] == [{"Bearer": []}]
    assert v2["definitions"]["ServiceInput"] == v2["definitions"]["ServiceOutput"] == UNDECORATED
    v3 = doc(adapter, "3")
    assert v3 == doc(adapter, "3.0")
    assert v3["openapi"] == "3.0.3"
    assert v3["security"] == [{"Bearer": []}]
    assert v3["components"]["securitySchemes"]["Bearer"] == v2["securityDefinitions"]["Bearer"]
    assert v3["components"]["schemas"]["ServiceInput"] == v3["components"]["schemas"]["ServiceOutput"] == UNDECORATED
    v31 = doc(adapter, "3.1")
    assert list(v31)[0] == "openapi" and v31["openapi"] == "3.1.0"
    assert {**v31, "openapi": "3.0.3"} == v3


def test_numpy_documents_match_azure_byte_for_byte(load_script: Callable[..., Adapter]) -> None:
    adapter = load_script("swagger_numpy.py")
    for query, golden in (
        ("", "numpy-v2.json"),
        ("version=2", "numpy-v2.json"),
        ("version=2.0", "numpy-v2.json"),
        ("version=3", "numpy-v3.json"),
        ("version=3.0", "numpy-v3.json"),
        ("version=3.1", "numpy-v3.1.json"),
    ):
        result = get(adapter, query)
        expected = (GOLDEN / golden).read_bytes()
        assert result.body == expected, query
        assert result.headers == [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(expected))),
            ("x-ms-run-function-failed", "False"),
            ("x-request-id", "rid"),
            ("x-ms-request-id", "rid"),
        ]


def test_request_headers_shows_up_as_an_empty_input(load_script: Callable[..., Adapter]) -> None:
    service_input = doc(load_script("swagger_numpy.py"))["definitions"]["ServiceInput"]
    assert list(service_input["properties"]) == ["data", "counts", "request_headers"]
    assert service_input["properties"]["request_headers"] == {}
    assert service_input["example"] == {"data": [[1.0, 2.5, 3.0]], "counts": [1, 2], "request_headers": ""}
    assert service_input["properties"]["data"]["format"] == "numpy.ndarray"


def test_standard_types_in_the_power_bi_shape(load_script: Callable[..., Adapter]) -> None:
    schemas = doc(load_script("swagger_standard.py"), "3")["components"]["schemas"]
    service_input = schemas["ServiceInput"]
    assert list(service_input["properties"]) == ["Inputs", "GlobalParameters"]
    inputs = service_input["properties"]["Inputs"]
    assert inputs["required"] == ["rows", "when"]
    assert inputs["properties"]["when"] == {"type": "string", "format": "date"}
    assert service_input["example"]["Inputs"]["when"] == "2024-01-02"
    assert service_input["example"]["GlobalParameters"] == {"threshold": 0.5}
    assert schemas["ServiceOutput"]["example"] == {"Results": [0.25]}
    assert schemas["ServiceOutput"]["required"] == ["Results"]


def test_a_mixed_type_sample_has_no_version_2(load_script: Callable[..., Adapter]) -> None:
    adapter = load_script("swagger_mixed.py")
    for query, version in (("", "2"), ("version=2", "2"), ("version=2.0", "2.0")):
        result = get(adapter, query)
        assert (result.status, body_json(result)) == (
            404,
            {
                "message": f"Swagger version [{version}] is not supported for the scoring script. "
                "Supported swagger versions: [3, 3.1]."
            },
        )
        assert header(result, "x-request-id") == "rid"
    unknown = get(adapter, "version=4")
    assert body_json(unknown) == {"message": "Swagger version [4] is not valid. Supported versions: [3, 3.1]."}
    assert doc(adapter, "3")["components"]["schemas"]["ServiceInput"]["properties"]["data"]["type"] == "array"
    assert doc(adapter, "3.1")["openapi"] == "3.1.0"


def test_unknown_versions_are_404_naming_the_scripts_versions(load_script: Callable[..., Adapter]) -> None:
    adapter = load_script("swagger_plain.py")
    # werkzeug's args parsing: blank values kept, "+" is a space, undecodable bytes re-quoted upper-case.
    for query, shown in (
        ("version=5", "5"),
        ("version=", ""),
        ("version", ""),
        ("version=3.10", "3.10"),
        ("version=3+1", "3 1"),
        ("version=%ff", "%FF"),
        ("version=v2", "v2"),
    ):
        result = get(adapter, query)
        assert result.status == 404, query
        assert body_json(result) == {
            "message": f"Swagger version [{shown}] is not valid. Supported versions: [2, 3, 3.1]."
        }
        assert header(result, "x-ms-run-function-failed") == "False"
        assert header(result, "x-request-id") == "rid"
    # The first value wins, percent-escapes are decoded, and other parameters are ignored.
    assert doc(adapter, "%33&version=2")["openapi"] == "3.0.3"
    assert get(adapter, "Version=3&x=1").body == get(adapter).body


def test_user_swagger_files_are_served_reserialised(load_app: Callable[[Path], Adapter]) -> None:
    adapter = load_app(SCRIPTS / "swagger_user")
    # swagger.json is `{}`, which Azure treats as absent, so swagger2.json is served: parsed and dumped again.
    v2 = get(adapter)
    assert v2.status == 200
    assert v2.body == (
        b'{"swagger": "2.0", "info": {"title": "hand written v2", "version": "7", '
        b'"x-note": "caf\\u00e9 \\u2713 \\u2713"}, "x-numbers": [1.0, 100000.0, 12345678901234567890, -0.0, 1e-07], '
        b'"x-order": {"z": 1, "a": 2, "z2": null}, "paths": {}}'
    )
    assert get(adapter, "version=2.0").body == v2.body
    assert get(adapter, "version=3").body == (
        b'{"openapi": "3.0.1", "info": {"title": "hand written v3", "version": "1"}, "paths": {}, "x-dup": 2}'
    )
    # No swagger3.1.json: generated from the decorators, whose mixed-type sample would rule out only version 2.
    generated = doc(adapter, "3.1")
    assert generated["openapi"] == "3.1.0"
    assert generated["components"]["schemas"]["ServiceInput"]["example"] == {"data": [1, "two"]}
    assert body_json(get(adapter, "version=9"))["message"].endswith("Supported versions: [2, 3, 3.1].")


def test_swagger_json_wins_and_falsy_files_fall_back(load_app: Callable[[Path], Adapter], tmp_path: Path) -> None:
    app = plain_app(
        tmp_path,
        **{
            "swagger.json": '{"from": "swagger.json"}',
            "swagger2.json": '{"from": "swagger2.json"}',
            "swagger3.json": '"just text"',
            "swagger3.1.json": "[]",
        },
    )
    adapter = load_app(app)
    assert get(adapter).body == b'{"from": "swagger.json"}'
    assert get(adapter, "version=3").body == b'"just text"'
    assert doc(adapter, "3.1")["components"]["schemas"]["ServiceInput"] == UNDECORATED


def test_service_settings_come_from_the_environment(
    load_app: Callable[[Path], Adapter], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Substituted into the template's JSON text, so JSON escapes in the value are decoded, as in Azure; the names
    # are matched case-insensitively (pydantic-settings).
    monkeypatch.setenv("SERVICE_NAME", "n\\u00e9 $SERVICE_VERSION$")
    monkeypatch.setenv("service_version", "2.5")
    monkeypatch.setenv("SERVICE_PATH_PREFIX", "/api/v1/")
    adapter = load_app(plain_app(tmp_path))
    for version in ALL_VERSIONS:
        document = doc(adapter, version)
        assert document["info"]["title"] == "né 2.5"
        assert document["info"]["description"] == "API specification for the Azure Machine Learning service né 2.5"
        assert document["info"]["version"] == "2.5"
        assert list(document["paths"]) == ["/api/v1/", "/api/v1/score", "/api/v1/swagger.json"]


def test_a_bare_slash_prefix_doubles_the_slash(
    load_app: Callable[[Path], Adapter], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SERVICE_PATH_PREFIX", "/")
    monkeypatch.setenv("SERVICE_VERSION", "")
    document = doc(load_app(plain_app(tmp_path)), "3")
    assert list(document["paths"]) == ["//", "//score", "//swagger.json"]
    assert document["info"]["version"] == ""


def test_an_unreadable_user_swagger_file_fails_the_load_as_azure_does(
    load_app: Callable[[Path], Adapter], tmp_path: Path
) -> None:
    # Azure's server builds its swagger documents at boot, so a broken user file stops the worker from starting.
    with pytest.raises(LoadError, match="Expecting value"):
        load_app(plain_app(tmp_path, **{"swagger3.json": '{"openapi": '}))


def test_a_service_name_that_breaks_the_template_fails_the_load(
    load_app: Callable[[Path], Adapter], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SERVICE_NAME", 'a"b')
    with pytest.raises(LoadError):
        load_app(plain_app(tmp_path))


def test_documents_are_built_once_per_script(load_app: Callable[[Path], Adapter], tmp_path: Path) -> None:
    app = plain_app(tmp_path, **{"swagger.json": '{"n": 1}'})
    adapter = load_app(app)
    assert isinstance(adapter, ScriptAdapter)
    first = get(adapter)
    (app / "swagger.json").write_text('{"n": 2}')
    (app / "swagger3.json").write_text('{"n": 3}')
    assert get(adapter).body == first.body == b'{"n": 1}'
    assert doc(adapter, "3")["openapi"] == "3.0.3"
    assert swagger.documents(adapter.script) is swagger.documents(adapter.script)


def test_head_options_and_other_methods(load_script: Callable[..., Adapter]) -> None:
    adapter = load_script("swagger_plain.py")
    full = get(adapter, "version=3")
    head = call(adapter, "HEAD", "/swagger.json", query="version=3", headers=[("x-request-id", "rid")])
    assert (head.status, head.body, head.headers) == (200, b"", full.headers)
    missing = call(adapter, "HEAD", "/swagger.json", query="version=9")
    assert (missing.status, missing.body, header(missing, "Content-Length")) == (404, b"", "81")
    options = call(adapter, "OPTIONS", "/swagger.json", headers=[("x-request-id", "rid")])
    assert (options.status, options.body, header(options, "Allow")) == (200, b"", "HEAD, GET, OPTIONS")
    assert header(options, "x-request-id") == "rid"
    for method in ("POST", "PUT", "DELETE"):
        refused = call(adapter, method, "/swagger.json", headers=[("x-request-id", "rid")])
        assert (refused.status, body_json(refused)) == (
            405,
            {"message": "The method is not allowed for the requested URL."},
        )
        assert header(refused, "x-request-id") is None
    for path in ("/swagger.json/", "/Swagger.json", "/swagger"):
        assert call(adapter, "GET", path).status == 404, path


def test_id_headers_and_their_limits(load_script: Callable[..., Adapter]) -> None:
    adapter = load_script("swagger_plain.py")
    traced = get(adapter, headers=[("x-ms-client-request-id", "cli"), ("traceid", "tr")])
    assert traced.headers[3:] == [
        ("x-request-id", "rid"),
        ("x-ms-request-id", "cli"),
        ("x-ms-client-request-id", "cli"),
        ("TraceId", "tr"),
    ]
    too_long = call(adapter, "GET", "/swagger.json", headers=[("x-request-id", "x" * 101)])
    assert (too_long.status, body_json(too_long)) == (431, {"message": "x-request-id must not exceed 100 characters"})


def test_access_line_and_preparation_log(load_script: Callable[..., Adapter], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    adapter = load_script("swagger_mixed.py")
    get(adapter, "version=3")
    get(adapter, "version=3")
    messages = [record.getMessage() for record in caplog.records]
    assert messages.count("Swaggers are prepared for versions [3, 3.1] and skipped for versions [2].") == 1
    assert sum(m.startswith("GET /swagger.json?version=3 200 ") for m in messages) == 2
    assert any(m.endswith(f" {len(get(adapter, 'version=3').body)}") for m in messages)


def test_version_parsing_defaults_to_2() -> None:
    assert swagger.requested_version("") == "2"
    assert swagger.requested_version("other=3") == "2"
    assert swagger.requested_version("version=3.1&version=2") == "3.1"
    assert sorted(swagger.VALID_VERSIONS) == sorted(ALL_VERSIONS)

"""`GET /swagger.json`: the OpenAPI documents azureml-inference-server-http 1.5.1 serves for a scoring script."""

from __future__ import annotations

import json
import logging
import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import werkzeug.urls  # noqa: F401 - registers the "werkzeug.url_quote" codec error handler that args parsing uses

from runtime.ipc.messages import Headers, Result
from runtime.worker import responses, swagger_templates
from runtime.worker.user_script import ScoringScript

logger = logging.getLogger("azmlinfsrv.swagger")

#: What Azure uses for both schemas when run() is not decorated.
_UNDECORATED_SCHEMA: dict[str, Any] = {"type": "object", "example": {}}


@dataclass(frozen=True, slots=True)
class _Builder:
    """One of Azure's swagger builders: its version, the aliases `?version=` accepts, and where things go."""

    version: str
    aliases: tuple[str, ...]
    user_files: tuple[str, ...]  #: files in AML_APP_ROOT served instead of a generated document, first wins
    template: str
    schemas_path: tuple[str, ...]  #: where ServiceInput/ServiceOutput live in the template
    openapi: str | None = None  #: replaces the template's `openapi` field


# Azure's registration order, which its "Supported versions" lists do not depend on (they are sorted).
_BUILDERS = (
    _Builder("2", ("2", "2.0"), ("swagger.json", "swagger2.json"), swagger_templates.SWAGGER2, ("definitions",)),
    _Builder("3", ("3", "3.0"), ("swagger3.json",), swagger_templates.SWAGGER3, ("components", "schemas")),
    _Builder("3.1", ("3.1",), ("swagger3.1.json",), swagger_templates.SWAGGER3, ("components", "schemas"), "3.1.0"),
)
VALID_VERSIONS = frozenset(alias for builder in _BUILDERS for alias in builder.aliases)


class SwaggerError(Exception):
    """The requested version is unknown or unavailable for the script: Azure answers 404 with this message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SwaggerDocs:
    """The documents of one script, built for every version at once as Azure does when its worker starts."""

    def __init__(self, app_root: str, run: Callable[..., Any]) -> None:
        self.documents: dict[str, Any] = {}  #: by every alias of the versions available
        self.supported: list[str] = []
        self._bodies: dict[str, bytes] = {}
        skipped: list[str] = []
        for builder in _BUILDERS:
            document = _read_user_swagger(app_root, builder)
            if not document:  # Azure tests truthiness: an empty user file (`{}`) is replaced by the generated one
                document = _generate(builder, run)
            if document is None:
                skipped.append(builder.version)
                continue
            for alias in builder.aliases:
                self.documents[alias] = document
            self.supported.append(builder.version)
        self.supported.sort()
        skipped.sort()
        if self.supported and skipped:
            logger.info(
                "Swaggers are prepared for versions [%s] and skipped for versions [%s].",
                ", ".join(self.supported),
                ", ".join(skipped),
            )
        elif self.supported:
            logger.info("Swaggers are prepared for the following versions: [%s].", ", ".join(self.supported))
        elif skipped:
            logger.info("No swagger is prepared.")

    def body(self, version: str) -> bytes:
        """The JSON body served for `?version=<version>`; raise SwaggerError with Azure's 404 message."""
        body = self._bodies.get(version)
        if body is not None:
            return body
        supported = ", ".join(self.supported)
        if version not in VALID_VERSIONS:
            # Azure lists the script's versions here, not the valid ones.
            raise SwaggerError(f"Swagger version [{version}] is not valid. Supported versions: [{supported}].")
        document = self.documents.get(version)
        if not document:
            raise SwaggerError(
                f"Swagger version [{version}] is not supported for the scoring script. "
                f"Supported swagger versions: [{supported}]."
            )
        # Azure's AMLResponse(json_str=True) re-serialises the parsed document, user files included.
        body = json.dumps(document).encode()
        self._bodies[version] = body
        return body


_cached: tuple[ScoringScript, SwaggerDocs] | None = None


def documents(script: ScoringScript) -> SwaggerDocs:
    """The script's swagger documents, built on first use and kept: a worker serves one script for its life."""
    global _cached
    if _cached is not None and _cached[0] is script:
        return _cached[1]
    docs = SwaggerDocs(os.environ.get("AML_APP_ROOT") or os.getcwd(), script.run)
    _cached = (script, docs)
    return docs


def respond(rid: int, script: ScoringScript, query: str, tail: Headers) -> Result:
    """Answer `GET /swagger.json?version=...` as Azure's view does: the document, a 404, or its 500."""
    version = requested_version(query)
    try:
        body = documents(script).body(version)
    except SwaggerError as exc:
        return responses.error_result(rid, 404, exc.message, tail)
    except Exception:
        # Azure builds the documents when its worker starts, so there a broken user file or template value stops
        # the server; built lazily here, the failure surfaces as the blueprint's internal error instead.
        logging.getLogger("azmlinfsrv").error("Encountered Exception: %s", traceback.format_exc())
        return responses.error_result(rid, 500, responses.INTERNAL_ERROR, tail)
    return responses.json_result(rid, 200, body, tail)


def requested_version(query: str) -> str:
    """`request.args.get("version")` as werkzeug parses it (the first value wins), defaulting to "2"."""
    for key, value in parse_qsl(query, keep_blank_values=True, errors="werkzeug.url_quote"):
        if key == "version":
            return value
    return "2"


def _read_user_swagger(app_root: str, builder: _Builder) -> Any:
    for name in builder.user_files:
        path = os.path.join(app_root, name)
        try:
            with open(path, encoding="utf-8") as file:
                document = json.load(file)
        except FileNotFoundError:
            continue
        logger.info("Loaded user's swagger file for version [%s] from %s", builder.version, path)
        if document:  # a falsy swagger.json falls back to swagger2.json, as in Azure
            return document
    return None


def _generate(builder: _Builder, run: Callable[..., Any]) -> dict[str, Any] | None:
    # Imported here so that workers whose script never imported inference_schema only pay for it on this route.
    from inference_schema.schema_util import (
        get_input_schema,
        get_output_schema,
        get_supported_versions,
        is_schema_decorated,
    )

    if all(alias not in get_supported_versions(run) for alias in builder.aliases):
        return None
    if is_schema_decorated(run):
        input_schema, output_schema = get_input_schema(run), get_output_schema(run)
    else:
        input_schema = output_schema = _UNDECORATED_SCHEMA
    prefix = _setting("SERVICE_PATH_PREFIX", "")
    text = (
        builder.template.replace("$SERVICE_NAME$", _setting("SERVICE_NAME", "ML service"))
        .replace("$SERVICE_VERSION$", _setting("SERVICE_VERSION", "1.0"))
        .replace("$PATH_PREFIX$", f"/{prefix.strip('/')}" if prefix else "")
    )
    document: dict[str, Any] = json.loads(text)
    schemas = document
    for key in builder.schemas_path:
        schemas = schemas[key]
    schemas["ServiceInput"] = input_schema
    schemas["ServiceOutput"] = output_schema
    if builder.openapi is not None:
        document["openapi"] = builder.openapi
    return document


def _setting(name: str, default: str) -> str:
    # Azure reads these through pydantic-settings, which matches environment names case-insensitively; when two
    # spellings are set, the later one in os.environ wins there too.
    value = default
    lowered = name.lower()
    for key, found in os.environ.items():
        if key.lower() == lowered:
            value = found
    return value

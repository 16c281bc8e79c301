"""The management API under /api: what the CLI calls, named after Azure's resources."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from runtime.control import views
from runtime.control.controller import Controller
from runtime.errors import SpecError

T = TypeVar("T")


class JSON(Response):
    """A JSON response encoded with msgspec."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return msgspec.json.encode(content)


async def _body(request: Request, type_: type[T]) -> T:
    raw = await request.body()
    try:
        return msgspec.json.decode(raw or b"{}", type=type_)
    except msgspec.ValidationError as exc:
        allowed = ", ".join(getattr(type_, "__struct_fields__", ()))
        raise SpecError(f"request body: {exc}; the fields allowed here are {allowed}") from None
    except msgspec.DecodeError as exc:
        raise SpecError(f"request body is not valid JSON: {exc}") from None


def _flag(request: Request, name: str, default: bool) -> bool:
    """A true/false query parameter (?wait=false)."""
    text = request.query_params.get(name)
    if text is None:
        return default
    if text.lower() not in ("true", "false"):
        raise SpecError(f"{name} must be true or false, got {text!r}")
    return text.lower() == "true"


def routes(ctl: Controller) -> list[Route]:
    """The management routes, bound to one controller."""

    # Azure's resource names are case-insensitive: a path names a resource in any case, and the stored spelling
    # is what the controller works with.
    def _endpoint(request: Request) -> str:
        return ctl.endpoints.endpoint_name(request.path_params["name"])

    def _deployment(request: Request) -> tuple[str, str]:
        endpoint = _endpoint(request)
        return endpoint, ctl.deployments.deployment_name(endpoint, request.path_params["deployment"])

    async def health(request: Request) -> Response:
        return JSON({"status": "ok"})

    async def status(request: Request) -> Response:
        return JSON(ctl.status.snapshot())

    async def endpoints(request: Request) -> Response:
        if request.method == "GET":
            return JSON(ctl.endpoints.list_endpoints())
        return JSON(await ctl.endpoints.create_endpoint(await _body(request, views.SpecRequest)), status_code=201)

    async def endpoint(request: Request) -> Response:
        name = _endpoint(request)
        if request.method == "GET":
            return JSON(ctl.endpoints.get_endpoint(name))
        if request.method == "DELETE":
            wait = _flag(request, "wait", True)
            await ctl.endpoints.delete_endpoint(name, wait=wait)
            return Response(status_code=204 if wait else 202)
        return JSON(await ctl.endpoints.update_endpoint(name, await _body(request, views.EndpointUpdate)))

    async def keys(request: Request) -> Response:
        return JSON(ctl.endpoints.keys(_endpoint(request)))

    async def regenerate(request: Request) -> Response:
        body = await _body(request, views.RegenerateKeys)
        return JSON(await ctl.endpoints.regenerate_keys(_endpoint(request), body))

    async def deployments(request: Request) -> Response:
        endpoint = _endpoint(request)
        if request.method == "GET":
            return JSON(ctl.deployments.list_deployments(endpoint))
        body = await _body(request, views.DeploymentRequest)
        return JSON(await ctl.deployments.create_deployment(endpoint, body), status_code=201)

    async def deployment(request: Request) -> Response:
        endpoint, name = _deployment(request)
        if request.method == "GET":
            return JSON(ctl.deployments.get_deployment(endpoint, name))
        if request.method == "DELETE":
            wait = _flag(request, "wait", True)
            await ctl.deployments.delete_deployment(endpoint, name, wait=wait)
            return Response(status_code=204 if wait else 202)
        body = await _body(request, views.SpecRequest)
        shown = await ctl.deployments.update_deployment(endpoint, name, body)
        return JSON(shown, status_code=200 if body.wait or not shown.get("rolled") else 202)

    async def logs(request: Request) -> Response:
        endpoint, name = _deployment(request)
        try:
            lines = int(request.query_params.get("lines", "200"))
            instance = int(request.query_params.get("instance", "0"))
        except ValueError:
            raise SpecError("lines and instance must be integers") from None
        if lines < 1 or instance < 0:
            raise SpecError(f"lines must be 1 or more and instance 0 or more; got lines={lines}, instance={instance}")
        container = request.query_params.get("container", "inference-server")
        text = await ctl.deployments.logs(endpoint, name, lines, instance, container)
        return Response(text, media_type="text/plain; charset=utf-8")

    async def restart(request: Request) -> Response:
        endpoint, name = _deployment(request)
        try:
            instance = int(request.path_params["instance"])
            process = int(request.query_params.get("process", "0"))
        except ValueError:
            raise SpecError("instance and process must be integers (0, 1, ...)") from None
        return JSON(await ctl.deployments.restart_worker(endpoint, name, instance, process))

    async def models(request: Request) -> Response:
        if request.method == "GET":
            archived = _flag(request, "include_archived", False)
            return JSON(ctl.models.list_models(request.query_params.get("name"), include_archived=archived))
        return JSON(await ctl.models.create_model(await _body(request, views.ModelRequest)), status_code=201)

    async def model(request: Request) -> Response:
        query = request.query_params
        return JSON(ctl.models.get_model(request.path_params["name"], query.get("version"), query.get("label")))

    async def model_version(request: Request) -> Response:
        name, version = request.path_params["name"], request.path_params["version"]
        if request.method == "GET":
            return JSON(ctl.models.get_model(name, version, None))
        await ctl.models.delete_model(name, version)
        return Response(status_code=204)

    async def archive(request: Request) -> Response:
        return JSON(await ctl.models.archive_model(request.path_params["name"], request.path_params["version"]))

    return [
        Route("/api/health", health, methods=["GET"]),
        Route("/api/status", status, methods=["GET"]),
        Route("/api/endpoints", endpoints, methods=["GET", "POST"]),
        Route("/api/endpoints/{name}", endpoint, methods=["GET", "PATCH", "DELETE"]),
        Route("/api/endpoints/{name}/keys", keys, methods=["GET"]),
        Route("/api/endpoints/{name}/regenerate-keys", regenerate, methods=["POST"]),
        Route("/api/endpoints/{name}/deployments", deployments, methods=["GET", "POST"]),
        Route("/api/endpoints/{name}/deployments/{deployment}", deployment, methods=["GET", "PATCH", "DELETE"]),
        Route("/api/endpoints/{name}/deployments/{deployment}/logs", logs, methods=["GET"]),
        Route("/api/endpoints/{name}/deployments/{deployment}/instances/{instance}/restart", restart, methods=["POST"]),
        Route("/api/models", models, methods=["GET", "POST"]),
        Route("/api/models/{name}", model, methods=["GET"]),
        Route("/api/models/{name}/versions/{version}", model_version, methods=["GET", "DELETE"]),
        Route("/api/models/{name}/versions/{version}/archive", archive, methods=["POST"]),
    ]

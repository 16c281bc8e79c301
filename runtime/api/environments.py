"""The management API of environments under /api/environments: register, build, show, prune and export."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from runtime.api.admin import JSON, _body
from runtime.control.controller import Controller, EnvironmentRequest
from runtime.errors import SpecError


def routes(ctl: Controller) -> list[Route]:
    """The environment routes, bound to one controller."""

    async def environments(request: Request) -> Response:
        if request.method == "GET":
            return JSON(ctl.environments.list_environments())
        return JSON(
            await ctl.environments.create_environment(await _body(request, EnvironmentRequest)), status_code=201
        )

    async def environment(request: Request) -> Response:
        query = request.query_params
        return JSON(
            ctl.environments.get_environment(request.path_params["name"], query.get("version"), query.get("label"))
        )

    async def version(request: Request) -> Response:
        name, version = request.path_params["name"], request.path_params["version"]
        if request.method == "GET":
            return JSON(ctl.environments.get_environment(name, version, None))
        await ctl.environments.delete_environment(name, version)
        return Response(status_code=204)

    async def prune(request: Request) -> Response:
        return JSON(await ctl.environments.prune_environments())

    async def builds(request: Request) -> Response:
        return JSON(
            [{"hash": p.digest, "started_at": p.started_at, "line": p.line} for p in ctl.core.envs.progress.values()]
        )

    async def export(request: Request) -> Response:
        dest = request.query_params.get("path")
        if not dest:
            raise SpecError("name the folder to write the wheels into with -o/--output (?path=...)")
        name = request.path_params["name"]
        return JSON(await ctl.environments.export_environment(name, request.query_params.get("version"), dest))

    return [
        Route("/api/environments", environments, methods=["GET", "POST"]),
        Route("/api/environments-prune", prune, methods=["POST"]),
        Route("/api/environment-builds", builds, methods=["GET"]),
        Route("/api/environments/{name}", environment, methods=["GET"]),
        Route("/api/environments/{name}/export", export, methods=["POST"]),
        Route("/api/environments/{name}/versions/{version}", version, methods=["GET", "DELETE"]),
    ]

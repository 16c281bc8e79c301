"""The management API of batch resources under /api: batch endpoints and deployments, data assets, computes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from runtime.api.admin import JSON, _body, _flag
from runtime.control import views
from runtime.control.controller import Controller


def routes(ctl: Controller) -> list[Route]:
    """The batch management routes, bound to one controller."""

    # As for online resources, a path names a resource in any case; the controller works with the stored spelling.
    def _endpoint(request: Request) -> str:
        return ctl.core.batch.spelling("endpoint", request.path_params["name"])

    def _deployment(request: Request) -> tuple[str, str]:
        endpoint = _endpoint(request)
        return endpoint, ctl.core.batch.spelling("deployment", request.path_params["deployment"], endpoint)

    async def endpoints(request: Request) -> Response:
        if request.method == "GET":
            return JSON(ctl.batch.list_batch_endpoints())
        return JSON(await ctl.batch.create_batch_endpoint(await _body(request, views.SpecRequest)), status_code=201)

    async def endpoint(request: Request) -> Response:
        name = _endpoint(request)
        if request.method == "GET":
            return JSON(ctl.batch.get_batch_endpoint(name))
        if request.method == "DELETE":
            # Nothing runs for a batch endpoint yet, so the delete is done when it answers; ?wait=false is taken.
            wait = _flag(request, "wait", True)
            await ctl.batch.delete_batch_endpoint(name)
            return Response(status_code=204 if wait else 202)
        return JSON(await ctl.batch.update_batch_endpoint(name, await _body(request, views.SpecRequest)))

    async def deployments(request: Request) -> Response:
        name = _endpoint(request)
        if request.method == "GET":
            return JSON(ctl.batch.list_batch_deployments(name))
        body = await _body(request, views.BatchDeploymentRequest)
        return JSON(await ctl.batch.create_batch_deployment(name, body), status_code=201)

    async def deployment(request: Request) -> Response:
        endpoint, name = _deployment(request)
        if request.method == "GET":
            return JSON(ctl.batch.get_batch_deployment(endpoint, name))
        if request.method == "DELETE":
            wait = _flag(request, "wait", True)
            await ctl.batch.delete_batch_deployment(endpoint, name)
            return Response(status_code=204 if wait else 202)
        body = await _body(request, views.BatchDeploymentRequest)
        return JSON(await ctl.batch.update_batch_deployment(endpoint, name, body))

    async def data(request: Request) -> Response:
        if request.method == "GET":
            return JSON(ctl.assets.list_data(request.query_params.get("name")))
        return JSON(await ctl.assets.create_data(await _body(request, views.DataRequest)), status_code=201)

    async def data_asset(request: Request) -> Response:
        return JSON(ctl.assets.get_data(request.path_params["name"], None, request.query_params.get("label", "latest")))

    async def data_version(request: Request) -> Response:
        return JSON(ctl.assets.get_data(request.path_params["name"], request.path_params["version"], None))

    async def computes(request: Request) -> Response:
        if request.method == "GET":
            return JSON(ctl.assets.list_computes())
        return JSON(await ctl.assets.create_compute(await _body(request, views.ComputeRequest)), status_code=201)

    async def compute(request: Request) -> Response:
        name = ctl.core.batch.spelling("compute", request.path_params["name"])
        if request.method == "GET":
            return JSON(ctl.assets.get_compute(name))
        await ctl.assets.delete_compute(name)
        return Response(status_code=204)

    return [
        Route("/api/batch-endpoints", endpoints, methods=["GET", "POST"]),
        Route("/api/batch-endpoints/{name}", endpoint, methods=["GET", "PATCH", "DELETE"]),
        Route("/api/batch-endpoints/{name}/deployments", deployments, methods=["GET", "POST"]),
        Route("/api/batch-endpoints/{name}/deployments/{deployment}", deployment, methods=["GET", "PATCH", "DELETE"]),
        Route("/api/data", data, methods=["GET", "POST"]),
        Route("/api/data/{name}", data_asset, methods=["GET"]),
        Route("/api/data/{name}/versions/{version}", data_version, methods=["GET"]),
        Route("/api/computes", computes, methods=["GET", "POST"]),
        Route("/api/computes/{name}", compute, methods=["GET", "DELETE"]),
    ]

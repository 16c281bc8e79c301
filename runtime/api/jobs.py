"""The management API of batch jobs under /api: invoke, list, show and cancel; and access tokens for the REST
invoke route."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from runtime.api.admin import JSON, _body
from runtime.control.controller import Controller, InvokeRequest


def routes(ctl: Controller) -> list[Route]:
    """The job management routes, bound to one controller."""

    def _endpoint(request: Request) -> str:
        return ctl.core.batch.spelling("endpoint", request.path_params["name"])

    async def endpoint_jobs(request: Request) -> Response:
        name = _endpoint(request)
        if request.method == "GET":
            return JSON(ctl.jobs.list_jobs(name))
        return JSON(await ctl.jobs.invoke_batch_endpoint(name, await _body(request, InvokeRequest)), status_code=201)

    async def deployment_jobs(request: Request) -> Response:
        endpoint = _endpoint(request)
        deployment = ctl.core.batch.spelling("deployment", request.path_params["deployment"], endpoint)
        return JSON(ctl.jobs.list_jobs(endpoint, deployment))

    async def jobs(request: Request) -> Response:
        return JSON(ctl.jobs.list_jobs())

    async def job(request: Request) -> Response:
        return JSON(ctl.jobs.get_job(request.path_params["job"]))

    async def cancel(request: Request) -> Response:
        return JSON(ctl.jobs.cancel_job(request.path_params["job"]))

    async def access_token(request: Request) -> Response:
        return JSON(ctl.jobs.access.issue())

    return [
        Route("/api/batch-endpoints/{name}/jobs", endpoint_jobs, methods=["GET", "POST"]),
        Route("/api/batch-endpoints/{name}/deployments/{deployment}/jobs", deployment_jobs, methods=["GET"]),
        Route("/api/jobs", jobs, methods=["GET"]),
        Route("/api/jobs/{job}", job, methods=["GET"]),
        Route("/api/jobs/{job}/cancel", cancel, methods=["POST"]),
        Route("/api/access-token", access_token, methods=["POST"]),
    ]

"""Azure's batch invoke route, `POST /batch-endpoints/<endpoint>/jobs`, with a Bearer token from
`modelyard account get-access-token` (the stand-in for Entra ID tokens for https://ml.azure.com)."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from runtime.api.admin import JSON
from runtime.api.errors import admin_body, status_for
from runtime.control.controller import Controller
from runtime.control.controller.rest_jobs import invoke_from_rest
from runtime.errors import Code, ModelyardError, SpecError
from runtime.routing.router import DEPLOYMENT_HEADER

PREFIX = "/batch-endpoints/"


def _error(code: Code, message: str) -> Response:
    headers = {"WWW-Authenticate": 'Bearer realm="modelyard"'} if code is Code.UNAUTHENTICATED else None
    return Response(admin_body(code, message), status_for(code), headers=headers, media_type="application/json")


async def invoke(ctl: Controller, request: Request) -> Response:
    """One REST invoke: the token, then the body in either of Azure's shapes; the job resource, as Azure's."""
    rest = request.url.path[len(PREFIX) :]
    name, _, tail = rest.partition("/")
    if tail.rstrip("/") != "jobs" or not name:
        return _error(Code.NOT_FOUND, f"no such route: {request.url.path}; batch jobs go to /batch-endpoints/<e>/jobs")
    if request.method != "POST":
        return _error(Code.UNSUPPORTED, f"{request.url.path} takes POST; list jobs with `modelyard job list`")
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _error(Code.UNAUTHENTICATED, "missing Bearer token: get one with `modelyard account get-access-token`")
    if not ctl.jobs.access.valid(token.strip()):
        return _error(
            Code.UNAUTHENTICATED, "the token is not valid or has expired; get a new one with `account get-access-token`"
        )
    try:
        try:
            body = msgspec.json.decode(await request.body())
        except msgspec.DecodeError as exc:
            raise SpecError(f"request body is not valid JSON: {exc}") from None
        req = invoke_from_rest(body, request.headers.get(DEPLOYMENT_HEADER))
        job = await ctl.jobs.invoke_batch_endpoint(ctl.core.batch.spelling("endpoint", name), req)
    except ModelyardError as exc:
        return _error(exc.code, exc.message)
    return JSON(
        {
            "id": job["id"],
            "name": job["name"],
            "type": "Microsoft.MachineLearningServices/workspaces/jobs",
            "properties": {
                "status": job["status"],
                "jobType": "Pipeline",
                "experimentName": job["experiment_name"],
                "endpointName": job["endpoint_name"],
                "deploymentName": job["deployment_name"],
                "inputData": {k: {"uri": v["path"]} for k, v in job["inputs"].items()},
                "outputData": {k: {"uri": v["path"]} for k, v in job["outputs"].items()},
                "creationContext": job["creation_context"],
                "interactionEndpoints": {"Studio": {"endpoint": f"{ctl.core.base_url}/api/jobs/{job['name']}"}},
            },
        }
    )

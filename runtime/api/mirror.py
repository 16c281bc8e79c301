"""The mirror report under /api/endpoints/{name}/mirror-report."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from runtime.api.admin import JSON
from runtime.control.controller import Controller


def routes(ctl: Controller) -> list[Route]:
    """The mirror report route, bound to one controller."""

    async def report(request: Request) -> Response:
        name = ctl.endpoints.endpoint_name(request.path_params["name"])
        return JSON(ctl.endpoints.mirror_report(name, request.query_params.get("since")))

    return [Route("/api/endpoints/{name}/mirror-report", report, methods=["GET"])]

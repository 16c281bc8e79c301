"""The management API of Azure Monitor autoscale settings under /api/autoscale-settings."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from runtime.api.admin import JSON, _body
from runtime.control.controller import Controller
from runtime.control.controller.autoscale import AutoscaleCreate, AutoscaleUpdate, RuleCreate


def routes(ctl: Controller) -> list[Route]:
    """The autoscale routes, bound to one controller."""

    async def settings(request: Request) -> Response:
        if request.method == "GET":
            return JSON(ctl.autoscale.list_autoscales())
        return JSON(await ctl.autoscale.create_autoscale(await _body(request, AutoscaleCreate)), status_code=201)

    async def setting(request: Request) -> Response:
        name = request.path_params["name"]
        if request.method == "GET":
            return JSON(ctl.autoscale.get_autoscale(name))
        if request.method == "DELETE":
            await ctl.autoscale.delete_autoscale(name)
            return Response(status_code=204)
        return JSON(await ctl.autoscale.update_autoscale(name, await _body(request, AutoscaleUpdate)))

    async def rules(request: Request) -> Response:
        name = request.path_params["name"]
        profile = request.query_params.get("profile", "default")
        if request.method == "GET":
            return JSON(ctl.autoscale.list_autoscale_rules(name, profile))
        if request.method == "DELETE":
            await ctl.autoscale.delete_autoscale_rules(name, request.query_params.getlist("index"), profile)
            return Response(status_code=204)
        return JSON(await ctl.autoscale.create_autoscale_rule(name, await _body(request, RuleCreate)), status_code=201)

    return [
        Route("/api/autoscale-settings", settings, methods=["GET", "POST"]),
        Route("/api/autoscale-settings/{name}", setting, methods=["GET", "PATCH", "DELETE"]),
        Route("/api/autoscale-settings/{name}/rules", rules, methods=["GET", "POST", "DELETE"]),
    ]

"""Builds the router's tables from the stored endpoints and the running supervisors."""

from __future__ import annotations

from collections.abc import Mapping

from runtime.control.registry import EndpointRecord
from runtime.control.supervisor import DeploymentSupervisor
from runtime.errors import SpecError
from runtime.metrics.stats import DeploymentStats
from runtime.routing.balance import WeightedTable
from runtime.routing.router import DeploymentRoute, EndpointRoute
from runtime.spec import AuthMode
from runtime.spec.tolerance import Tolerances, tolerances_of


def build_routes(
    endpoints: list[EndpointRecord],
    supervisors: Mapping[tuple[str, str], DeploymentSupervisor],
    previous: Mapping[str, EndpointRoute],
) -> dict[str, EndpointRoute]:
    """One EndpointRoute per endpoint, keyed by its name in lower case (host names and Azure names ignore case).

    A deployment keeps its DeploymentRoute object across rebuilds: requests in flight decrement the object they
    incremented, so admission counts stay exact however often the tables change; its request counts stay too.
    """
    routes: dict[str, EndpointRoute] = {}
    for ep in endpoints:
        old = previous.get(ep.name.lower())
        deps: dict[str, DeploymentRoute] = {}
        for (endpoint, name), sup in supervisors.items():
            if endpoint != ep.name:
                continue
            rs = sup.spec.request_settings
            # Azure's front end admits 2 x max_concurrent_requests_per_instance x instance_count in flight.
            max_inflight = 2 * rs.max_concurrent_requests_per_instance * sup.spec.instance_count
            route = old.deployments.get(name) if old else None
            if route is None:
                stats = DeploymentStats(ep.name, name)
                route = DeploymentRoute(
                    name, _ready_workers(sup), rs.request_timeout_ms, max_inflight, sup.plan.kind, stats
                )
            else:
                route.workers = _ready_workers(sup)
                route.timeout_s = rs.request_timeout_ms / 1000
                route.max_inflight = max_inflight
                route.kind = sup.plan.kind
            deps[name] = route
        tokens = ep.spec.auth_mode is not AuthMode.KEY
        routes[ep.name.lower()] = EndpointRoute(
            name=ep.name,
            tokens=tokens,
            uid=ep.uid,
            kubernetes=ep.spec.compute is not None,
            keys=() if tokens else (ep.primary_key, ep.secondary_key),
            traffic=WeightedTable(ep.traffic),
            mirror=next(iter(ep.mirror.items()), None),
            deployments=deps,
            front=old.front if old else DeploymentStats(ep.name, ""),
            tolerances=_tolerances(ep.spec.tags),
        )
    return routes


def _tolerances(tags: dict[str, str]) -> Tolerances:
    try:
        return tolerances_of(tags)
    except SpecError:  # stored before the tag was checked: compare with the default rather than fail the table
        return Tolerances()


def _ready_workers(sup: DeploymentSupervisor) -> DeploymentRoute.WorkersFn:
    return lambda: sup.ready_workers

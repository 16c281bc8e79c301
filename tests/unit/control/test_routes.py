from pathlib import Path

import msgspec
from records import endpoint_record

from runtime.control.allocator import Allocation
from runtime.control.plan import WorkerPlan
from runtime.control.routes import build_routes
from runtime.control.supervisor import DeploymentSupervisor
from runtime.spec import load_deployment
from runtime.spec.tolerance import DEFAULT_TOLERANCE, TOLERANCE_TAG


def _supervisor(timeout_ms: int) -> DeploymentSupervisor:
    text = (
        "name: blue\nendpoint_name: digits\ninstance_type: cpu1\ninstance_count: 2\n"
        f"request_settings: {{request_timeout_ms: {timeout_ms}, max_concurrent_requests_per_instance: 3}}\n"
    )
    plan = WorkerPlan(kind="script", app_root=None, entry_script=None, model_dir=None, model_repository=None, env={})
    return DeploymentSupervisor(
        name="blue",
        plan=plan,
        spec=load_deployment(text, source="d.yml").spec,
        allocations=(Allocation(cores=(0,)), Allocation(cores=(1,))),
        notes=(),
        socket_dir=Path("/nonexistent"),
        log_dir=Path("/nonexistent"),
    )


def test_admission_bound_and_timeout_come_from_the_deployment() -> None:
    routes = build_routes([endpoint_record({"blue": 100})], {("digits", "blue"): _supervisor(700)}, {})
    blue = routes["digits"].deployments["blue"]
    assert blue.max_inflight == 2 * 3 * 2 and blue.timeout_s == 0.7
    assert routes["digits"].keys == ("p" * 20, "s" * 20) and not routes["digits"].tokens


def test_a_rebuild_keeps_the_in_flight_count_exact() -> None:
    first = build_routes([endpoint_record({"blue": 100})], {("digits", "blue"): _supervisor(700)}, {})
    route = first["digits"].deployments["blue"]
    route.inflight += 1  # a request is in flight...
    second = build_routes([endpoint_record({"blue": 100})], {("digits", "blue"): _supervisor(900)}, first)
    rebuilt = second["digits"].deployments["blue"]
    # The rebuilt table still counts the request, so admission after the swap sees it...
    assert rebuilt.timeout_s == 0.9 and rebuilt.inflight == 1
    route.inflight -= 1  # ...and it finishes on the object it started on, which the new table holds
    assert rebuilt.inflight == 0


def test_the_table_carries_the_mirror_tolerances_of_the_endpoint_tag() -> None:
    plain = endpoint_record({"blue": 100})
    tagged = msgspec.structs.replace(
        plain, spec=msgspec.structs.replace(plain.spec, tags={TOLERANCE_TAG: "scores=1e-2"})
    )
    assert build_routes([plain], {}, {})["digits"].tolerances.of("scores") == DEFAULT_TOLERANCE
    assert build_routes([tagged], {}, {})["digits"].tolerances.of("scores") == 1e-2

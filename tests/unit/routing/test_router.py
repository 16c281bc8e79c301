import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
import pytest

from runtime.api.errors import status_for
from runtime.errors import Code, ModelyardError, NotFound, Unauthenticated, WorkerLost
from runtime.ipc.messages import Failure, Headers, Result
from runtime.routing.balance import WeightedTable
from runtime.routing.router import DeploymentRoute, EndpointRoute, Router


class FakeWorker:
    def __init__(self, status: int = 200, body: bytes = b"{}", delay: float = 0.0, lost: bool = False) -> None:
        self.status, self.body, self.delay, self.lost = status, body, delay, lost
        self.inflight = 0
        self.alive = True
        self.seen: list[Headers] = []
        self.max_bodies: list[int] = []
        self.late: list[Callable[[], None]] = []  #: releases of timed-out requests, called when "answered"

    async def infer(
        self,
        method: str,
        path: str,
        query: str,
        headers: Headers,
        body: bytes,
        timeout: float,
        max_body: int = 0,
        on_late: Callable[[], None] | None = None,
    ) -> Result | Failure:
        self.seen.append(headers)
        self.max_bodies.append(max_body)
        self.inflight += 1
        try:
            try:
                async with asyncio.timeout(timeout):
                    await asyncio.sleep(self.delay)
            except TimeoutError:
                if on_late is not None:
                    self.late.append(on_late)
                raise
            if self.lost:
                raise WorkerLost("worker blue-0 (pid 1) was killed by SIGKILL while handling the request")
            return Result(1, self.status, [("content-type", "application/json")], self.body)
        finally:
            self.inflight -= 1


def endpoint(
    workers: dict[str, Sequence[FakeWorker]], traffic: dict[str, int], timeout_ms: int = 5000, kubernetes: bool = False
) -> EndpointRoute:
    deps = {n: DeploymentRoute(n, lambda ws=ws: ws, timeout_ms, 2) for n, ws in workers.items()}
    return EndpointRoute(
        name="ep",
        keys=("k1", "k2"),
        traffic=WeightedTable(traffic),
        mirror=None,
        deployments=deps,
        kubernetes=kubernetes,
    )


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_both_keys_authenticate_and_anything_else_is_refused() -> None:
    router = Router(lambda: 0.5)
    route = endpoint({"blue": [FakeWorker()]}, {"blue": 100})
    router.authenticate(route, "Bearer k1")
    router.authenticate(route, "Bearer k2")
    for bad in (None, "", "Bearer", "Bearer k3", "Basic k1"):
        with pytest.raises(Unauthenticated):
            router.authenticate(route, bad)


def test_success_names_the_deployment_and_replaces_the_request_id() -> None:
    worker = FakeWorker(body=b"[1]")
    route = endpoint({"blue": [worker]}, {"blue": 100})
    resp = run(Router(lambda: 0.5).forward(route, "POST", "/score", "", [("x-request-id", "mine")], b"{}", None))
    assert resp.status == 200 and resp.body == b"[1]"
    assert ("azureml-model-deployment", "blue") in resp.headers
    sent = dict(worker.seen[0])
    assert sent["x-request-id"] != "mine" and len(sent["x-request-id"]) == 36


@pytest.mark.parametrize(
    ("sent", "seen"),
    [
        ("abc-DEF_123", "abc-DEF_123"),
        ("a b;c/d", "abcd"),
        ("x" * 41, "x" * 40),
        ("id:" + "7" * 50, "id" + "7" * 38),
        ("{}", None),
    ],
)
def test_the_client_request_id_reaches_the_script_as_azure_sanitises_it(sent: str, seen: str | None) -> None:
    worker = FakeWorker()
    route = endpoint({"blue": [worker]}, {"blue": 100})
    run(Router(lambda: 0.5).forward(route, "POST", "/score", "", [("x-ms-client-request-id", sent)], b"{}", None))
    assert dict(worker.seen[0]).get("x-ms-client-request-id") == seen


def test_the_front_ends_request_id_is_the_one_the_script_sees() -> None:
    worker = FakeWorker()
    route = endpoint({"blue": [worker]}, {"blue": 100})
    router = Router(lambda: 0.5)
    rid = router.new_request_id()
    run(router.forward(route, "POST", "/score", "", [], b"{}", None, rid))
    assert dict(worker.seen[0])["x-request-id"] == rid and rid != router.new_request_id()


@pytest.mark.parametrize("path", ["/", "/foo", "/score/", "/v2/health/live", "/swagger.json/x"])
def test_a_url_a_scoring_script_does_not_serve_is_the_front_ends_404(path: str) -> None:
    worker = FakeWorker()
    route = endpoint({"blue": [worker]}, {"blue": 100})
    for target in (None, "blue"):
        with pytest.raises(NotFound, match=r"it serves /score and /swagger\.json"):
            run(Router(lambda: 0.5).forward(route, "GET", path, "", [], b"", target))
    assert worker.seen == []


def test_a_triton_deployment_serves_the_v2_routes_and_not_score() -> None:
    worker = FakeWorker()
    route = endpoint({"blue": [worker]}, {"blue": 100})
    route.deployments["blue"].kind = "triton"
    assert run(Router(lambda: 0.5).forward(route, "GET", "/v2/health/ready", "", [], b"", None)).status == 200
    with pytest.raises(NotFound, match=r"has no /score"):
        run(Router(lambda: 0.5).forward(route, "POST", "/score", "", [], b"{}", None))
    assert len(worker.seen) == 1


def test_non_200_from_the_script_becomes_424_with_the_original_status() -> None:
    route = endpoint({"blue": [FakeWorker(status=500, body=b'{"message": "boom"}')]}, {"blue": 100})
    router = Router(lambda: 0.5)
    router.status_of = status_for
    resp = run(router.forward(route, "POST", "/score", "", [], b"{}", None))
    assert resp.status == 424
    assert ("ms-azureml-model-error-statuscode", "500") in resp.headers
    assert resp.body == b'{"message": "boom"}'


def test_header_targets_a_deployment_with_zero_traffic() -> None:
    green = FakeWorker()
    route = endpoint({"blue": [FakeWorker()], "green": [green]}, {"blue": 100, "green": 0})
    resp = run(Router(lambda: 0.5).forward(route, "POST", "/score", "", [], b"{}", "green"))
    assert ("azureml-model-deployment", "green") in resp.headers and len(green.seen) == 1


def test_no_positive_traffic_and_unknown_target_are_not_found() -> None:
    route = endpoint({"blue": [FakeWorker()]}, {"blue": 0})
    with pytest.raises(NotFound, match="no deployment with positive traffic"):
        run(Router(lambda: 0.5).forward(route, "POST", "/score", "", [], b"{}", None))
    with pytest.raises(NotFound, match="red"):
        run(Router(lambda: 0.5).forward(route, "POST", "/score", "", [], b"{}", "red"))


def test_timeout_is_a_timeout_error() -> None:
    route = endpoint({"blue": [FakeWorker(delay=1.0)]}, {"blue": 100}, timeout_ms=20)
    with pytest.raises(ModelyardError, match="request_timeout_ms") as info:
        run(Router(lambda: 0.5).forward(route, "POST", "/score", "", [], b"{}", None))
    assert info.value.code is Code.TIMEOUT


def test_requests_over_the_admission_bound_are_refused() -> None:
    route = endpoint({"blue": [FakeWorker(delay=0.05)]}, {"blue": 100})
    router = Router(lambda: 0.5)

    async def burst() -> list[object]:
        calls = [router.forward(route, "POST", "/score", "", [], b"{}", None) for _ in range(3)]
        return await asyncio.gather(*calls, return_exceptions=True)

    results = run(burst())
    errors = [r for r in results if isinstance(r, ModelyardError)]
    assert len(errors) == 1 and errors[0].code is Code.OVERLOADED
    assert "Too many pending requests" in errors[0].message


def test_a_lost_worker_fails_the_request_with_the_reason() -> None:
    route = endpoint({"blue": [FakeWorker(lost=True)]}, {"blue": 100})
    with pytest.raises(WorkerLost, match="SIGKILL"):
        run(Router(lambda: 0.5).forward(route, "POST", "/score", "", [], b"{}", None))


def test_kubernetes_endpoints_report_script_failures_as_502_and_timeouts_as_gateway_timeouts() -> None:
    router = Router(lambda: 0.5)
    router.status_of = status_for
    failing = endpoint({"blue": [FakeWorker(status=500)]}, {"blue": 100}, kubernetes=True)
    assert run(router.forward(failing, "POST", "/score", "", [], b"{}", None)).status == 502
    refusing = endpoint({"blue": [FakeWorker(status=422)]}, {"blue": 100}, kubernetes=True)
    resp = run(router.forward(refusing, "POST", "/score", "", [], b"{}", None))
    assert resp.status == 422 and not any(k.startswith("ms-azureml-model-error") for k, _ in resp.headers)
    slow = endpoint({"blue": [FakeWorker(delay=1.0)]}, {"blue": 100}, timeout_ms=20, kubernetes=True)
    with pytest.raises(ModelyardError) as info:
        run(router.forward(slow, "POST", "/score", "", [], b"{}", None))
    assert info.value.code is Code.UPSTREAM_TIMEOUT


def test_a_worker_that_just_died_is_skipped_for_a_live_sibling_or_503() -> None:
    dead, live = FakeWorker(lost=True), FakeWorker(body=b"[2]")
    dead.alive = False
    route = endpoint({"blue": [dead, live]}, {"blue": 100})
    router = Router(lambda: 0.0)  # the two-choice sample prefers the first worker on ties
    for _ in range(5):
        resp = run(router.forward(route, "POST", "/score", "", [], b"{}", None))
        assert resp.status == 200 and resp.body == b"[2]"
    assert dead.seen == []
    alone = endpoint({"blue": [dead]}, {"blue": 100})
    with pytest.raises(ModelyardError, match=r"deployment 'blue' has no ready instance") as info:
        run(router.forward(alone, "POST", "/score", "", [], b"{}", None))
    assert info.value.code is Code.UNAVAILABLE


def test_a_timed_out_request_holds_its_admission_slot_until_the_workers_late_answer() -> None:
    worker = FakeWorker(delay=10.0)
    route = endpoint({"blue": [worker]}, {"blue": 100}, timeout_ms=10)  # admits 2
    router = Router(lambda: 0.5)
    for _ in range(2):
        with pytest.raises(ModelyardError) as info:
            run(router.forward(route, "POST", "/score", "", [], b"{}", None))
        assert info.value.code is Code.TIMEOUT
    dep = route.deployments["blue"]
    assert dep.inflight == 2  # the worker still runs both
    with pytest.raises(ModelyardError, match="Too many pending requests") as refused:
        run(router.forward(route, "POST", "/score", "", [], b"{}", None))
    assert refused.value.code is Code.OVERLOADED and len(worker.late) == 2
    worker.late.pop()()  # one late answer arrives
    assert dep.inflight == 1
    worker.delay = 0.0
    assert run(router.forward(route, "POST", "/score", "", [], b"{}", None)).status == 200
    assert dep.inflight == 1


def test_answered_and_failed_requests_free_their_slot_at_once() -> None:
    route = endpoint({"blue": [FakeWorker(status=500)], "green": [FakeWorker(lost=True)]}, {"blue": 100})
    router = Router(lambda: 0.5)
    run(router.forward(route, "POST", "/score", "", [], b"{}", None))
    with pytest.raises(WorkerLost):
        run(router.forward(route, "POST", "/score", "", [], b"{}", "green"))
    assert route.deployments["blue"].inflight == 0 and route.deployments["green"].inflight == 0


def test_a_mirror_copy_carries_the_cleaned_headers_of_the_live_request() -> None:
    live, shadow = FakeWorker(), FakeWorker()
    route = endpoint({"blue": [live], "green": [shadow]}, {"blue": 100})
    route = EndpointRoute(
        name="ep", keys=("k1",), traffic=route.traffic, mirror=("green", 50), deployments=route.deployments
    )
    router = Router(lambda: 0.1)
    sent = [("x-request-id", "client"), ("x-ms-client-request-id", "a b;c"), ("x-custom", "1")]

    async def call() -> None:
        await router.forward(route, "POST", "/score", "", sent, b"{}", None, "front-end-id", max_body=123)
        await asyncio.sleep(0.01)  # the copy is fire-and-forget

    run(call())
    assert shadow.seen == live.seen
    assert dict(shadow.seen[0]) == {"x-ms-client-request-id": "abc", "x-custom": "1", "x-request-id": "front-end-id"}
    assert shadow.max_bodies == live.max_bodies == [123]


def test_every_answer_is_counted_by_deployment_and_status_with_its_duration() -> None:
    blue = FakeWorker(delay=0.05)
    route = endpoint({"blue": [blue], "red": [FakeWorker(status=500)]}, {"blue": 100})
    router = Router(lambda: 0.5)
    router.status_of = status_for

    async def call(target: str | None = None) -> int:
        try:
            return (await router.forward(route, "POST", "/score", "", [], b"{}", target)).status
        except ModelyardError as exc:
            return status_for(exc.code)

    async def burst() -> list[int]:
        # The admission bound is 2 in flight: the third concurrent request is a 429.
        return await asyncio.gather(call(), call(), call(), call("red"), call("nosuch"))

    assert sorted(run(burst())) == [200, 200, 404, 424, 429]
    stats = route.deployments["blue"].stats
    assert stats.statuses == {200: 2, 429: 1}
    assert stats.duration.count == 3 and stats.duration.sum >= 2 * 0.05
    assert stats.queue_wait.count == 2  # a refused request never reached a worker
    assert route.deployments["red"].stats.statuses == {424: 1}
    assert route.front.statuses == {404: 1}  # the unknown deployment was the front end's refusal


def test_refusals_before_forwarding_are_counted_on_the_endpoint_or_apart() -> None:
    router = Router(lambda: 0.5)
    router.status_of = lambda code: 401 if code is Code.UNAUTHENTICATED else 404
    route = endpoint({"blue": [FakeWorker()]}, {"blue": 100})
    router.refused(route, Code.UNAUTHENTICATED, 0.001)
    router.refused(None, Code.NOT_FOUND, 0.001)
    assert route.front.statuses == {401: 1} and router.unrouted.statuses == {404: 1}
    assert route.deployments["blue"].stats.requests == 0


def test_mirror_copies_are_counted_on_the_shadow_and_not_as_client_requests() -> None:
    route = endpoint({"blue": [FakeWorker()], "green": [FakeWorker(status=500)]}, {"blue": 100})
    route = EndpointRoute(
        name="ep", keys=("k1",), traffic=route.traffic, mirror=("green", 50), deployments=route.deployments
    )
    router = Router(lambda: 0.1)

    async def call() -> None:
        await router.forward(route, "POST", "/score", "", [], b"{}", None)
        await asyncio.sleep(0.01)

    run(call())
    green = route.deployments["green"].stats
    assert (green.mirrored, green.mirror_failures, green.requests, green.queue_wait.count) == (1, 1, 0, 0)
    assert route.deployments["blue"].stats.statuses == {200: 1}


def test_queue_wait_ends_when_the_worker_began_the_request() -> None:
    class Busy(FakeWorker):
        async def infer(self, *args: Any, **kwargs: Any) -> Result | Failure:
            answer = await super().infer(*args, **kwargs)
            assert isinstance(answer, Result)
            # As a worker busy with an earlier request answers: it began this one 30 ms after it was sent.
            return msgspec.structs.replace(answer, started=time.monotonic() + 0.03)

    route = endpoint({"blue": [Busy()]}, {"blue": 100})
    router = Router(lambda: 0.5)
    run(router.forward(route, "POST", "/score", "", [], b"{}", None))
    wait = route.deployments["blue"].stats.queue_wait
    assert wait.count == 1 and wait.sum >= 0.03


@pytest.mark.parametrize("bits", [0, (1 << 128) - 1, 0x0123456789ABCDEF0123456789ABCDEF])
def test_request_ids_are_version_4_guids_as_azure_gives_them(bits: int) -> None:
    rid = Router(lambda: 0.5, bits=lambda n: bits).new_request_id()
    assert rid == str(uuid.UUID(int=bits, version=4))
    assert uuid.UUID(rid).version == 4 and uuid.UUID(rid).variant == uuid.RFC_4122

"""Mirror copies off the request path: the live answer never waits for the shadow, and the copies are compared."""

from __future__ import annotations

import asyncio

from test_router import FakeWorker, endpoint

from runtime.api.errors import status_for
from runtime.routing.router import EndpointRoute, Router


def mirrored(live: FakeWorker, shadow: FakeWorker, percent: int = 50) -> EndpointRoute:
    route = endpoint({"blue": [live], "green": [shadow]}, {"blue": 100})
    return EndpointRoute(
        name="ep", keys=("k1",), traffic=route.traffic, mirror=("green", percent), deployments=route.deployments
    )


def test_a_slow_shadow_does_not_hold_the_live_answer_and_is_compared_once_it_answers() -> None:
    route = mirrored(FakeWorker(body=b"[1,2,3]"), FakeWorker(body=b"[1,2,4]", delay=0.2))
    router = Router(lambda: 0.1)

    async def call() -> tuple[int, bytes, int]:
        response = await router.forward(route, "POST", "/score", "", [], b"{}", None, "rid-1")
        (pending,) = router.mirror.log.tallies.values()
        compared_at_answer = pending.compared  # 0: the client had its answer before the shadow gave one
        await asyncio.sleep(0.3)
        return response.status, response.body, compared_at_answer

    assert asyncio.run(call()) == (200, b"[1,2,3]", 0)
    tallies, samples = router.mirror.log.take()
    (tally,) = tallies.values()
    assert (tally.mirrored, tally.compared, tally.agreed, tally.score_sum) == (1, 1, 0, 2 / 3)
    assert samples[0][1].request_id == "rid-1" and samples[0][1].diff == "$[2]"


def test_copies_a_saturated_shadow_refuses_are_dropped_and_live_answers_are_unchanged() -> None:
    route = mirrored(FakeWorker(), FakeWorker(delay=0.2))  # the fake deployments admit 2 in flight
    router = Router(lambda: 0.1)
    router.status_of = status_for

    async def call() -> list[int]:
        answers = [await router.forward(route, "POST", "/score", "", [], b"{}", None) for _ in range(5)]
        await asyncio.sleep(0.3)
        return [a.status for a in answers]

    assert asyncio.run(call()) == [200] * 5
    (tally,) = router.mirror.log.take()[0].values()
    assert (tally.mirrored, tally.dropped, tally.compared) == (5, 3, 2)


def test_a_shadow_whose_worker_is_lost_counts_an_error_by_code() -> None:
    route = mirrored(FakeWorker(), FakeWorker(lost=True))
    router = Router(lambda: 0.1)

    async def call() -> int:
        response = await router.forward(route, "POST", "/score", "", [], b"{}", None)
        await asyncio.sleep(0.01)
        return response.status

    assert asyncio.run(call()) == 200
    (tally,) = router.mirror.log.take()[0].values()
    assert (tally.errors, tally.compared) == ({"worker_lost": 1}, 0)


def test_without_a_mirror_nothing_is_logged() -> None:
    route = endpoint({"blue": [FakeWorker()]}, {"blue": 100})
    router = Router(lambda: 0.1)
    asyncio.run(router.forward(route, "POST", "/score", "", [], b"{}", None))
    assert router.mirror.log.take() == ({}, [])

import asyncio
from typing import Any

from runtime.control.deadlines import Deadlines


def _expire(fut: "asyncio.Future[Any]") -> None:
    fut.set_exception(TimeoutError())


def test_a_future_not_done_in_time_expires_and_a_done_one_does_not() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        deadlines = Deadlines(loop, _expire)
        slow, quick = loop.create_future(), loop.create_future()
        deadlines.add(slow, 0.02)
        deadlines.add(quick, 0.02)
        quick.set_result("answer")
        await asyncio.wait([slow], timeout=5.0)
        assert isinstance(slow.exception(), TimeoutError)
        assert quick.result() == "answer"
        assert len(deadlines) == 0

    asyncio.run(main())


def test_a_shorter_timeout_than_those_queued_expires_first() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        deadlines = Deadlines(loop, _expire)
        long, short = loop.create_future(), loop.create_future()
        deadlines.add(long, 30.0)
        deadlines.add(short, 0.01)
        await asyncio.wait([short], timeout=5.0)
        assert isinstance(short.exception(), TimeoutError)
        assert not long.done()
        long.cancel()

    asyncio.run(main())


def test_answered_futures_leave_the_queue_as_the_answers_come() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        deadlines = Deadlines(loop, _expire)
        for _ in range(1000):
            fut = loop.create_future()
            deadlines.add(fut, 30.0)
            fut.set_result(None)
            deadlines.prune()
        assert len(deadlines) == 0

    asyncio.run(main())

"""When low-priority batch jobs may run: a pure decision over the queue and the online load, the clock passed in.

A low-priority job (`invoke --priority low`, or a job on a cluster of tier low_priority) is what Azure runs on
low-priority VMs: it runs only while no normal-priority job is unfinished, and it gives its cores back when an online
deployment is under load: its workers are stopped and the mini-batches they held are requeued, no attempt counted.
It resumes once the online load has been calm for a while, so that a burst of requests does not start and stop
its workers on every sample.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from runtime.batch.jobs import CLAIMABLE, Job, Priority

#: How long the online load must stay calm before low-priority jobs resume.
CALM_S = 10.0


class OnlineLoad(msgspec.Struct, frozen=True, kw_only=True):
    """One online deployment's load as the router sees it now."""

    endpoint: str
    deployment: str
    inflight: int  #: requests admitted and not answered yet
    workers: int  #: ready workers


def online_pressure(loads: Iterable[OnlineLoad]) -> str | None:
    """Why the online deployments want their cores back, or None: one is under load when every one of its workers
    has a request (or more) in flight."""
    for load in loads:
        if load.workers and load.inflight >= load.workers:
            return (
                f"online deployment {load.endpoint}/{load.deployment} is under load ({load.inflight} request(s) in "
                f"flight on {load.workers} worker(s))"
            )
    return None


class Gate(msgspec.Struct, frozen=True, kw_only=True):
    """Whether low-priority jobs may run, and since when the online load was last seen busy."""

    reason: str | None = None  #: why low-priority jobs wait now; None: they may run
    busy_at: float | None = None  #: the last time online pressure was seen


def next_gate(gate: Gate, jobs: Iterable[Job], loads: Iterable[OnlineLoad], now: float, calm_s: float = CALM_S) -> Gate:
    """The gate after looking at the unfinished jobs and the online load at `now`."""
    pressure = online_pressure(loads)
    busy_at = now if pressure is not None else gate.busy_at
    normal = next((j for j in jobs if j.priority is Priority.NORMAL and j.state in CLAIMABLE), None)
    if normal is not None:
        return Gate(reason=f"normal-priority job {normal.name} runs first", busy_at=busy_at)
    if pressure is not None:
        return Gate(reason=pressure, busy_at=busy_at)
    if busy_at is not None and now - busy_at < calm_s:
        return Gate(reason=f"the online load has been calm for less than {calm_s:g} s", busy_at=busy_at)
    return Gate(busy_at=busy_at)


def may_run(job: Job, gate: Gate) -> bool:
    """Whether the job's mini-batches may be claimed now."""
    return job.priority is Priority.NORMAL or gate.reason is None

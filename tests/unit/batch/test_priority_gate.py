"""When low-priority jobs may run: after every normal job, and only while the online deployments are calm."""

from __future__ import annotations

from runtime.batch.jobs import Job, JobSettings, JobState, Priority
from runtime.batch.priority import Gate, OnlineLoad, may_run, next_gate, online_pressure


def job(name: str, priority: Priority, state: JobState = JobState.RUNNING) -> Job:
    return Job(
        name=name,
        endpoint="ep",
        deployment="blue",
        inputs=("/in",),
        output_folder="/out",
        settings=JobSettings(priority=priority),
        state=state,
        enumerated=True,
        created_at=0.0,
    )


LOW = job("low", Priority.LOW)
NORMAL = job("normal", Priority.NORMAL)


def load(inflight: int, workers: int = 2) -> OnlineLoad:
    return OnlineLoad(endpoint="shop", deployment="blue", inflight=inflight, workers=workers)


def test_an_online_deployment_is_under_load_when_every_worker_has_a_request() -> None:
    assert online_pressure([load(1), load(0, workers=0)]) is None
    assert online_pressure([load(3, workers=0)]) is None  # no ready worker: nothing to give cores back to
    reason = online_pressure([load(0), load(2)])
    assert reason == "online deployment shop/blue is under load (2 request(s) in flight on 2 worker(s))"


def test_low_jobs_wait_for_every_normal_job_that_is_not_over() -> None:
    gate = next_gate(Gate(), [LOW, NORMAL], [], now=0.0)
    assert gate.reason == "normal-priority job normal runs first"
    assert not may_run(LOW, gate) and may_run(NORMAL, gate)
    finished = job("normal", Priority.NORMAL, JobState.FINALIZING)  # only its file is left to write
    assert next_gate(gate, [LOW, finished], [], now=1.0).reason is None


def test_low_jobs_yield_to_online_load_and_resume_once_it_has_been_calm_for_calm_s() -> None:
    gate = Gate()
    reasons = []
    # Load at t=0..2 with a gap at t=1 (a sample between requests), calm from t=3 on; calm_s = 2.
    for now, inflight in [(0.0, 2), (1.0, 0), (2.0, 2), (3.0, 0), (3.9, 0), (4.0, 0), (5.0, 0)]:
        gate = next_gate(gate, [LOW], [load(inflight)], now=now, calm_s=2.0)
        reasons.append(gate.reason)
    busy = "online deployment shop/blue is under load (2 request(s) in flight on 2 worker(s))"
    calm = "the online load has been calm for less than 2 s"
    assert reasons == [busy, calm, busy, calm, calm, None, None]
    assert may_run(LOW, gate)


def test_normal_jobs_always_may_run() -> None:
    gate = next_gate(Gate(), [LOW, NORMAL], [load(5)], now=0.0)
    assert gate.reason is not None and may_run(NORMAL, gate)

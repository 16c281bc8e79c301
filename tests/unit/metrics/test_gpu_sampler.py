"""GPU figures through NVML. This machine has no GPU, so a stand-in `pynvml` module plays NVML's part."""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path
from typing import Any

import msgspec
import pytest
from prometheus_client.parser import text_string_to_metric_families

from runtime.control.monitor import Monitor, OnlineInput
from runtime.control.supervisor import WorkerInfo
from runtime.control.usage import UsageStore
from runtime.metrics import prometheus
from runtime.metrics.sampler import GpuSampler


class NVMLError(Exception):
    pass


def fake_nvml(worker_pid: int, fail_util: bool = False) -> types.ModuleType:
    nvml: Any = types.ModuleType("pynvml")
    nvml.nvmlInit = lambda: None
    nvml.nvmlShutdown = lambda: None
    nvml.nvmlDeviceGetHandleByIndex = lambda i: i
    nvml.nvmlDeviceGetName = lambda h: b"NVIDIA H200"  # older bindings answer bytes

    def util(h: int) -> Any:
        if fail_util:
            raise NVMLError("GPU is lost")
        return types.SimpleNamespace(gpu=37, memory=5)

    nvml.nvmlDeviceGetUtilizationRates = util
    nvml.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(used=3 * 2**30, total=141 * 2**30, free=0)
    seen: list[int] = []

    def process_samples(h: int, since: int) -> list[Any]:
        seen.append(since)
        if since:  # nothing new since the last call: NVML reports it as an error
            raise NVMLError("Not Found")
        return [
            types.SimpleNamespace(pid=worker_pid, timeStamp=10, smUtil=20, memUtil=1),
            types.SimpleNamespace(pid=worker_pid, timeStamp=30, smUtil=40, memUtil=1),
        ]

    nvml.nvmlDeviceGetProcessUtilization = process_samples
    nvml.seen = seen
    nvml.nvmlDeviceGetComputeRunningProcesses = lambda h: [
        types.SimpleNamespace(pid=worker_pid, usedGpuMemory=2**30),
        types.SimpleNamespace(pid=1, usedGpuMemory=None),  # not available (e.g. another container's process)
    ]
    return nvml


def worker(pid: int) -> WorkerInfo:
    return WorkerInfo(
        instance=0,
        process=0,
        state="Ready",
        pid=pid,
        cores=(0,),
        gpus=(0,),
        shared=False,
        restarts=0,
        inflight=0,
        last_exit="",
        rss_mib=None,
        liveness_failures=0,
        readiness_failures=0,
        last_answer=None,
    )


def test_gpu_utilization_memory_and_each_workers_gpu_memory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    nvml: Any = fake_nvml(os.getpid())
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    mon = Monitor(UsageStore(tmp_path / "db"), cores=[0, 1], gpus=[0])
    dep = OnlineInput(
        endpoint="ep", name="green", state="Succeeded", instance_count=1, created_at=1.0, workers=(worker(os.getpid()),)
    )
    mon.tick([dep], [])
    status = mon.snapshot([], [dep], [])
    (gpu,) = status.machine.gpus
    assert (gpu.index, gpu.name, gpu.utilization_percent, gpu.memory_used_bytes) == (0, "NVIDIA H200", 37.0, 3 * 2**30)
    (w,) = status.deployments[0].workers
    assert (w.gpu_memory_bytes, w.gpu_utilization_percent) == (2**30, 30.0)  # the mean of its two samples
    assert status.machine.notes == ()

    text = prometheus.render(prometheus.registry(lambda: status, lambda: [])).decode()
    samples = {s.name: s for f in text_string_to_metric_families(text) for s in f.samples}
    assert samples["modelyard_gpu_utilization_percent"].labels == {"gpu": "0", "name": "NVIDIA H200"}
    assert samples["modelyard_gpu_utilization_percent"].value == 37
    assert samples["modelyard_worker_gpu_memory_bytes"].value == 2**30
    assert samples["modelyard_worker_gpu_utilization_percent"].value == 30

    mon.tick([dep], [])  # only samples newer than those read are asked for; none is no figure, not an error
    assert nvml.seen == [0, 30]
    assert mon.snapshot([], [dep], []).deployments[0].workers[0].gpu_utilization_percent is None
    mon.close()


def test_a_failing_nvml_query_gives_a_reading_without_figures_and_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml(os.getpid(), fail_util=True))
    sampler = GpuSampler([0])
    (reading,) = sampler.sample()
    assert reading.utilization_percent is None and "GPU is lost" in sampler.note
    sampler.close()


def test_nvml_that_cannot_start_means_no_gpu_fields(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    nvml = fake_nvml(os.getpid())

    def broken() -> None:
        raise NVMLError("Driver Not Loaded")

    nvml.nvmlInit = broken  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    mon = Monitor(UsageStore(tmp_path / "db"), cores=[0], gpus=[0])
    mon.tick([], [])
    raw = msgspec.json.decode(msgspec.json.encode(mon.snapshot([], [], [])))
    assert "gpus" not in raw["machine"] and "Driver Not Loaded" in raw["machine"]["notes"][0]
    mon.close()

"""The status snapshot: everything `GET /api/status` answers, `modelyard status` prints and the dashboard shows.

Plain frozen msgspec Structs that import nothing else from the runtime, so a client (the TUI) can decode the
JSON with `msgspec.json.decode(body, type=Status)` without loading the server. The fields that only exist where
NVML finds GPUs (`MachineStatus.gpus`, `WorkerStatus.gpu_memory_bytes`) are left out of the JSON when there are
none: no GPU means no GPU fields. Every other field is always there (null where there is no figure yet).

Times are seconds; rates and quantiles cover the last `Status.window_s` seconds; counts since serve started,
except the cost basis (core-seconds, GPU-seconds), which counts since each deployment was created.
"""

from __future__ import annotations

import msgspec


class _Snap(msgspec.Struct, frozen=True, kw_only=True):
    pass


class GpuStatus(_Snap, frozen=True, kw_only=True):
    """One GPU as NVML reports it."""

    index: int  #: NVML index, as deployments' `gpus` name it
    name: str = ""
    utilization_percent: float | None = None  #: busy time of the last sample period (NVML's utilization.gpu)
    memory_used_bytes: int | None = None
    memory_total_bytes: int | None = None


class MachineStatus(_Snap, frozen=True, kw_only=True, omit_defaults=True):
    """What serve may use."""

    cores: tuple[int, ...]  #: CPU cores in serve's affinity mask
    notes: tuple[str, ...]  #: why there are no GPU figures (no NVML, no GPU, CUDA_VISIBLE_DEVICES), if so
    gpus: tuple[GpuStatus, ...] = ()  #: GPUs serve hands out, with their figures; left out where there are none


class WorkerStatus(_Snap, frozen=True, kw_only=True, omit_defaults=True):
    """One worker process of a deployment (an online instance's scoring process, or a batch worker)."""

    instance: int
    process: int  #: which of the instance's WORKER_COUNT processes
    state: str  #: Starting, Ready, Unready, Restarting, Failed, Stopped (batch workers: Running, Starting)
    pid: int | None  #: None while no process runs
    cores: tuple[int, ...]  #: the cores it is pinned to
    gpus: tuple[int, ...]  #: the GPUs it was given (CUDA_VISIBLE_DEVICES)
    #: CPU time over the last sample period as a percentage of its own core set (100 = every one of its cores
    #: busy); None until it has been sampled twice
    cpu_percent: float | None
    rss_bytes: int | None  #: resident memory at the last sample
    gpu_memory_bytes: int | None = None  #: GPU memory its process holds (NVML's compute-process list); GPUs only
    #: its share of the GPU's SM time over the last sample period (NVML's process samples); GPUs that keep them only
    gpu_utilization_percent: float | None = None


class AutoscaleStatus(_Snap, frozen=True, kw_only=True):
    """What the autoscaler last decided for a deployment; absent while no autoscaler acts on it."""

    current: int  #: instances running
    target: int  #: instances wanted
    last_decision: str = ""  #: e.g. "scale_up", "scale_down", "hold"
    why: str = ""  #: the reason in words
    decided_at: float | None = None  #: when, seconds since the epoch
    decisions: dict[str, int] = {}  #: decisions taken so far, by kind


class ModelStatus(_Snap, frozen=True, kw_only=True):
    """A Triton-layout model version of a deployment, its counts summed over the deployment's live workers."""

    model: str
    version: str
    success: int  #: requests answered 200 (Triton's nv_inference_request_success)
    failure: int  #: requests answered with an error (nv_inference_request_failure)
    inferences: int  #: samples inferred: a request of batch n counts n (nv_inference_count)
    executions: int  #: onnxruntime runs; fewer than requests when dynamic batching joins them (nv_inference_exec_count)
    batch_sizes: dict[int, int] = {}  #: runs by batch size
    max_batch_size: int = 0  #: config.pbtxt's max_batch_size


class DeploymentStatus(_Snap, frozen=True, kw_only=True):
    """One deployment: its workers, its traffic figures and its cost basis."""

    endpoint: str
    name: str
    kind: str  #: "online" or "batch"
    state: str  #: provisioning state: Creating, Updating, Succeeded, Failed, Deleting
    instance_count: int
    workers: tuple[WorkerStatus, ...] = ()
    requests: int = 0  #: requests answered since serve started
    requests_per_s: float = 0.0  #: answered per second over the window
    in_flight: int = 0  #: requests held now (admitted and not yet answered)
    p50_ms: float | None = None  #: median request duration over the window (None without requests)
    p99_ms: float | None = None
    queue_wait_p99_ms: float | None = None  #: arrival until a worker began the request, over the window
    errors_by_status: dict[str, int] = {}  #: responses other than 200 since serve started, by HTTP status
    throttled: int = 0  #: 429 "Too many pending requests" since serve started
    mirrored: int = 0  #: mirror copies it received
    core_seconds: float = 0.0  #: cores held x seconds alive, summed over its workers since it was created
    gpu_seconds: float = 0.0  #: the same for GPUs
    autoscale: AutoscaleStatus | None = None
    #: Triton-layout deployments: per model version, as of each worker's last answered ping
    models: tuple[ModelStatus, ...] = ()


class EndpointStatus(_Snap, frozen=True, kw_only=True):
    """One endpoint and how its traffic is split."""

    name: str
    kind: str  #: "online" or "batch"
    traffic: dict[str, int] = {}  #: live traffic percentages by deployment (batch: the default deployment at 100)
    mirror: dict[str, int] = {}  #: mirrored percentage by deployment
    refused: dict[str, int] = {}  #: requests refused before a deployment was chosen (bad key, ...), by status


class JobStatus(_Snap, frozen=True, kw_only=True):
    """One batch job's progress."""

    name: str
    endpoint: str
    deployment: str
    state: str  #: Queued, Running, Finalizing, Completed, Failed, CancelRequested, Canceled
    files_total: int
    files_done: int
    files_failed: int
    eta_s: float | None = None  #: seconds left at the rate so far; None before the first file or once it ended
    core_seconds: float = 0.0
    gpu_seconds: float = 0.0


class Status(_Snap, frozen=True, kw_only=True):
    """One snapshot of the whole server."""

    taken_at: float  #: seconds since the epoch
    sample_period_s: float  #: how often workers are sampled (CPU %, RSS, GPU)
    window_s: float  #: the span of requests_per_s and the quantiles
    machine: MachineStatus
    endpoints: tuple[EndpointStatus, ...] = ()
    deployments: tuple[DeploymentStatus, ...] = ()
    jobs: tuple[JobStatus, ...] = ()

"""Messages exchanged over a worker's Unix socket: a tagged union of frozen Structs.

Control → worker: Load (once, right after connect), Infer, RunMiniBatch, Ping, Drain, Shutdown.
Worker → control: Ready or Failure(id=0) answering Load, Result or Failure answering Infer, MiniBatchDone or
Failure answering RunMiniBatch, Pong answering Ping (with a Triton worker's per-model counts).

Infer carries the HTTP request as the front end received it (method, sub-path under the endpoint, raw query,
headers, body bytes): the control process never parses a payload. Result carries the finished HTTP response.
Errors cross as data (`Failure.code` is a `runtime.errors.Code` value), never as pickled exceptions.
Structs are array-like so a frame holds no field names.
"""

from __future__ import annotations

from typing import Literal

import msgspec

Headers = list[tuple[str, str]]


class _Msg(msgspec.Struct, frozen=True, tag=True, array_like=True, gc=False):
    pass


class RayPlacement(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """A batch worker that drives a Ray actor instead of running the script itself (settings.executor: ray)."""

    address: str  #: HOST:PORT of the Ray cluster's head
    num_cpus: int = 1  #: the actor's CPUs: the instance's cores
    env: dict[str, str] = {}  #: the environment the script gets, as a local worker's (the actor's runtime_env)
    log_path: str = ""  #: the instance's log file, which the actor appends to as well
    name: str = ""  #: the worker's name, which the actor's log lines carry


class Load(_Msg, frozen=True):
    """What the worker must load. Environment variables and pinning were applied at spawn."""

    kind: Literal["script", "triton", "batch"]
    app_root: str | None = None  #: AML_APP_ROOT: the code snapshot folder holding the scoring script
    entry_script: str | None = None  #: AZUREML_ENTRY_SCRIPT, relative to app_root
    model_dir: str | None = None  #: AZUREML_MODEL_DIR
    model_repository: str | None = None  #: Triton-layout model repository (kind == "triton")
    scoring_timeout_ms: int = 3_600_000  #: SCORING_TIMEOUT_MS, as Azure's inference server applies it
    threads: int = 1  #: intra-op threads for onnxruntime, sized to the worker's core set
    output_path: str | None = None  #: AZUREML_BI_OUTPUT_PATH: the batch job's output folder (kind == "batch")
    logging_level: str = "info"  #: the batch deployment's logging_level: warning, info or debug (kind == "batch")
    ray: RayPlacement | None = None  #: run the mini-batches on a Ray actor (kind == "batch")


class Infer(_Msg, frozen=True):
    """One HTTP request for the worker; `path` is relative to the endpoint (e.g. "/score")."""

    id: int
    method: str
    path: str
    query: str
    headers: Headers
    body: bytes
    max_body: int = 0  #: the server's body limit in bytes, which a compressed body may not inflate past; 0: default


class RunMiniBatch(_Msg, frozen=True):
    """One batch run() call: the mini-batch's file paths, and how long run() may take before the worker gives up."""

    id: int
    files: list[str]
    timeout_s: float


class Ping(_Msg, frozen=True):
    """Liveness probe; answered by Pong with the same id."""

    id: int


class Drain(_Msg, frozen=True):
    """Finish what is in flight, accept nothing new."""


class Shutdown(_Msg, frozen=True):
    """Exit cleanly after the in-flight requests are done."""


class Ready(_Msg, frozen=True):
    """The model loaded and init() returned; the worker takes requests."""

    pid: int
    mode: str  #: how run() takes input: "string", "schema", "rawhttp", "triton", or "batch" (a list of file paths)
    models: list[str] = []  #: model names served (Triton repositories)


class Result(_Msg, frozen=True):
    """The worker's HTTP response to one Infer."""

    id: int
    status: int
    headers: Headers
    body: bytes
    #: time.monotonic() when the worker began the request (CLOCK_MONOTONIC is one clock for every process on the
    #: machine), so the router can tell the wait behind earlier requests from the work; 0: not known
    started: float = 0.0


class Failure(_Msg, frozen=True):
    """A request (or, with id 0, the Load) failed; `code` is a runtime.errors.Code value."""

    id: int
    code: str
    message: str


class MiniBatchDone(_Msg, frozen=True):
    """run() returned for a RunMiniBatch: its append_row lines, already written out, and how many there are.

    `text` is one line per returned list element (one value) or DataFrame row (one value per column), each ended by
    a newline, in Azure's append_row format; the worker writes it so the control process only stores the bytes.
    `rows` is the number of returned elements, each standing for one input that succeeded (Azure's rule).
    """

    id: int
    text: bytes
    rows: int


class ModelStats(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """A Triton-layout model version's counts since its worker started, named after Triton's own metrics."""

    model: str
    version: str
    success: int  #: nv_inference_request_success: requests answered 200
    failure: int  #: nv_inference_request_failure: requests for this model answered with an error
    inferences: int  #: nv_inference_count: samples inferred (a request of batch n counts n)
    executions: int  #: nv_inference_exec_count: onnxruntime runs (a dynamic batch of requests runs once)
    batch_sizes: dict[int, int] = {}  #: executions by batch size (samples per run)
    max_batch_size: int = 0  #: config.pbtxt's max_batch_size, which bounds the batch-size histogram


class Pong(_Msg, frozen=True):
    """Answer to Ping, with the number of requests the worker holds and, from Triton workers, per-model counts."""

    id: int
    inflight: int
    models: list[ModelStats] = []


ToWorker = Load | Infer | RunMiniBatch | Ping | Drain | Shutdown
FromWorker = Ready | Result | MiniBatchDone | Failure | Pong

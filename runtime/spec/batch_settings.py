"""How a batch deployment runs its jobs (azure-contract §5.2): one `BatchSettings`, and per-job `--set` overrides."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Annotated

import msgspec

from runtime.errors import SpecError
from runtime.spec._decode import decode
from runtime.spec._types import ScalarStr
from runtime.spec.deployment import MAX_WORKER_COUNT
from runtime.spec.overrides import apply_overrides, blame

# Azure's ranges (BatchDeploymentProperties: error_threshold is [-1, int.MaxValue]); the decoder words a breach as
# "0 is out of range: must be >= 1", naming the key.
MiniBatchSize = Annotated[int, msgspec.Meta(ge=1)]
InstanceCount = Annotated[int, msgspec.Meta(ge=1)]
#: Each concurrent run() is a process that loads the model, as WORKER_COUNT is online, so the same cap applies.
Concurrency = Annotated[int, msgspec.Meta(ge=1, le=MAX_WORKER_COUNT)]
ErrorThreshold = Annotated[int, msgspec.Meta(ge=-1)]
MaxRetries = Annotated[int, msgspec.Meta(ge=0)]
TimeoutSeconds = Annotated[int, msgspec.Meta(gt=0)]

#: Keys a job may change for itself (`batch-endpoint invoke --set`, --mini-batch-size, --instance-count), as the
#: REST invoke body can (miniBatchSize, errorThreshold, retrySettings, outputFileName, compute.instanceCount).
JOB_OVERRIDABLE = (
    "error_threshold",
    "instance_count",
    "mini_batch_size",
    "output_file_name",
    "retry_settings.max_retries",
    "retry_settings.timeout",
)


class OutputAction(enum.StrEnum):
    """What becomes of run()'s results: rows appended to one file, or only the summary (the script writes files)."""

    APPEND_ROW = "append_row"
    SUMMARY_ONLY = "summary_only"


class LoggingLevel(enum.StrEnum):
    """The log verbosity of a job, lowest first."""

    WARNING = "warning"
    INFO = "info"
    DEBUG = "debug"


class ExecutorKind(enum.StrEnum):
    """Where a deployment's mini-batches run: pinned local worker processes, or actors on a Ray cluster."""

    LOCAL = "local"
    RAY = "ray"


class BatchRetrySettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How often a failed or timed-out mini-batch is retried, and how long one run() may take (seconds)."""

    max_retries: MaxRetries = 3
    timeout: TimeoutSeconds = 30


class BatchSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything the job runner reads, with Azure's defaults, the same whichever shape the deployment file used."""

    mini_batch_size: MiniBatchSize = 10
    instance_count: InstanceCount = 1
    max_concurrency_per_instance: Concurrency = 1
    error_threshold: ErrorThreshold = -1
    retry_settings: BatchRetrySettings = msgspec.field(default_factory=BatchRetrySettings)
    output_action: OutputAction = OutputAction.APPEND_ROW
    output_file_name: str = "predictions.csv"
    logging_level: LoggingLevel = LoggingLevel.INFO
    environment_variables: dict[str, ScalarStr] = msgspec.field(default_factory=dict)
    #: not an Azure key: modelyard's choice of where the workers run (`serve --ray-address` names the cluster)
    executor: ExecutorKind = ExecutorKind.LOCAL


def split_ray_address(address: str) -> tuple[str, int]:
    """HOST:PORT of a Ray cluster's head (its GCS) as host and port; ValueError says the form."""
    if "://" in address:
        raise ValueError(
            f"{address!r}: give the Ray head's own HOST:PORT (as `ray start --head` prints it), not a client URL"
        )
    host, sep, port = address.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{address!r} is not HOST:PORT; give the Ray head's address, e.g. 127.0.0.1:6379")
    return host, int(port)


def check_output_file_name(name: str, *, where: str) -> None:
    """The predictions file is written in the job's output folder, so its name must be a plain file name."""
    if not name.strip() or name in {".", ".."} or "/" in name or "\\" in name or "\0" in name:
        raise SpecError(f"{where}: {name!r} is not a file name; give a plain name such as predictions.csv")


def override_settings(settings: BatchSettings, overrides: Sequence[str]) -> BatchSettings:
    """`settings` with one job's `--set key=value` overrides applied, validated as the deployment's are."""
    if not overrides:
        return settings
    for override in overrides:
        key, sep, _ = override.partition("=")
        key = key.strip()
        # A malformed override is left to apply_overrides, which says what the form is.
        if sep and key and key not in JOB_OVERRIDABLE:
            raise SpecError(
                f"--set {override!r}: {key} cannot be set for one job; "
                f"one of: {', '.join(JOB_OVERRIDABLE)} (update the deployment to change the rest)"
            )
    raw = apply_overrides(msgspec.to_builtins(settings), overrides)
    result: BatchSettings = decode(raw, BatchSettings, label="job settings", overrides=overrides)
    try:
        check_output_file_name(result.output_file_name, where="$.output_file_name")
    except SpecError as exc:
        raise SpecError(f"job settings: {blame(exc.message, overrides)}") from None
    return result

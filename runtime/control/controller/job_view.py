"""A batch job as `job show` prints it: Azure's job resource shape (name, id, type, status, creation_context,
inputs, outputs) plus the queue's own counts, the time it took and an estimate of the time left."""

from __future__ import annotations

import datetime
import os
from typing import Any

import msgspec

from runtime.batch.jobs import TERMINAL, Job, JobState

#: The job's one input and one output, named as `az ml batch-endpoint invoke` names them.
INPUT_NAME = "input_data"
OUTPUT_NAME = "score"


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def elapsed_s(job: Job, now: float) -> float:
    """Seconds from the first claim to the end (or to now while it runs); 0 before it starts."""
    if job.started_at is None:
        return 0.0
    end = job.ended_at if job.ended_at is not None else now
    return max(0.0, end - job.started_at)


def eta_s(job: Job, now: float) -> float | None:
    """Seconds left at the pace so far (mini-batches settled per second); None until one has settled, 0 once over."""
    if job.state in TERMINAL:
        return 0.0
    settled = job.mini_batches_done + job.mini_batches_failed
    if job.state is not JobState.RUNNING or settled == 0 or job.started_at is None:
        return 0.0 if job.state is JobState.FINALIZING else None
    left = max(0, job.mini_batches_total - settled)
    return round(elapsed_s(job, now) / settled * left, 1)


def job_view(job: Job, now: float) -> dict[str, Any]:
    """The job resource, as `job show` and `batch-endpoint invoke` print it."""
    first = job.inputs[0] if job.inputs else ""
    input_type = "uri_folder" if os.path.isdir(first) else "uri_file"
    return {
        "name": job.name,
        "display_name": job.name,
        "id": f"azureml:/jobs/{job.name}",
        # Azure runs a model deployment's job as a pipeline job of the endpoint's experiment.
        "type": "pipeline",
        "status": job.state.value,
        "experiment_name": job.endpoint,
        "endpoint_name": job.endpoint,
        "deployment_name": job.deployment,
        "creation_context": {
            "created_at": _iso(job.created_at),
            "created_by": os.environ.get("USER", "local"),
            "created_by_type": "User",
        },
        "start_time": _iso(job.started_at),
        "end_time": _iso(job.ended_at),
        "inputs": {INPUT_NAME: {"type": input_type, "path": first, "mode": "ro_mount"}},
        "outputs": {
            OUTPUT_NAME: {
                "type": "uri_folder",
                "path": job.output_folder,
                "mode": "rw_mount",
                "output_file_name": job.output_file_name,
            }
        },
        "settings": msgspec.to_builtins(job.settings),
        "files": {"total": job.files_total, "done": job.files_done, "failed": job.files_failed},
        "mini_batches": {
            "total": job.mini_batches_total,
            "done": job.mini_batches_done,
            "failed": job.mini_batches_failed,
        },
        "retries": job.retries,
        "priority": job.priority.value,
        "core_seconds": round(job.core_seconds, 3),
        "gpu_seconds": round(job.gpu_seconds, 3),
        "elapsed_s": round(elapsed_s(job, now), 3),
        "eta_s": eta_s(job, now),
        "error": job.error or None,
        "log_folder": os.path.join(job.output_folder, "logs", job.name),
    }

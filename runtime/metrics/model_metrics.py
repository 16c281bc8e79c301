"""Per model version metrics of Triton-layout deployments, under Triton's own names so its dashboards read them.

Triton exposes `nv_inference_request_success`, `nv_inference_request_failure`, `nv_inference_count` and
`nv_inference_exec_count` without the `_total` suffix that prometheus-client gives counter families, so they are
written as untyped families, which keeps the sample names exact (Prometheus's rate() reads them all the same).
Labels are Triton's `model` and `version` after modelyard's `endpoint` and `deployment`. The execution batch
sizes are the histogram `modelyard_batch_size`, with buckets at the powers of two up to max_batch_size.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import HistogramMetricFamily, Metric

from runtime.status import ModelStatus, Status

_LABELS = ("endpoint", "deployment", "model", "version")
_COUNTERS = (
    ("nv_inference_request_success", "success", "Number of successful inference requests, all batch sizes"),
    ("nv_inference_request_failure", "failure", "Number of failed inference requests, all batch sizes"),
    ("nv_inference_count", "inferences", "Number of inferences performed (a batch of n counts n)"),
    ("nv_inference_exec_count", "executions", "Number of model executions performed (a dynamic batch counts 1)"),
)


def model_families(status: Status, prefix: str) -> Iterator[Metric]:
    """The Triton counters and the batch-size histogram of every Triton model version served."""
    families = [Metric(name, doc, "unknown") for name, _, doc in _COUNTERS]
    sizes = HistogramMetricFamily(
        f"{prefix}_batch_size", "Samples per model execution (dynamic batches join requests)", labels=list(_LABELS)
    )
    for d in status.deployments:
        for m in d.models:
            labels = dict(zip(_LABELS, (d.endpoint, d.name, m.model, m.version), strict=True))
            for family, (name, field, _) in zip(families, _COUNTERS, strict=True):
                family.add_sample(name, labels, getattr(m, field))
            sizes.add_metric(list(labels.values()), buckets=buckets(m), sum_value=batch_sum(m))
    yield from families
    yield sizes


def bounds(max_batch_size: int) -> list[int]:
    """Bucket bounds 1, 2, 4, ... up to max_batch_size, which is a bound too (1 for a model that does not batch)."""
    top = max(1, max_batch_size)
    out = [1]
    while out[-1] * 2 < top:
        out.append(out[-1] * 2)
    if out[-1] != top:
        out.append(top)
    return out


def buckets(m: ModelStatus) -> list[tuple[str, float]]:
    """Cumulative counts per bound, then +Inf (runs larger than max_batch_size: requests of a model without one)."""
    out: list[tuple[str, float]] = []
    for bound in bounds(m.max_batch_size):
        out.append((repr(float(bound)), float(sum(n for size, n in m.batch_sizes.items() if size <= bound))))
    out.append(("+Inf", float(sum(m.batch_sizes.values()))))
    return out


def batch_sum(m: ModelStatus) -> float:
    """The samples of every execution together."""
    return float(sum(size * n for size, n in m.batch_sizes.items()))

"""Triton-layout models' counts on /metrics, under Triton's metric names."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from runtime.metrics.model_metrics import bounds
from runtime.metrics.prometheus import registry, render
from runtime.status import DeploymentStatus, MachineStatus, ModelStatus, Status


def test_counts_render_with_tritons_names_and_batch_sizes_as_a_histogram() -> None:
    model = ModelStatus(
        model="digits",
        version="1",
        success=7,
        failure=1,
        inferences=12,
        executions=3,
        batch_sizes={1: 1, 3: 1, 8: 1},
        max_batch_size=8,
    )
    dep = DeploymentStatus(endpoint="e", name="d", kind="online", state="Succeeded", instance_count=1, models=(model,))
    status = Status(
        taken_at=0, sample_period_s=1, window_s=60, machine=MachineStatus(cores=(0,), notes=()), deployments=(dep,)
    )
    text = render(registry(lambda: status, list)).decode()
    labels = 'deployment="d",endpoint="e",model="digits",version="1"'
    for line in (
        f"nv_inference_request_success{{{labels}}} 7.0",
        f"nv_inference_request_failure{{{labels}}} 1.0",
        f"nv_inference_count{{{labels}}} 12.0",
        f"nv_inference_exec_count{{{labels}}} 3.0",
    ):
        assert line in text.splitlines()
    samples = {
        (s.name, s.labels.get("le")): s.value
        for family in text_string_to_metric_families(text)
        if family.name == "modelyard_batch_size"
        for s in family.samples
    }
    assert samples[("modelyard_batch_size_bucket", "1.0")] == 1
    assert samples[("modelyard_batch_size_bucket", "4.0")] == 2
    assert samples[("modelyard_batch_size_bucket", "8.0")] == 3
    assert samples[("modelyard_batch_size_sum", None)] == 12


def test_bucket_bounds_are_powers_of_two_up_to_max_batch_size() -> None:
    assert bounds(8) == [1, 2, 4, 8]
    assert bounds(6) == [1, 2, 4, 6]
    assert bounds(0) == [1]

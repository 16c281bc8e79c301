"""Dynamic batching of a Triton deployment under concurrent tritonclient calls, seen on /metrics and in the answers."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.http as tritonhttp
from live import ROOT, Server, serving
from prometheus_client.parser import text_string_to_metric_families

MODEL = ROOT / "models" / "digits-triton" / "model_repository" / "digits" / "1" / "model.onnx"
ENDPOINT = "digits-batch"
CONFIG = """
name: "digits"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [ { name: "input", data_type: TYPE_FP32, dims: [ 64 ] } ]
dynamic_batching { max_queue_delay_microseconds: 20000 }
instance_group [ { count: 2, kind: KIND_CPU } ]
"""
DEPLOYMENT = f"""
name: batched
endpoint_name: {ENDPOINT}
model:
  path: ./model_repository
  type: triton_model
instance_type: Standard_DS1_v2
instance_count: 1
request_settings:
  max_concurrent_requests_per_instance: 16
liveness_probe:
  initial_delay: 0
  period: 1
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    """One server for the module with the digits model behind max_batch_size 8 and dynamic batching; its key."""
    folder = tmp_path_factory.mktemp("batching")
    (folder / "model_repository" / "digits" / "1").mkdir(parents=True)
    shutil.copy(MODEL, folder / "model_repository" / "digits" / "1" / "model.onnx")
    (folder / "model_repository" / "digits" / "config.pbtxt").write_text(CONFIG)
    (folder / "endpoint.yml").write_text(f"name: {ENDPOINT}\nauth_mode: key\n")
    (folder / "deployment.yml").write_text(DEPLOYMENT)
    with serving(folder / "state", folder / "endpoint.yml", folder / "deployment.yml") as srv:
        yield srv, srv.key(ENDPOINT)


def batch_metrics(srv: Server) -> dict[tuple[str, str | None], float]:
    with srv.client() as http:
        text = http.get("/metrics").text
    out: dict[tuple[str, str | None], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.labels.get("deployment") == "batched" and s.labels.get("model") == "digits":
                out[(s.name, s.labels.get("le"))] = s.value
    return out


def test_concurrent_requests_batch_up_to_max_batch_size_and_answer_as_alone(served: tuple[Server, str]) -> None:
    srv, key = served
    headers = {"Authorization": f"Bearer {key}"}
    rng = np.random.default_rng(0)
    # 48 requests of 1-3 images, half with binary tensors, half JSON: 16 callers at once.
    inputs = [rng.integers(0, 17, size=(int(rng.integers(1, 4)), 64)).astype(np.float32) for _ in range(48)]
    url = f"{srv.url}/endpoints/{ENDPOINT}".removeprefix("http://")

    def call(index: int) -> dict[str, Any]:
        client = tritonhttp.InferenceServerClient(url=url)
        try:
            tensor = tritonhttp.InferInput("input", list(inputs[index].shape), "FP32")
            binary = index % 2 == 0
            tensor.set_data_from_numpy(inputs[index], binary_data=binary)
            wanted = [tritonhttp.InferRequestedOutput(n, binary_data=binary) for n in ("label", "probabilities")]
            result = client.infer("digits", [tensor], outputs=wanted, headers=dict(headers))
            return {n: result.as_numpy(n) for n in ("label", "probabilities")}
        finally:
            client.close()

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(call, range(len(inputs))))

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # as the worker's instances run: one thread each on its one core
    alone = ort.InferenceSession(str(MODEL), sess_options=options, providers=["CPUExecutionProvider"])
    for x, got in zip(inputs, answers, strict=True):
        label, probabilities = alone.run(["label", "probabilities"], {"input": x})
        assert got["label"].tolist() == label.tolist()
        assert got["probabilities"].astype(np.float32).tobytes() == probabilities.tobytes()

    samples = sum(x.shape[0] for x in inputs)
    deadline = time.monotonic() + 15
    metrics = batch_metrics(srv)
    while metrics.get(("nv_inference_count", None)) != samples:  # the worker reports at its next liveness ping
        assert time.monotonic() < deadline, metrics
        time.sleep(0.2)
        metrics = batch_metrics(srv)
    assert metrics[("nv_inference_request_success", None)] == len(inputs)
    assert metrics[("nv_inference_request_failure", None)] == 0
    runs = metrics[("modelyard_batch_size_count", None)]
    assert metrics[("nv_inference_exec_count", None)] == runs < len(inputs)
    assert metrics[("modelyard_batch_size_bucket", "1.0")] < runs  # some runs held more than one image
    assert metrics[("modelyard_batch_size_bucket", "8.0")] == runs  # and none more than max_batch_size
    assert metrics[("modelyard_batch_size_sum", None)] == samples
    shown = srv.deployment(ENDPOINT, "batched")
    [worker] = shown["workers"]
    [model] = worker["models"]
    assert (model["model"], model["success"], model["inferences"], model["executions"]) == (
        "digits",
        len(inputs),
        samples,
        runs,
    )

"""The medium sample model (models/convnet-triton) as a no-code Triton repository, called with binary tensors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from runtime.ipc.messages import Infer, Load, Result
from runtime.worker.adapters import Adapter, load_adapter

CONVNET = Path(__file__).resolve().parents[3] / "models" / "convnet-triton"
#: What models/README.md documents for the committed sample request.
SAMPLE_LABEL = 7


def sample_image() -> np.ndarray:
    item = json.loads((CONVNET / "sample-request.json").read_text())["inputs"][0]
    return np.asarray(item["data"], dtype=np.float32).reshape(item["shape"])


def binary_infer(adapter: Adapter, images: np.ndarray) -> Result:
    head = json.dumps(
        {
            "inputs": [
                {
                    "name": "input",
                    "datatype": "FP32",
                    "shape": list(images.shape),
                    "parameters": {"binary_data_size": images.nbytes},
                }
            ],
            "parameters": {"binary_data_output": True},
        }
    ).encode()
    headers = [("Inference-Header-Content-Length", str(len(head))), ("Content-Type", "application/octet-stream")]
    result = adapter.handle(Infer(1, "POST", "/v2/models/convnet/infer", "", headers, head + images.tobytes()))
    assert isinstance(result, Result), result
    return result


def outputs_of(result: Result) -> dict[str, np.ndarray]:
    size = int(dict(result.headers)["Inference-Header-Content-Length"])
    offset, arrays = size, {}
    for out in json.loads(result.body[:size])["outputs"]:
        length = out["parameters"]["binary_data_size"]
        dtype: Any = "<i8" if out["datatype"] == "INT64" else "<f4"
        arrays[out["name"]] = np.frombuffer(result.body[offset : offset + length], dtype=dtype).reshape(out["shape"])
        offset += length
    return arrays


@pytest.fixture(scope="module")
def adapter() -> Adapter:
    return load_adapter(Load("triton", model_repository=str(CONVNET / "model_repository"), threads=1))


def test_the_sample_image_gets_its_documented_label(adapter: Adapter) -> None:
    result = binary_infer(adapter, sample_image())
    assert result.status == 200
    out = outputs_of(result)
    assert out["label"].tolist() == [[SAMPLE_LABEL]]
    assert out["probabilities"].shape == (1, 10)
    assert abs(float(out["probabilities"].sum()) - 1.0) < 1e-5


def test_a_full_batch_answers_each_image_as_alone_and_a_larger_one_is_refused(adapter: Adapter) -> None:
    image = sample_image()
    rng = np.random.default_rng(1)
    batch = np.concatenate([image, rng.integers(0, 256, size=(31, 3, 64, 64)).astype(np.float32)])
    together = outputs_of(binary_infer(adapter, batch))
    alone = outputs_of(binary_infer(adapter, batch[5:6]))
    assert together["label"].shape == (32, 1) and together["label"][0, 0] == SAMPLE_LABEL
    assert together["label"][5, 0] == alone["label"][0, 0]
    np.testing.assert_allclose(together["probabilities"][5], alone["probabilities"][0], atol=1e-5)
    too_many = binary_infer(adapter, np.concatenate([batch, image]))
    assert too_many.status == 400 and "batch-size must be <= 32" in json.loads(too_many.body)["error"]


def test_a_dynamic_batching_config_loads_and_answers_the_same(tmp_path: Path) -> None:
    # bench/bench_medium.py serves this copy beside the committed config.
    shutil.copytree(CONVNET / "model_repository", tmp_path / "repo")
    config = tmp_path / "repo" / "convnet" / "config.pbtxt"
    config.write_text(config.read_text() + "dynamic_batching {\n  max_queue_delay_microseconds: 1000\n}\n")
    batching = load_adapter(Load("triton", model_repository=str(tmp_path / "repo"), threads=1))
    assert outputs_of(binary_infer(batching, sample_image()))["label"].tolist() == [[SAMPLE_LABEL]]

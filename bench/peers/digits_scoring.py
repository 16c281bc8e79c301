"""The digits sample's scoring (models/model-1/onnx/score.py) for peer servers that hand over a parsed JSON body.

Loaded by the MLServer runtime and the LitServe API in their own virtual environments. It imports the same
score.py and calls its init() (the same onnxruntime session and thread settings), then runs the same steps as its
run() from the request's JSON object instead of its text: those servers parse the body themselves, and handing
run() a re-encoded string would charge them a second encode and parse that nobody would write.
"""

from __future__ import annotations

import importlib.util
import os
from types import ModuleType
from typing import Any

import numpy as np

N_FEATURES = 64


def load_script(path: str | None = None) -> ModuleType:
    """Import the scoring script ($BENCH_SCORE_SCRIPT by default) and call its init() once."""
    path = path or os.environ["BENCH_SCORE_SCRIPT"]
    spec = importlib.util.spec_from_file_location("score", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the scoring script {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.init()
    return module


def decode(body: Any) -> np.ndarray:
    """The request's rows as float32 [N, 64], checked as run() checks them."""
    if not isinstance(body, dict) or "data" not in body:
        raise ValueError('request body must be a JSON object with a "data" key: {"data": [[64 numbers], ...]}')
    x = np.asarray(body["data"], dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != N_FEATURES or x.shape[0] == 0:
        raise ValueError(f'"data" must be a non-empty list of rows of {N_FEATURES} numbers, got shape {x.shape}')
    return x


def predict(script: ModuleType, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The session call of run(): labels and probabilities."""
    labels, probabilities = script.session.run(None, {"input": x})
    return labels, probabilities


def encode(output: tuple[np.ndarray, np.ndarray]) -> dict[str, list[Any]]:
    """run()'s answer: predictions and probabilities rounded to 6 places."""
    labels, probabilities = output
    return {
        "predictions": labels.tolist(),
        "probabilities": np.round(probabilities.astype(np.float64), 6).tolist(),
    }


def answer(script: ModuleType, body: Any) -> dict[str, list[Any]]:
    """decode, predict and encode in one call, which is run() on a parsed body."""
    return encode(predict(script, decode(body)))

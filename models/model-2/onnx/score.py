# Azure ML online scoring script for the digits ONNX model (models/build_digits.py builds it).
# Request:  {"data": [[64 pixel values 0..16], ...]}
# Response: {"predictions": [digit, ...], "probabilities": [[10 floats], ...]}
import json
import logging
import os

import numpy as np
import onnxruntime as ort

N_FEATURES = 64

session: ort.InferenceSession


def init() -> None:
    global session
    # AZUREML_MODEL_DIR holds the model folder by its basename, so model.path ../model-N/model/ appears as model/.
    model_path = os.path.join(os.getenv("AZUREML_MODEL_DIR", ""), "model/digits.onnx")
    options = ort.SessionOptions()
    # The host sizes OMP_NUM_THREADS to the cores this instance owns; onnxruntime ignores it unless told, and its
    # default (every core) would fight the other instances on the machine.
    options.intra_op_num_threads = int(os.getenv("OMP_NUM_THREADS") or "1")
    # The graph is a single chain of nodes: nothing runs in parallel between operators.
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(model_path, sess_options=options, providers=["CPUExecutionProvider"])
    logging.info("Init complete: %s, %d intra-op threads", model_path, options.intra_op_num_threads)


def run(raw_data: str) -> dict[str, list]:
    # No per-request logging: this is the latency-critical path. A ValueError here becomes the server's 500 for
    # the caller, and its message goes to the log.
    body = json.loads(raw_data)
    if not isinstance(body, dict) or "data" not in body:
        raise ValueError('request body must be a JSON object with a "data" key: {"data": [[64 numbers], ...]}')
    try:
        x = np.asarray(body["data"], dtype=np.float32)
    except (TypeError, ValueError) as exc:  # ragged rows, strings, nested objects
        raise ValueError(f'"data" must be a list of rows of {N_FEATURES} numbers: {exc}') from exc
    if x.ndim != 2 or x.shape[1] != N_FEATURES or x.shape[0] == 0:
        raise ValueError(f'"data" must be a non-empty list of rows of {N_FEATURES} numbers, got shape {x.shape}')
    labels, probabilities = session.run(None, {"input": x})
    # Widen to float64 before rounding: a rounded float32 converts to a Python float like 0.12345600128173828.
    return {
        "predictions": labels.tolist(),
        "probabilities": np.round(probabilities.astype(np.float64), 6).tolist(),
    }

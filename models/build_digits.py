"""Build the digits sample models: two sklearn classifiers exported as small hand-built ONNX graphs.

Run from anywhere with ``python models/build_digits.py`` (needs the ``build`` extra: scikit-learn and onnx, plus
onnxruntime from the base install for the check). The data set ships inside scikit-learn, so nothing is downloaded.

Outputs (all committed, so serving never needs scikit-learn):

- ``model-1/model/digits.onnx``: multinomial logistic regression (the blue deployment);
- ``model-2/model/digits.onnx``: a 64-32-10 ReLU MLP (the green deployment);
- ``digits-triton/model_repository/digits/1/model.onnx``: a byte copy of model-1 in Triton's repository layout;
- ``digits/sample-request.json`` and ``digits-triton/sample-request.json``: two real test-split images.

Every graph has input ``input`` float32 [N, 64] with raw pixel values 0..16 and outputs ``label`` int64 [N] and
``probabilities`` float32 [N, 10]. Training is seeded and files are rewritten only when their bytes change, so
re-running on the same package versions leaves the tree untouched.
"""

from __future__ import annotations

import json
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

# The scripts run as `python models/<script>.py`, so their folder is on sys.path.
from model_files import write_if_changed
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

ROOT = Path(__file__).resolve().parent
SEED = 0
N_FEATURES = 64
N_CLASSES = 10
# The data set's pixels are integers 0..16; training sees them divided by 16 (better conditioned), and the
# division is folded into the first layer's weights so the served graph takes the raw values. 16 is a power of
# two, so the fold is exact in floating point.
PIXEL_MAX = 16.0
# Opset 13 is the first with axis-wise Softmax; IR 8 keeps the files loadable by onnxruntime >= 1.10 and by
# older Triton onnxruntime backends, not only by the newest releases.
OPSET = 13
IR_VERSION = 8
# Data-set labels of the two sample-request images: the first test-split image of each. Both models get both right
# with a clear margin (an 8 was a near tie with 1), so a rebuild on other package versions keeps the answer.
SAMPLE_DIGITS = (3, 7)


@dataclass(frozen=True)
class Dense:
    """One affine layer in ONNX orientation: y = x @ weight + bias, weight [in, out]."""

    weight: np.ndarray
    bias: np.ndarray


def logistic_layers(clf: LogisticRegression) -> list[Dense]:
    return [Dense(clf.coef_.T / PIXEL_MAX, clf.intercept_)]


def mlp_layers(clf: MLPClassifier) -> list[Dense]:
    layers = [Dense(w, b) for w, b in zip(clf.coefs_, clf.intercepts_, strict=True)]
    layers[0] = Dense(layers[0].weight / PIXEL_MAX, layers[0].bias)
    return layers


def build_graph(name: str, layers: list[Dense], doc: str) -> onnx.ModelProto:
    """Gemm (+ Relu between layers) → logits; Softmax → probabilities; ArgMax of the logits → label.

    The label is the argmax of the logits, as sklearn's predict() takes it (not of the rounded probabilities).
    """
    nodes: list[onnx.NodeProto] = []
    initializers: list[onnx.TensorProto] = []
    current = "input"
    for i, layer in enumerate(layers):
        w_name, b_name, out = f"W{i}", f"B{i}", f"gemm{i}"
        initializers.append(numpy_helper.from_array(layer.weight.astype(np.float32), w_name))
        initializers.append(numpy_helper.from_array(layer.bias.astype(np.float32), b_name))
        nodes.append(helper.make_node("Gemm", [current, w_name, b_name], [out], name=f"dense{i}"))
        current = out
        if i < len(layers) - 1:
            nodes.append(helper.make_node("Relu", [current], [f"relu{i}"], name=f"relu{i}"))
            current = f"relu{i}"
    nodes.append(helper.make_node("Softmax", [current], ["probabilities"], name="softmax", axis=1))
    nodes.append(helper.make_node("ArgMax", [current], ["label"], name="argmax", axis=1, keepdims=0))

    graph = helper.make_graph(
        nodes,
        name,
        inputs=[helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", N_FEATURES])],
        outputs=[
            helper.make_tensor_value_info("label", TensorProto.INT64, ["N"]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", N_CLASSES]),
        ],
        initializer=initializers,
    )
    model = helper.make_model(
        graph,
        producer_name="modelyard/models/build_digits.py",
        opset_imports=[helper.make_opsetid("", OPSET)],
        doc_string=doc,
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def check_against_sklearn(
    model: onnx.ModelProto, clf: LogisticRegression | MLPClassifier, x_test: np.ndarray
) -> np.ndarray:
    """Run the ONNX graph on the raw test pixels and require sklearn's labels and (to float32 noise) probabilities."""
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    labels, probs = session.run(None, {"input": x_test.astype(np.float32)})
    expected_labels = clf.predict(x_test / PIXEL_MAX)
    expected_probs = clf.predict_proba(x_test / PIXEL_MAX)
    if labels.dtype != np.int64 or labels.shape != (len(x_test),):
        raise SystemExit(f"label output is {labels.dtype} {labels.shape}, expected int64 ({len(x_test)},)")
    mismatches = int(np.sum(labels != expected_labels))
    if mismatches:
        raise SystemExit(f"ONNX labels differ from sklearn on {mismatches} of {len(x_test)} test images")
    np.testing.assert_allclose(probs, expected_probs, rtol=0, atol=1e-5)
    return labels


def azure_request(images: np.ndarray) -> bytes:
    # One image per line keeps the file readable and its diffs small; pixels stay integers as in the data set.
    rows = ",\n".join("    " + json.dumps([int(v) for v in row]) for row in images)
    return f'{{"data": [\n{rows}\n]}}\n'.encode()


def oip_request(images: np.ndarray) -> bytes:
    body = {
        "inputs": [
            {
                "name": "input",
                "shape": list(images.shape),
                "datatype": "FP32",
                "data": [float(v) for v in images.reshape(-1)],
            }
        ]
    }
    return (json.dumps(body) + "\n").encode()


def main() -> int:
    # A model that stops before converging would make the committed files depend on iteration limits; fail loudly.
    warnings.simplefilter("error", ConvergenceWarning)
    x, y = load_digits(return_X_y=True)
    # Splitting the row numbers alongside lets the README name the sample images by their data-set index.
    x_train, x_test, y_train, y_test, _, idx_test = train_test_split(
        x, y, np.arange(len(y)), test_size=0.25, random_state=SEED, stratify=y
    )
    print(f"digits: {len(x_train)} train / {len(x_test)} test images")

    logistic = LogisticRegression(C=1.0, max_iter=2000).fit(x_train / PIXEL_MAX, y_train)
    mlp = MLPClassifier(hidden_layer_sizes=(32,), activation="relu", alpha=1e-3, max_iter=2000, random_state=SEED)
    mlp.fit(x_train / PIXEL_MAX, y_train)
    for clf in (logistic, mlp):
        if list(clf.classes_) != list(range(N_CLASSES)):
            raise SystemExit(f"unexpected classes {clf.classes_}: the graph's argmax index is the label")

    models = {
        "model-1": (
            logistic,
            build_graph(
                "digits_logistic",
                logistic_layers(logistic),
                "8x8 digits, multinomial logistic regression; input: raw pixels 0..16.",
            ),
        ),
        "model-2": (
            mlp,
            build_graph("digits_mlp", mlp_layers(mlp), "8x8 digits, MLP 64-32(ReLU)-10; input: raw pixels 0..16."),
        ),
    }

    predictions: dict[str, np.ndarray] = {}
    for folder, (clf, model) in models.items():
        labels = check_against_sklearn(model, clf, x_test)
        predictions[folder] = labels
        accuracy = float(np.mean(labels == y_test))
        print(f"{folder} ({type(clf).__name__}): test accuracy {accuracy:.4f} (ONNX labels match sklearn on all)")
        write_if_changed(ROOT / folder / "model" / "digits.onnx", model.SerializeToString())
    agree = float(np.mean(predictions["model-1"] == predictions["model-2"]))
    print(f"model-1 and model-2 agree on {agree:.4f} of test labels")

    write_if_changed(
        ROOT / "digits-triton" / "model_repository" / "digits" / "1" / "model.onnx",
        models["model-1"][1].SerializeToString(),
    )

    picks = [int(np.flatnonzero(y_test == digit)[0]) for digit in SAMPLE_DIGITS]
    for folder, labels in predictions.items():
        got = [int(labels[i]) for i in picks]
        if got != list(SAMPLE_DIGITS):
            raise SystemExit(f"{folder} predicts {got} for the sample images of {list(SAMPLE_DIGITS)}")
    images = x_test[picks]
    print(f"sample request: digits {list(SAMPLE_DIGITS)} (load_digits() rows {[int(idx_test[i]) for i in picks]})")
    write_if_changed(ROOT / "digits" / "sample-request.json", azure_request(images))
    write_if_changed(ROOT / "digits-triton" / "sample-request.json", oip_request(images))
    return 0


if __name__ == "__main__":
    sys.exit(main())

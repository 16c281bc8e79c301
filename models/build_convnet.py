"""Build the medium sample model: a small convolutional image classifier as an ONNX graph in a Triton repository.

Run from anywhere with ``python models/build_convnet.py`` (needs numpy and onnx, both in the ``dev`` extra, plus
onnxruntime from the base install for the checks). Nothing is downloaded and nothing is trained: the weights are
drawn from a fixed seed (He initialisation, the dense layer then standardised on seeded calibration images), which
is all a serving benchmark needs of them: real convolution work per image and an answer that does not change
between builds.

Outputs (all committed):

- ``convnet-triton/model_repository/convnet/1/model.onnx``: the graph;
- ``convnet-triton/model_repository/convnet/config.pbtxt``: ``onnxruntime_onnx``, ``max_batch_size: 32``;
- ``convnet-triton/sample-request.json``: one seeded 3x64x64 image as an Open Inference Protocol v2 request.

The graph takes ``input`` float32 [N, 3, 64, 64], pixel values 0..255, and gives ``label`` int64 [N, 1] and
``probabilities`` float32 [N, 10]. Files are rewritten only when their bytes change.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

# The scripts run as `python models/<script>.py`, so their folder is on sys.path.
from model_files import write_if_changed
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parent
OUT = ROOT / "convnet-triton"
REPOSITORY = OUT / "model_repository" / "convnet"
SEED = 0
CHANNELS, SIZE, N_CLASSES = 3, 64, 10
#: Output channels of the four 3x3 convolutions; each but the last is followed by a 2x2 max pool, the last by a
#: global average pool. About 32 MFLOPs an image, ~100k weights (a ~390 KB file).
WIDTHS = (16, 32, 64, 128)
# The pixels are 0..255; the 1/256 scaling is folded into the first convolution's weights (a power of two, so the
# fold is exact) and the served graph takes the raw values, as the digits models do.
PIXEL_SCALE = 1 / 256
MAX_BATCH = 32
# Opset 13 and IR 8, as build_digits.py: loadable by onnxruntime >= 1.10 and older Triton onnxruntime backends.
OPSET = 13
IR_VERSION = 8

CONFIG = f"""name: "convnet"
platform: "onnxruntime_onnx"
# Triton prefixes the batch dimension to every dims below; requests may carry 1..{MAX_BATCH} images.
max_batch_size: {MAX_BATCH}
input [
  {{
    name: "input"
    data_type: TYPE_FP32
    dims: [ {CHANNELS}, {SIZE}, {SIZE} ]
  }}
]
output [
  {{
    name: "label"
    data_type: TYPE_INT64
    dims: [ 1 ]
  }},
  {{
    name: "probabilities"
    data_type: TYPE_FP32
    dims: [ {N_CLASSES} ]
  }}
]
"""


def build_model(rng: np.random.Generator) -> onnx.ModelProto:
    """Conv 3x3 + Relu (+ MaxPool 2x2) x4, GlobalAveragePool, Gemm to logits; Softmax and ArgMax of the logits."""
    nodes: list[onnx.NodeProto] = []
    initializers: list[onnx.TensorProto] = []
    current, channels = "input", CHANNELS
    for i, width in enumerate(WIDTHS):
        fan_in = channels * 9
        weight = rng.standard_normal((width, channels, 3, 3)) * np.sqrt(2.0 / fan_in)
        if i == 0:
            weight = weight * PIXEL_SCALE
        bias = rng.standard_normal(width) * 0.01
        initializers.append(numpy_helper.from_array(weight.astype(np.float32), f"W{i}"))
        initializers.append(numpy_helper.from_array(bias.astype(np.float32), f"B{i}"))
        nodes.append(
            helper.make_node("Conv", [current, f"W{i}", f"B{i}"], [f"conv{i}"], name=f"conv{i}", pads=[1, 1, 1, 1])
        )
        nodes.append(helper.make_node("Relu", [f"conv{i}"], [f"relu{i}"], name=f"relu{i}"))
        current, channels = f"relu{i}", width
        if i < len(WIDTHS) - 1:
            pool = helper.make_node("MaxPool", [current], [f"pool{i}"], name=f"pool{i}", kernel_shape=[2, 2])
            pool.attribute.append(helper.make_attribute("strides", [2, 2]))
            nodes.append(pool)
            current = f"pool{i}"
    nodes.append(helper.make_node("GlobalAveragePool", [current], ["gap"], name="gap"))
    nodes.append(helper.make_node("Flatten", ["gap"], ["features"], name="flatten", axis=1))
    head = rng.standard_normal((channels, N_CLASSES)) * np.sqrt(1.0 / channels)
    initializers.append(numpy_helper.from_array(head.astype(np.float32), "Wfc"))
    initializers.append(numpy_helper.from_array(np.zeros(N_CLASSES, np.float32), "Bfc"))
    nodes.append(helper.make_node("Gemm", ["features", "Wfc", "Bfc"], ["logits"], name="dense"))
    nodes.append(helper.make_node("Softmax", ["logits"], ["probabilities"], name="softmax", axis=1))
    # keepdims: Triton's config cannot declare a zero-dimension output past the batch, so the label is [N, 1].
    nodes.append(helper.make_node("ArgMax", ["logits"], ["label"], name="argmax", axis=1, keepdims=1))
    graph = helper.make_graph(
        nodes,
        "convnet",
        inputs=[helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", CHANNELS, SIZE, SIZE])],
        outputs=[
            helper.make_tensor_value_info("label", TensorProto.INT64, ["N", 1]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", N_CLASSES]),
        ],
        initializer=initializers,
    )
    model = helper.make_model(
        graph,
        producer_name="modelyard/models/build_convnet.py",
        opset_imports=[helper.make_opsetid("", OPSET)],
        doc_string=f"3x{SIZE}x{SIZE} images (pixels 0..255), 4 conv layers {WIDTHS}, seeded weights, 10 classes.",
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def standardise_head(model: onnx.ModelProto, images: np.ndarray) -> onnx.ModelProto:
    """Fold the features' mean and spread over `images` into the dense layer (what batch norm would learn).

    Pooled ReLU features of a random net are all positive with a large common part, which a random head turns into
    one class for every image; centred and scaled per feature, the label follows what differs between images.
    """
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    probe.graph.output.append(helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", WIDTHS[-1]]))
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    features = session.run(["features"], {"input": images})[0].astype(np.float64)
    mean, std = features.mean(axis=0), features.std(axis=0) + 1e-6
    tensors = {t.name: t for t in model.graph.initializer}
    head = numpy_helper.to_array(tensors["Wfc"]).astype(np.float64) / std[:, None]
    bias = -(mean @ head)
    tensors["Wfc"].CopyFrom(numpy_helper.from_array(head.astype(np.float32), "Wfc"))
    tensors["Bfc"].CopyFrom(numpy_helper.from_array(bias.astype(np.float32), "Bfc"))
    onnx.checker.check_model(model, full_check=True)
    return model


def sample_images(rng: np.random.Generator, count: int) -> np.ndarray:
    """Seeded images with some structure, integer pixels 0..255 as float32.

    Each is a colour gradient in its own direction (a gain per channel, a slope per axis) plus noise, so the
    images differ in what the convolutions see and do not all land in one class.
    """
    axis = np.linspace(-1, 1, SIZE)
    slopes = rng.uniform(-1, 1, size=(count, 1, 2))
    gains = rng.uniform(0, 1, size=(count, CHANNELS, 1))
    ramp = (
        slopes[..., 0, None, None] * axis[None, None, :, None] + slopes[..., 1, None, None] * axis[None, None, None, :]
    )
    image = 128 + 100 * gains[..., None] * ramp + rng.normal(0, 24, size=(count, CHANNELS, SIZE, SIZE))
    return np.clip(image, 0, 255).round().astype(np.float32)


def check(model: onnx.ModelProto, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One batch of all the images must answer as the images one at a time (what batching relies on)."""
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    labels, probs = session.run(None, {"input": images})
    if labels.dtype != np.int64 or labels.shape != (len(images), 1) or probs.shape != (len(images), N_CLASSES):
        raise SystemExit(f"outputs are {labels.dtype} {labels.shape} and {probs.shape}")
    for i in range(len(images)):
        one_label, one_probs = session.run(None, {"input": images[i : i + 1]})
        if one_label[0, 0] != labels[i, 0]:
            raise SystemExit(f"image {i}: label {one_label[0, 0]} alone, {labels[i, 0]} in a batch")
        np.testing.assert_allclose(one_probs[0], probs[i], rtol=0, atol=1e-5)
    # The sample request is the first image; its label is documented, so it must not be a near tie.
    second, first = np.sort(probs[0])[-2:]
    if first - second < 1e-3:
        raise SystemExit("the sample image's two likeliest classes are a near tie: its label could flip")
    return labels, probs


def oip_request(image: np.ndarray) -> bytes:
    # Integer pixels keep the JSON short (~45 KB for one image); one channel row per line keeps diffs readable.
    rows = ",\n".join("      " + ", ".join(str(int(v)) for v in row) for row in image.reshape(-1, SIZE))
    shape = [1, CHANNELS, SIZE, SIZE]
    return (
        '{\n  "inputs": [\n    {\n      "name": "input",\n'
        f'      "shape": {json.dumps(shape)},\n      "datatype": "FP32",\n      "data": [\n{rows}\n      ]\n'
        "    }\n  ]\n}\n"
    ).encode()


def main() -> int:
    rng = np.random.default_rng(SEED)
    model = build_model(rng)
    # Calibration images for the head, then the sample images: both seeded, drawn apart.
    model = standardise_head(model, sample_images(rng, 256))
    images = sample_images(rng, MAX_BATCH)
    labels, probs = check(model, images)
    flops = sum(
        2 * 9 * c_in * c_out * (SIZE >> i) ** 2
        for i, (c_in, c_out) in enumerate(zip((CHANNELS, *WIDTHS[:-1]), WIDTHS, strict=True))
    )
    params = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    print(f"convnet: {flops / 1e6:.1f} MFLOPs per image, {params:,} weights")
    print(f"labels of the {len(images)} seeded images: {labels[:, 0].tolist()}")
    print(f"sample request: label {int(labels[0, 0])}, probability {float(probs[0].max()):.6f}")
    write_if_changed(REPOSITORY / "1" / "model.onnx", model.SerializeToString())
    write_if_changed(REPOSITORY / "config.pbtxt", CONFIG.encode())
    write_if_changed(OUT / "sample-request.json", oip_request(images[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

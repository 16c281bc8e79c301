"""No-code Triton repositories of ONNX models, served over the Open Inference Protocol v2 REST routes."""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest

from runtime.ipc.messages import Failure, Infer, Load, Result
from runtime.worker.adapters import Adapter, LoadError, load_adapter

helper = onnx.helper
TensorProto = onnx.TensorProto

ADDSUB_CONFIG = """
name: "addsub"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [
  { name: "INPUT0", data_type: TYPE_FP32, dims: [ 4 ] },
  { name: "INPUT1", data_type: TYPE_FP32, dims: [ 4 ] }
]
output [
  { name: "OUTPUT0", data_type: TYPE_FP32, dims: [ 4 ] },
  { name: "OUTPUT1", data_type: TYPE_FP32, dims: [ 4 ] }
]
instance_group [ { count: 1, kind: KIND_CPU } ]
"""


def save(graph: Any, path: Path) -> None:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))


def addsub_graph(scale: float) -> Any:
    """OUTPUT0 = (INPUT0 + INPUT1) * scale, OUTPUT1 = INPUT0 - INPUT1, on float32 [batch, 4]."""
    x = helper.make_tensor_value_info("INPUT0", TensorProto.FLOAT, ["batch", 4])
    y = helper.make_tensor_value_info("INPUT1", TensorProto.FLOAT, ["batch", 4])
    out0 = helper.make_tensor_value_info("OUTPUT0", TensorProto.FLOAT, ["batch", 4])
    out1 = helper.make_tensor_value_info("OUTPUT1", TensorProto.FLOAT, ["batch", 4])
    scale_t = helper.make_tensor("scale", TensorProto.FLOAT, [], [scale])
    nodes = [
        helper.make_node("Add", ["INPUT0", "INPUT1"], ["sum"]),
        helper.make_node("Mul", ["sum", "scale"], ["OUTPUT0"]),
        helper.make_node("Sub", ["INPUT0", "INPUT1"], ["OUTPUT1"]),
    ]
    return helper.make_graph(nodes, "addsub", [x, y], [out0, out1], initializer=[scale_t])


def echo_graph() -> Any:
    """No config.pbtxt: an INT64 vector and a string vector, echoed back."""
    ids = helper.make_tensor_value_info("ids", TensorProto.INT64, ["n"])
    text = helper.make_tensor_value_info("text", TensorProto.STRING, ["m"])
    ids_out = helper.make_tensor_value_info("ids_out", TensorProto.INT64, ["n"])
    text_out = helper.make_tensor_value_info("text_out", TensorProto.STRING, ["m"])
    nodes = [helper.make_node("Identity", ["ids"], ["ids_out"]), helper.make_node("Identity", ["text"], ["text_out"])]
    return helper.make_graph(nodes, "echo", [ids, text], [ids_out, text_out])


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("repo")
    (root / "addsub").mkdir()
    (root / "addsub" / "config.pbtxt").write_text(ADDSUB_CONFIG)
    save(addsub_graph(1.0), root / "addsub" / "1" / "model.onnx")
    save(addsub_graph(2.0), root / "addsub" / "2" / "model.onnx")
    save(echo_graph(), root / "echo" / "1" / "model.onnx")
    return root


@pytest.fixture(scope="module")
def adapter(repository: Path) -> Adapter:
    return load_adapter(Load("triton", model_repository=str(repository), threads=1))


def request(
    adapter: Adapter, method: str, path: str, body: Any = None, headers: list[tuple[str, str]] | None = None
) -> Result:
    data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else b"")
    result = adapter.handle(Infer(1, method, path, "", headers or [], data))
    assert isinstance(result, Result), result
    return result


def error_of(result: Result) -> str:
    return str(json.loads(result.body)["error"])


X = [[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]
Y = [[1.0, 1.0, 1.0, 1.0], [2.0, 2.0, 2.0, 2.0]]


def addsub_inputs(x: Any = X, y: Any = Y) -> list[dict[str, Any]]:
    return [
        {"name": "INPUT0", "datatype": "FP32", "shape": [2, 4], "data": x},
        {"name": "INPUT1", "datatype": "FP32", "shape": [2, 4], "data": y},
    ]


def test_the_repository_loads_every_model(adapter: Adapter) -> None:
    assert adapter.mode == "triton"
    assert adapter.models == ["addsub", "echo"]


def test_sessions_use_the_loads_thread_count(repository: Path) -> None:
    loaded = load_adapter(Load("triton", model_repository=str(repository), threads=2))
    model = loaded.repository["addsub"]  # type: ignore[attr-defined]
    for version in model.versions.values():
        options = version.session.get_session_options()
        assert (options.intra_op_num_threads, options.inter_op_num_threads) == (2, 1)


def test_health_and_server_metadata(adapter: Adapter) -> None:
    assert request(adapter, "GET", "/v2/health/live").status == 200
    assert request(adapter, "GET", "/v2/health/ready").status == 200
    assert request(adapter, "GET", "/v2/models/addsub/ready").status == 200
    assert request(adapter, "GET", "/v2/models/addsub/versions/1/ready").status == 200
    server = json.loads(request(adapter, "GET", "/v2").body)
    assert server["name"] == "modelyard" and "binary_tensor_data" in server["extensions"]


def test_model_metadata(adapter: Adapter) -> None:
    result = request(adapter, "GET", "/v2/models/addsub")
    assert result.status == 200
    assert json.loads(result.body) == {
        "name": "addsub",
        "versions": ["1", "2"],
        "platform": "onnxruntime_onnx",
        "inputs": [
            {"name": "INPUT0", "datatype": "FP32", "shape": [-1, 4]},
            {"name": "INPUT1", "datatype": "FP32", "shape": [-1, 4]},
        ],
        "outputs": [
            {"name": "OUTPUT0", "datatype": "FP32", "shape": [-1, 4]},
            {"name": "OUTPUT1", "datatype": "FP32", "shape": [-1, 4]},
        ],
    }
    echo = json.loads(request(adapter, "GET", "/v2/models/echo/versions/1").body)
    assert echo["inputs"] == [
        {"name": "ids", "datatype": "INT64", "shape": [-1]},
        {"name": "text", "datatype": "BYTES", "shape": [-1]},
    ]
    config = json.loads(request(adapter, "GET", "/v2/models/addsub/config").body)
    assert config["max_batch_size"] == 8
    assert config["input"][0] == {"name": "INPUT0", "data_type": "TYPE_FP32", "dims": [4]}


def test_json_infer_uses_the_latest_version_unless_one_is_named(adapter: Adapter) -> None:
    latest = request(adapter, "POST", "/v2/models/addsub/infer", {"id": "r1", "inputs": addsub_inputs()})
    assert latest.status == 200
    answer = json.loads(latest.body)
    assert (answer["model_name"], answer["model_version"], answer["id"]) == ("addsub", "2", "r1")
    out0 = answer["outputs"][0]
    assert (out0["name"], out0["datatype"], out0["shape"]) == ("OUTPUT0", "FP32", [2, 4])
    assert out0["data"] == [4.0, 6.0, 8.0, 10.0, 14.0, 16.0, 18.0, 20.0]
    v1 = json.loads(request(adapter, "POST", "/v2/models/addsub/versions/1/infer", {"inputs": addsub_inputs()}).body)
    assert v1["model_version"] == "1"
    assert v1["outputs"][0]["data"][:4] == [2.0, 3.0, 4.0, 5.0]
    assert v1["outputs"][1]["data"][:4] == [0.0, 1.0, 2.0, 3.0]


def test_flat_data_and_output_selection(adapter: Adapter) -> None:
    flat = addsub_inputs(sum(X, []), sum(Y, []))
    body = {"inputs": flat, "outputs": [{"name": "OUTPUT1"}]}
    answer = json.loads(request(adapter, "POST", "/v2/models/addsub/versions/1/infer", body).body)
    assert [o["name"] for o in answer["outputs"]] == ["OUTPUT1"]
    assert answer["outputs"][0]["data"] == [0.0, 1.0, 2.0, 3.0, 3.0, 4.0, 5.0, 6.0]


def test_binary_inputs_and_outputs(adapter: Adapter) -> None:
    x = np.asarray(X, dtype=np.float32)
    y = np.asarray(Y, dtype=np.float32)
    header = {
        "inputs": [
            {"name": "INPUT0", "datatype": "FP32", "shape": [2, 4], "parameters": {"binary_data_size": x.nbytes}},
            {"name": "INPUT1", "datatype": "FP32", "shape": [2, 4], "parameters": {"binary_data_size": y.nbytes}},
        ],
        "outputs": [{"name": "OUTPUT0", "parameters": {"binary_data": True}}, {"name": "OUTPUT1"}],
    }
    head = json.dumps(header).encode()
    result = request(
        adapter,
        "POST",
        "/v2/models/addsub/versions/1/infer",
        head + x.tobytes() + y.tobytes(),
        [("Inference-Header-Content-Length", str(len(head))), ("Content-Type", "application/octet-stream")],
    )
    assert result.status == 200
    size = int(dict(result.headers)["Inference-Header-Content-Length"])
    answer = json.loads(result.body[:size])
    out0, out1 = answer["outputs"]
    assert out0["parameters"] == {"binary_data_size": 32} and "data" not in out0
    assert np.array_equal(np.frombuffer(result.body[size:], dtype="<f4").reshape(2, 4), x + y)
    assert out1["data"] == (x - y).ravel().tolist()


def test_binary_data_output_for_all_outputs_and_gzip_requests(adapter: Adapter) -> None:
    body = gzip.compress(json.dumps({"inputs": addsub_inputs(), "parameters": {"binary_data_output": True}}).encode())
    result = request(adapter, "POST", "/v2/models/addsub/infer", body, [("Content-Encoding", "gzip")])
    size = int(dict(result.headers)["Inference-Header-Content-Length"])
    outputs = json.loads(result.body[:size])["outputs"]
    assert [o["parameters"]["binary_data_size"] for o in outputs] == [32, 32]
    assert len(result.body) == size + 64


def test_int64_and_string_tensors(adapter: Adapter) -> None:
    body = {
        "inputs": [
            {"name": "ids", "datatype": "INT64", "shape": [3], "data": [1, 2, 2**40]},
            {"name": "text", "datatype": "BYTES", "shape": [2], "data": ["héllo", "world"]},
        ]
    }
    outputs = json.loads(request(adapter, "POST", "/v2/models/echo/infer", body).body)["outputs"]
    assert outputs[0] == {"name": "ids_out", "datatype": "INT64", "shape": [3], "data": [1, 2, 2**40]}
    assert outputs[1] == {"name": "text_out", "datatype": "BYTES", "shape": [2], "data": ["héllo", "world"]}

    strings = b"".join(struct.pack("<I", len(s)) + s for s in ("héllo".encode(), b"!"))
    header = {
        "inputs": [
            {"name": "ids", "datatype": "INT64", "shape": [1], "data": [7]},
            {"name": "text", "datatype": "BYTES", "shape": [2], "parameters": {"binary_data_size": len(strings)}},
        ],
        "parameters": {"binary_data_output": True},
    }
    head = json.dumps(header).encode()
    result = request(
        adapter, "POST", "/v2/models/echo/infer", head + strings, [("inference-header-content-length", str(len(head)))]
    )
    size = int(dict(result.headers)["Inference-Header-Content-Length"])
    assert result.body[size + 8 :] == strings  # after the 8-byte INT64 output, the strings come back as sent


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("/v2/models/nope/infer", {"inputs": []}, 404, "Request for unknown model: 'nope' is not found"),
        ("/v2/models/addsub/versions/9/infer", {"inputs": []}, 404, "Request for unknown model: 'addsub' version 9"),
        ("/v2/models/addsub/infer", b"{nope", 400, "failed to parse the request JSON buffer"),
        (
            "/v2/models/addsub/infer",
            {"inputs": [*addsub_inputs(), {"name": "Z"}]},
            400,
            "unexpected inference input 'Z'",
        ),
        ("/v2/models/addsub/infer", {"inputs": addsub_inputs()[:1]}, 400, "missing required input(s) ['INPUT1']"),
        (
            "/v2/models/addsub/infer",
            {"inputs": [{**addsub_inputs()[0], "datatype": "FP64"}, addsub_inputs()[1]]},
            400,
            "inference input 'INPUT0' data-type is 'FP64', but model 'addsub' expects 'FP32'",
        ),
        (
            "/v2/models/addsub/infer",
            {"inputs": [{**addsub_inputs()[0], "shape": [2, 3]}, addsub_inputs()[1]]},
            400,
            "unexpected shape for input 'INPUT0' for model 'addsub'. Expected [-1,4], got [2,3]",
        ),
        (
            "/v2/models/addsub/infer",
            {"inputs": [{**addsub_inputs()[0], "data": [1.0, 2.0]}, addsub_inputs()[1]]},
            400,
            "unexpected number of elements 2 in 'data' of input 'INPUT0', expecting 8",
        ),
        (
            "/v2/models/addsub/infer",
            {"inputs": [{**addsub_inputs()[0], "data": ["a"] * 8}, addsub_inputs()[1]]},
            400,
            "unable to parse 'data' of input 'INPUT0' as FP32",
        ),
        (
            "/v2/models/addsub/infer",
            {"inputs": [{**addsub_inputs()[0], "shape": [9, 4], "data": [0.0] * 36}, addsub_inputs()[1]]},
            400,
            "inference request batch-size must be <= 8 for 'addsub'",
        ),
        (
            "/v2/models/addsub/infer",
            {"inputs": addsub_inputs(), "outputs": [{"name": "NOPE"}]},
            400,
            "unexpected inference output 'NOPE' for model 'addsub'",
        ),
    ],
)
def test_bad_requests_name_the_problem(adapter: Adapter, path: str, body: Any, status: int, message: str) -> None:
    result = request(adapter, "POST", path, body)
    assert result.status == status
    assert message in error_of(result)
    assert dict(result.headers)["Content-Type"] == "application/json"


def test_unknown_routes_and_methods(adapter: Adapter) -> None:
    assert request(adapter, "GET", "/score").status == 404
    assert request(adapter, "GET", "/v2/models/nope").status == 404
    assert request(adapter, "GET", "/v2/models/addsub/infer").status == 405


def test_unsupported_platforms_and_empty_models_fail_to_load(tmp_path: Path) -> None:
    (tmp_path / "a" / "torch").mkdir(parents=True)
    (tmp_path / "a" / "torch" / "config.pbtxt").write_text('platform: "pytorch_libtorch"')
    with pytest.raises(LoadError, match="platform 'pytorch_libtorch' is not supported"):
        load_adapter(Load("triton", model_repository=str(tmp_path / "a")))
    (tmp_path / "b" / "empty").mkdir(parents=True)
    with pytest.raises(LoadError, match="model 'empty' has no version folder"):
        load_adapter(Load("triton", model_repository=str(tmp_path / "b")))
    with pytest.raises(LoadError, match="is not a directory"):
        load_adapter(Load("triton", model_repository=str(tmp_path / "missing")))


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"inputs": addsub_inputs(), "parameters": [1]}, "'parameters' of the request must be a JSON object"),
        (
            {"inputs": [{**addsub_inputs()[0], "parameters": "x"}, addsub_inputs()[1]]},
            "'parameters' of input 'INPUT0' must be a JSON object, got a string",
        ),
        (
            {"inputs": addsub_inputs(), "outputs": [{"name": "OUTPUT0", "parameters": 3}]},
            "'parameters' of output 'OUTPUT0' must be a JSON object, got a number",
        ),
        (
            {"inputs": addsub_inputs(), "parameters": {"binary_data_output": "yes"}},
            "parameter 'binary_data_output' of the request must be true or false",
        ),
        (
            {"inputs": [{**addsub_inputs()[0], "shape": [True, 4]}, addsub_inputs()[1]]},
            "needs a 'shape' list of non-negative integers, got [True, 4]",
        ),
        (
            {"inputs": [{**addsub_inputs()[0], "shape": [-2, 4]}, addsub_inputs()[1]]},
            "needs a 'shape' list of non-negative integers",
        ),
        (
            {"inputs": [{**addsub_inputs()[0], "shape": [2**40, 4]}, addsub_inputs()[1]]},
            "inference request batch-size must be <= 8",
        ),
        ({"inputs": [*addsub_inputs(), 7]}, "inputs[2] must be a JSON object"),
        ({"inputs": [{**addsub_inputs()[0], "name": 1}, addsub_inputs()[1]]}, "inputs[0] needs a 'name' string"),
        ({"inputs": [addsub_inputs()[0], addsub_inputs()[0]]}, "['INPUT0'] are given more than once"),
        (
            {"inputs": [{**addsub_inputs()[0], "data": 5.0}, addsub_inputs()[1]]},
            "'data' of input 'INPUT0' must be a list",
        ),
        (
            {"inputs": [{**addsub_inputs()[0], "data": [["1.0"] * 4] * 2}, addsub_inputs()[1]]},
            "it must hold only numbers (all rows the same length), got strings",
        ),
        (
            {"inputs": [{**addsub_inputs()[0], "data": [[1.0] * 4, [1.0] * 3]}, addsub_inputs()[1]]},
            "unable to parse 'data' of input 'INPUT0' as FP32",
        ),
        ({"inputs": addsub_inputs(), "id": {"a": 1}}, "the request 'id' must be a string, got an object"),
        ({"inputs": addsub_inputs(), "outputs": "OUTPUT0"}, "'outputs' must be a list"),
    ],
)
def test_malformed_requests_are_400_with_what_is_allowed(adapter: Adapter, body: Any, message: str) -> None:
    result = request(adapter, "POST", "/v2/models/addsub/infer", body)
    assert result.status == 400, result.body
    assert message in error_of(result)


def test_integers_out_of_range_and_fractions_are_refused(adapter: Adapter) -> None:
    base = {"name": "text", "datatype": "BYTES", "shape": [1], "data": ["a"]}
    for data, message in [([2**63], "outside"), ([1.5], "got numbers with a fraction"), ([True], "got booleans")]:
        body = {"inputs": [{"name": "ids", "datatype": "INT64", "shape": [1], "data": data}, base]}
        result = request(adapter, "POST", "/v2/models/echo/infer", body)
        assert result.status == 400 and message in error_of(result), result.body


def test_deeply_nested_json_is_400_not_an_internal_error(adapter: Adapter) -> None:
    result = request(adapter, "POST", "/v2/models/addsub/infer", deep(100_000).encode())
    assert result.status == 400 and "nested too deeply" in error_of(result)
    data = json.dumps({"inputs": [{**addsub_inputs()[0], "data": None}, addsub_inputs()[1]]})
    result = request(adapter, "POST", "/v2/models/addsub/infer", data.replace("null", deep(500)).encode())
    assert result.status == 400 and "INPUT0" in error_of(result)


def test_a_shape_larger_than_the_body_could_carry_is_refused_before_anything_is_sized(adapter: Adapter) -> None:
    body = {
        "inputs": [
            {"name": "ids", "datatype": "INT64", "shape": [2**62], "parameters": {"binary_data_size": 8}},
            {"name": "text", "datatype": "BYTES", "shape": [1], "data": ["a"]},
        ]
    }
    head = json.dumps(body).encode()
    headers = [("Inference-Header-Content-Length", str(len(head)))]
    result = request(adapter, "POST", "/v2/models/echo/infer", head + b"\0" * 8, headers)
    assert result.status == 400 and "more than a request body of" in error_of(result)


def test_a_compressed_body_is_inflated_only_up_to_the_servers_body_limit(adapter: Adapter) -> None:
    payload = json.dumps({"inputs": addsub_inputs()}).encode()
    bomb = gzip.compress(payload + b" " * (8 << 20))  # valid JSON, 8 MiB of trailing spaces, ~8 KiB compressed
    headers = [("Content-Encoding", "gzip")]
    small = adapter.handle(Infer(1, "POST", "/v2/models/addsub/infer", "", headers, bomb, max_body=1 << 20))
    assert isinstance(small, Failure) and small.code == "too_large"
    assert "inflates to more than this server's body limit of 1 MiB" in small.message
    big = adapter.handle(Infer(1, "POST", "/v2/models/addsub/infer", "", headers, bomb, max_body=16 << 20))
    assert isinstance(big, Result) and big.status == 200
    import zlib

    deflated = adapter.handle(
        Infer(1, "POST", "/v2/models/addsub/infer", "", [("Content-Encoding", "deflate")], zlib.compress(payload))
    )
    assert isinstance(deflated, Result) and deflated.status == 200
    truncated = request(adapter, "POST", "/v2/models/addsub/infer", gzip.compress(payload)[:-12], headers)
    assert truncated.status == 400 and "cannot decompress the gzip request body" in error_of(truncated)


@pytest.mark.parametrize("length", ["1_0", " 10 ", "+10", "\uff11\uff10", "10.0", "-1", "", "0x1a"])
def test_the_binary_header_length_takes_ascii_digits_only(adapter: Adapter, length: str) -> None:
    head = json.dumps({"inputs": addsub_inputs()}).encode()
    result = request(adapter, "POST", "/v2/models/addsub/infer", head, [("Inference-Header-Content-Length", length)])
    assert result.status == 400
    assert f"Inference-Header-Content-Length {length!r} is not a byte count" in error_of(result)
    assert "ASCII digits 0-9 only" in error_of(result)


def test_a_binary_header_length_past_the_body_is_400_however_many_digits_it_has(adapter: Adapter) -> None:
    head = json.dumps({"inputs": addsub_inputs()}).encode()
    for length in [str(len(head) + 1), "9" * 5000]:  # int() refuses more than 4,300 digits
        result = request(
            adapter, "POST", "/v2/models/addsub/infer", head, [("Inference-Header-Content-Length", length)]
        )
        assert result.status == 400 and f"exceeds the body of {len(head)} bytes" in error_of(result)
    padded = request(
        adapter, "POST", "/v2/models/addsub/infer", head, [("Inference-Header-Content-Length", f"00{len(head)}")]
    )
    assert padded.status == 200, error_of(padded)


@pytest.fixture(scope="module")
def two_dims(tmp_path_factory: pytest.TempPathFactory) -> Adapter:
    """A model whose one input has two variable dimensions: y = Identity(x), float32 [a, b]."""
    root = tmp_path_factory.mktemp("two-dims")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["a", "b"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["a", "b"])
    save(
        helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "pair", [x], [y]),
        root / "pair" / "1" / "model.onnx",
    )
    return load_adapter(Load("triton", model_repository=str(root), threads=1))


@pytest.mark.parametrize("shape", [[2**63, 0], [0, 2**64], [2**62, 0], [2**100, 0]])
@pytest.mark.parametrize("binary", [False, True])
def test_an_empty_tensor_with_a_dimension_no_array_can_have_is_400(
    two_dims: Adapter, shape: list[int], binary: bool
) -> None:
    tensor: dict[str, Any] = {"name": "x", "datatype": "FP32", "shape": shape}
    if binary:
        tensor["parameters"] = {"binary_data_size": 0}
    else:
        tensor["data"] = []
    head = json.dumps({"inputs": [tensor]}).encode()
    headers = [("Inference-Header-Content-Length", str(len(head)))] if binary else []
    result = request(two_dims, "POST", "/v2/models/pair/infer", head, headers)
    assert result.status == 400, result.body
    assert f"input 'x' cannot have shape {shape}" in error_of(result)
    assert "must multiply to fewer than 2**63 bytes" in error_of(result)


def test_an_empty_tensor_with_a_large_dimension_that_fits_runs(two_dims: Adapter) -> None:
    body = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [2**40, 0], "data": []}]}
    result = request(two_dims, "POST", "/v2/models/pair/infer", body)
    assert result.status == 200, result.body
    assert json.loads(result.body)["outputs"][0]["shape"] == [2**40, 0]

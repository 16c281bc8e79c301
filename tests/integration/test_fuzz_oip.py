"""Hypothesis-built OIP v2 infer requests against a real Triton-layout ONNX deployment: 200 or a 4xx, never a 5xx.

The requests are valid and near-valid: right and wrong names, datatypes, shapes, data (flat, nested, wrong length,
wrong element types), binary-extension bodies with right and wrong sizes, requested outputs and parameters, a
`parameters` that is not an object at any level, booleans as dimensions or sizes, JSON nested past any parser's
depth, gzip and deflate bodies (valid, truncated, and bombs that inflate past the body limit), and request heads
past the server's limits.
"""

from __future__ import annotations

import gzip
import json
import struct
import zlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import hypothesis
import pytest
from hypothesis import strategies as st
from live import ROOT, Server, serving, worker_pids

TRITON = ROOT / "models" / "digits-triton"
ENDPOINT = "digits-triton"
MODEL = f"/endpoints/{ENDPOINT}/v2/models/digits"
INFER = f"{MODEL}/infer"
#: Near-valid infer URLs: versions the repository lacks or that are not numbers, other spellings, extra segments.
PATHS = [
    f"{MODEL}/versions/2/infer",
    f"{MODEL}/versions/x/infer",
    f"{MODEL}/versions/01/infer",
    f"{MODEL}/versions//infer",
    f"{MODEL}/versions/1/infer/x",
    f"{MODEL}/infer/",
    f"{MODEL}/versions/\u0661/infer",
    f"/endpoints/{ENDPOINT}/v2/models/Digits/infer",
    f"/endpoints/{ENDPOINT}/v2/models/digits%2F1/infer",
]
#: The model's one input is FP32 [-1, 64]; its outputs are `label` INT64 [-1] and `probabilities` FP32 [-1, 10].
FEATURES = 64
DATATYPES = ["BOOL", "UINT8", "INT8", "INT32", "INT64", "FP16", "FP32", "FP64", "BYTES", "BF16", "fp32", ""]
ITEMSIZE = {"FP32": 4, "FP64": 8, "FP16": 2, "INT64": 8, "INT32": 4, "INT8": 1, "UINT8": 1, "BOOL": 1}
#: 400 requests take about 5 s on a busy 2-core machine.
EXAMPLES = 400
#: The server's body limit, small so that a compression bomb is cheap to build and to refuse.
MAX_BODY_MIB = 2
#: Stands in for deeply nested JSON in a document, replaced after json.dumps (which cannot write it).
DEEP = "\ufdd0deep\ufdd0"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    """One server for the module with the digits Triton deployment, and its endpoint key."""
    state = tmp_path_factory.mktemp("fuzz-oip") / "state"
    args = ("--max-body-mib", str(MAX_BODY_MIB))
    with serving(state, TRITON / "endpoint.yml", TRITON / "deployment.yml", *args) as srv:
        yield srv, srv.key(ENDPOINT)


finite = st.floats(allow_nan=False, allow_infinity=False, width=32)
scalar = st.one_of(
    finite,
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),  # NaN and infinities are not JSON, but Python's json writes them and servers meet them
    st.booleans(),
    st.none(),
    st.text(max_size=4),
)
dims = st.one_of(
    st.integers(min_value=0, max_value=4).map(lambda n: [n, FEATURES]),
    st.lists(st.integers(min_value=-2, max_value=2 * FEATURES), max_size=3),
    st.lists(st.one_of(st.integers(0, 3), st.floats(0, 3), st.text(max_size=2), st.none()), min_size=1, max_size=3),
    st.sampled_from([None, "2,64", {"0": 2}, [2**40, FEATURES], [2, FEATURES, 1]]),
)


def _count(shape: object) -> int:
    """The element count of `shape` where it is a small valid one, else that of two rows."""
    if isinstance(shape, list) and shape and all(type(d) is int and d >= 0 for d in shape):
        n = 1
        for d in shape:
            n *= d
        if n <= 4 * FEATURES:
            return n
    return 2 * FEATURES


@st.composite
def json_data(draw: st.DrawFn, shape: object, valid: bool = False) -> object:
    """`data` for a tensor of `shape`: the right count of numbers, flat or as rows, or (unless `valid`) near it."""
    count = _count(shape)
    kind = draw(st.sampled_from(["flat", "rows"] if valid else ["flat", "rows", "wrong-count", "mixed", "odd"]))
    if kind == "flat":
        return _tiled(draw, count)
    if kind == "rows" and (valid or count % FEATURES == 0):
        flat = _tiled(draw, count)
        return [flat[i : i + FEATURES] for i in range(0, count, FEATURES)]
    if kind == "wrong-count":
        return _tiled(draw, draw(st.integers(0, count + 3).filter(lambda n: n != count)))
    if kind == "mixed":  # a few elements: which one fails conversion first varies
        element = st.one_of(
            scalar, st.dictionaries(st.text(max_size=2), scalar, max_size=1), st.lists(finite, max_size=2)
        )
        return draw(st.lists(element, min_size=1, max_size=3))
    return draw(
        st.one_of(
            scalar,
            st.lists(st.lists(finite, max_size=3), max_size=3),  # ragged rows
            st.dictionaries(st.text(max_size=3), finite, max_size=2),
        )
    )


#: What is wrong with a request; "valid" more often than any one fault, so that many reach the model.
FAULTS = (
    ["valid"] * 4
    + ["data"] * 3
    + ["shape", "binary-size"] * 2
    + [
        "name",
        "datatype",
        "missing-key",
        "inputs",
        "outputs",
        "top",
        "path",
        "id",
        "parameters",
        "boolean",
        "deep",
        "encoding",
        "head",
    ]
)
#: What a `parameters` that is not an object can be (None is the same as absent, so it is valid).
not_an_object = st.one_of(
    st.lists(scalar, max_size=2), st.text(max_size=3), st.integers(), st.booleans(), st.floats(), st.none()
)


@st.composite
def infer_request(draw: st.DrawFn) -> tuple[str, dict[str, str], bytes]:
    """Path, headers and body of one infer request, JSON or with the binary tensor extension, with at most one
    fault."""
    fault = draw(st.sampled_from(FAULTS))
    rows = draw(st.integers(min_value=1, max_value=3))
    shape: object = draw(dims) if fault == "shape" else [rows, FEATURES]
    if fault == "boolean" and draw(st.booleans()):  # bool is an int to Python: `[true, 64]` must not pass
        shape = draw(st.sampled_from([[True, FEATURES], [rows, True], [False, FEATURES], [True]]))
    datatype = draw(st.sampled_from(DATATYPES)) if fault == "datatype" else "FP32"
    name = draw(st.sampled_from(["Input", "label", "", "input "])) if fault == "name" else "input"
    tensor: dict[str, Any] = {"name": name, "datatype": datatype, "shape": shape}
    as_binary = draw(st.booleans())
    binary = b""
    if as_binary:
        size = _count(shape) * ITEMSIZE.get(datatype, 4)
        if fault == "binary-size":
            size = draw(st.integers(min_value=0, max_value=size + 8).filter(lambda n: n != size))
        binary = draw(st.binary(min_size=size, max_size=size)) if size <= 64 else _floats(draw, size)
        if datatype == "BYTES":  # length-prefixed elements, some with lengths that run past the end
            items = draw(st.lists(st.binary(max_size=4), max_size=3))
            binary = b"".join(struct.pack("<I", len(i) + draw(st.integers(0, 1))) + i for i in items)
        declared: object = len(binary)
        if fault == "binary-size" and draw(st.booleans()):
            declared = draw(st.one_of(st.integers(-2, len(binary) + 4), st.text(max_size=2), st.floats(0, 9)))
        if fault == "boolean" and shape == [rows, FEATURES]:
            declared = draw(st.booleans())
        tensor["parameters"] = {"binary_data_size": declared}
        if fault == "data":
            tensor["data"] = [0.0]  # both data and a binary size
    elif fault == "data":
        tensor["data"] = draw(st.one_of(json_data(shape), st.just(None))) if draw(st.integers(0, 9)) else None
        if tensor["data"] is None:
            del tensor["data"]
    else:
        tensor["data"] = draw(json_data(shape, valid=True))
    if fault == "missing-key":
        del tensor[draw(st.sampled_from(["name", "datatype", "shape"]))]
    where = draw(st.sampled_from(["request", "input", "output", "document"])) if fault in ("parameters", "deep") else ""
    if where == "input":
        if fault == "parameters":
            tensor["parameters"] = draw(not_an_object)
        else:
            tensor[draw(st.sampled_from(["data", "shape", "parameters", "name"]))] = DEEP
    inputs: list[Any] = [tensor]
    if fault == "inputs":
        inputs = draw(
            st.sampled_from([[tensor, dict(tensor)], [], [tensor, None], [tensor, []], [tensor, {"name": "x"}]])
        )
    request: dict[str, Any] = {"inputs": inputs}
    if fault == "id":
        request["id"] = draw(
            st.one_of(st.integers(), st.floats(), st.none(), st.booleans(), st.lists(scalar, max_size=2))
        )
    elif draw(st.booleans()):
        request["id"] = draw(st.text(max_size=8))
    if draw(st.booleans()):
        request["parameters"] = {"binary_data_output": draw(st.booleans())}
    if where == "request":
        key = draw(st.sampled_from(["parameters", "id", "outputs"])) if fault == "deep" else "parameters"
        request[key] = DEEP if fault == "deep" else draw(not_an_object)
    if where == "document" and fault == "parameters":
        request["parameters"] = draw(not_an_object)
    if where == "output":
        value = DEEP if fault == "deep" else draw(not_an_object)
        request["outputs"] = [{"name": draw(st.sampled_from(["label", "probabilities"])), "parameters": value}]
    elif fault == "outputs" or draw(st.booleans()):
        names = st.sampled_from(["label", "probabilities"] + (["input", "nope"] if fault == "outputs" else []))
        optional: dict[str, st.SearchStrategy[Any]] = {"binary_data": st.booleans()}
        if fault == "outputs":
            optional["classification"] = st.integers(0, 2)
        entry = st.fixed_dictionaries(
            {"name": names}, optional={"parameters": st.fixed_dictionaries({}, optional=optional)}
        )
        request["outputs"] = draw(
            st.lists(st.one_of(entry, scalar), max_size=3)
            if fault == "outputs"
            else st.lists(entry, max_size=2, unique_by=str)
        )
    document: object = request
    if fault == "top":
        document = draw(
            st.sampled_from(
                [[], "x", 3, None, {}, {"inputs": {}}, {"inputs": None}, {"inputs": "input"}, {"input": inputs}]
            )
        )
    head = json.dumps(document).encode()
    if fault == "deep":
        levels = draw(st.sampled_from([64, 1_000, 100_000]))
        nested = draw(st.sampled_from(["[" * levels + "]" * levels, '{"a":' * levels + "0" + "}" * levels]))
        placeholder = json.dumps(DEEP).encode()
        head = head.replace(placeholder, nested.encode()) if placeholder in head else nested.encode()
    headers = {"Content-Type": "application/json"}
    if as_binary:
        length = str(len(head))
        if fault == "binary-size" and draw(st.booleans()):
            length = draw(
                st.one_of(
                    st.integers(-1, len(head) + len(binary) + 2).map(str), st.sampled_from(["", "x", "1.5", "+3"])
                )
            )
        headers = {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": length}
    path = (
        draw(st.sampled_from(PATHS)) if fault == "path" else draw(st.sampled_from([INFER, f"{MODEL}/versions/1/infer"]))
    )
    body = head + binary
    if fault == "encoding" or draw(st.integers(0, 7)) == 0:  # also on top of another fault: the same answer
        body = _encoded(draw, headers, body)
    if fault == "head":
        _oversized(draw, headers)
    return path, headers, body


def _encoded(draw: st.DrawFn, headers: dict[str, str], body: bytes) -> bytes:
    """`body` compressed as gzip or deflate, valid, truncated, mislabelled, or padded past the body limit."""
    encoding = draw(st.sampled_from(["gzip", "deflate", "GZIP", "Deflate", "identity", "br", "gzip, deflate"]))
    headers["Content-Encoding"] = encoding
    if encoding.strip().lower() not in ("gzip", "deflate"):
        return body
    pack = gzip.compress if encoding.strip().lower() == "gzip" else zlib.compress
    kind = draw(st.sampled_from(["valid", "at-the-limit", "truncated", "plain", "bomb", "bomb", "garbage"]))
    if kind == "plain":
        return body  # labelled compressed, sent as it is
    if kind == "garbage":
        return draw(st.binary(min_size=1, max_size=16))
    if kind in ("bomb", "at-the-limit"):
        # JSON allows trailing spaces: the request inflating to just past the server's limit, or to exactly it.
        limit = MAX_BODY_MIB * 2**20
        return pack(body + b" " * (limit - len(body) + (kind == "bomb")))
    packed = pack(body)
    return packed[: draw(st.integers(0, len(packed) - 1))] if kind == "truncated" else packed


def _oversized(draw: st.DrawFn, headers: dict[str, str]) -> None:
    """A request head past the server's limits (32 KiB, 100 fields), or a header count of thousands of digits."""
    kind = draw(st.sampled_from(["long", "many", "digits"]))
    if kind == "long":
        headers["x-pad"] = "a" * draw(st.integers(32 * 2**10, 40 * 2**10))
    elif kind == "many":
        headers.update({f"x-h{i}": "v" for i in range(draw(st.integers(100, 120)))})
    else:
        headers["Inference-Header-Content-Length"] = "9" * draw(st.integers(20, 5_000))
        headers["Content-Type"] = "application/octet-stream"


def _floats(draw: st.DrawFn, size: int) -> bytes:
    if size > 4 * 4 * FEATURES:
        return bytes(size)
    return struct.pack(f"<{size // 4}f", *_tiled(draw, size // 4)) + bytes(size % 4)


def _tiled(draw: st.DrawFn, count: int) -> list[float]:
    """`count` finite FP32 values: up to 8 drawn ones, repeated. Drawing each of hundreds of elements was most of
    the test's time, and what the server does with a tensor does not depend on how many distinct values it holds."""
    few = draw(st.lists(finite, min_size=1, max_size=8))
    return (few * (count // len(few) + 1))[:count]


def test_oip_infer_fuzz_answers_200_or_a_4xx_with_an_error_message(served: tuple[Server, str]) -> None:
    srv, key = served
    pids = worker_pids(srv, ENDPOINT, "triton")
    auth = {"Authorization": f"Bearer {key}"}
    statuses: Counter[int] = Counter()
    with srv.client() as http:

        @hypothesis.given(request=infer_request())
        @hypothesis.settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        def fuzz(request: tuple[str, dict[str, str], bytes]) -> None:
            path, headers, body = request
            answer = http.post(path, content=body, headers={**auth, **headers})
            statuses[check_answer(answer, f"{path} {body[:300]!r}")] += 1

        fuzz()
        # The model ran for some of them, and the same worker answered every request: nothing crashed it.
        assert statuses[200] > 0 and sum(s for c, s in statuses.items() if 400 <= c < 500) > 0, statuses
        assert worker_pids(srv, ENDPOINT, "triton") == pids
        sample = http.post(INFER, content=(TRITON / "sample-request.json").read_bytes(), headers=auth)
        assert sample.status_code == 200, sample.text
        assert {o["name"]: o["data"] for o in sample.json()["outputs"]}["label"] == [3, 7]


def check_answer(answer: httpx.Response, sent: str) -> int:
    """200, or a 4xx with a JSON `error` message; the status the worker answered with."""
    what = f"{sent}: {answer.status_code} {answer.content[:300]!r}"
    status = answer.status_code
    if status == 424:  # the front end's wrapping of the deployment's non-200 answer
        status = int(answer.headers["ms-azureml-model-error-statuscode"])
    assert status == 200 or 400 <= status < 500, what
    if status == 200:
        if answer.headers["content-type"] == "application/octet-stream":
            size = int(answer.headers["inference-header-content-length"])
            head = json.loads(answer.content[:size])
            sizes = [o.get("parameters", {}).get("binary_data_size", 0) for o in head["outputs"]]
            assert sum(sizes) == len(answer.content) - size, what
        else:
            head = answer.json()
        assert head["model_name"] == "digits" and head["outputs"], what
    else:
        # The worker's answers carry OIP's `error`; the front end's own (a body or head past its limits) Azure's
        # `message`.
        error = answer.json()
        key = "error" if answer.status_code == 424 else "message"
        assert isinstance(error, dict) and isinstance(error.get(key), str) and error[key], what
    return status

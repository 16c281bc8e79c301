"""One OIP v2 inference: decode the request (JSON or binary tensor extension), run the session, encode the answer."""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

import numpy as np

from runtime.ipc.messages import Headers, Infer, Result
from runtime.worker.triton import tensors
from runtime.worker.triton.repository import Model, ModelVersion

_HEADER_LENGTH = "inference-header-content-length"


class OIPError(Exception):
    """A request the protocol rejects, with its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def infer(req: Infer, model: Model, version: ModelVersion) -> Result:
    """Run one inference request against a loaded model version."""
    headers = {name.lower(): value for name, value in req.headers}
    body = _decompress(req.body, headers.get("content-encoding", ""))
    head, binary = _split_body(body, headers.get(_HEADER_LENGTH))
    try:
        request = json.loads(head)
    except ValueError as exc:
        raise OIPError(400, f"failed to parse the request JSON buffer: {exc}") from None
    if not isinstance(request, dict) or not isinstance(request.get("inputs"), list):
        raise OIPError(400, "the request JSON must be an object with an 'inputs' list")

    feeds = _decode_inputs(model, version, request["inputs"], binary)
    names, binary_flags = _requested_outputs(model, version, request)
    try:
        values = version.session.run(names, feeds)
    except Exception as exc:
        # onnxruntime's InvalidArgument covers what validation above cannot see (e.g. a shape inside the graph).
        status = 400 if type(exc).__name__ == "InvalidArgument" else 500
        raise OIPError(status, f"onnxruntime failed to run model '{model.name}': {exc}") from None

    outputs: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    for name, value, as_binary in zip(names, values, binary_flags, strict=True):
        array = np.asarray(value)
        out: dict[str, Any] = {"name": name, "datatype": tensors.datatype_of(array), "shape": list(array.shape)}
        if as_binary:
            raw = tensors.to_binary(array)
            out["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        else:
            out["data"] = tensors.to_json(array)
        outputs.append(out)
    response: dict[str, Any] = {"model_name": model.name, "model_version": str(version.version)}
    if "id" in request:
        response["id"] = request["id"]
    response["outputs"] = outputs
    text = json.dumps(response, separators=(",", ":")).encode()
    if not chunks:
        return json_bytes(req.id, 200, text)
    payload = b"".join([text, *chunks])
    result_headers: Headers = [
        ("Content-Type", "application/octet-stream"),
        ("Inference-Header-Content-Length", str(len(text))),
        ("Content-Length", str(len(payload))),
    ]
    return Result(req.id, 200, result_headers, payload)


def _decompress(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    try:
        if encoding == "gzip":
            return gzip.decompress(body)
        if encoding == "deflate":
            return zlib.decompress(body)
    except (OSError, zlib.error, EOFError) as exc:
        raise OIPError(400, f"cannot decompress the {encoding} request body: {exc}") from None
    if encoding not in ("", "identity"):
        raise OIPError(400, f"unsupported Content-Encoding {encoding!r}; use gzip or deflate")
    return body


def _split_body(body: bytes, header_length: str | None) -> tuple[bytes, memoryview]:
    if header_length is None:
        return body, memoryview(b"")
    try:
        size = int(header_length)
    except ValueError:
        raise OIPError(400, f"Inference-Header-Content-Length {header_length!r} is not an integer") from None
    if not 0 <= size <= len(body):
        raise OIPError(400, f"Inference-Header-Content-Length {size} exceeds the body of {len(body)} bytes")
    return body[:size], memoryview(body)[size:]


def _decode_inputs(
    model: Model, version: ModelVersion, inputs: list[Any], binary: memoryview
) -> dict[str, np.ndarray[Any, Any]]:
    specs = {spec.name: spec for spec in version.inputs}
    given = [str(item.get("name")) if isinstance(item, dict) else "?" for item in inputs]
    for name in given:
        if name not in specs:
            raise OIPError(400, f"unexpected inference input '{name}' for model '{model.name}'")
    missing = [name for name in specs if name not in given]
    if missing:
        raise OIPError(
            400,
            f"expected {len(specs)} inputs but got {len(given)} inputs for model '{model.name}'. Got input(s) "
            f"{given}, but missing required input(s) {missing}. Please provide all required input(s).",
        )
    feeds: dict[str, np.ndarray[Any, Any]] = {}
    offset = 0
    for item in inputs:
        spec = specs[item["name"]]
        datatype, shape = item.get("datatype"), item.get("shape")
        if datatype != spec.datatype:
            raise OIPError(
                400,
                f"inference input '{spec.name}' data-type is '{datatype}', but model '{model.name}' expects "
                f"'{spec.datatype}'",
            )
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise OIPError(400, f"input '{spec.name}' needs a 'shape' list of non-negative integers, got {shape!r}")
        if len(shape) != len(spec.shape) or any(e not in (-1, d) for e, d in zip(spec.shape, shape, strict=True)):
            raise OIPError(
                400,
                f"unexpected shape for input '{spec.name}' for model '{model.name}'. Expected "
                f"{_dims(spec.shape)}, got {_dims(shape)}",
            )
        if model.max_batch_size > 0 and shape and shape[0] > model.max_batch_size:
            raise OIPError(
                400,
                f"inference request batch-size must be <= {model.max_batch_size} for '{model.name}', got {shape[0]}",
            )
        size = (item.get("parameters") or {}).get("binary_data_size")
        if size is not None:
            if not isinstance(size, int) or size < 0 or offset + size > len(binary):
                raise OIPError(400, f"input '{spec.name}' declares binary_data_size {size!r} beyond the body")
            array = tensors.from_binary(spec.name, datatype, shape, binary[offset : offset + size])
            offset += size
        elif "data" in item:
            array = tensors.from_json(spec.name, datatype, shape, item["data"])
        else:
            raise OIPError(400, f"input '{spec.name}' has neither 'data' nor parameters.binary_data_size")
        feeds[spec.name] = tensors.for_onnx(array)
    if offset != len(binary):
        raise OIPError(400, f"unexpected additional input data for model '{model.name}'")
    return feeds


def _requested_outputs(model: Model, version: ModelVersion, request: dict[str, Any]) -> tuple[list[str], list[bool]]:
    default_binary = bool((request.get("parameters") or {}).get("binary_data_output", False))
    known = [spec.name for spec in version.outputs]
    wanted = request.get("outputs")
    if not wanted:
        return known, [default_binary] * len(known)
    if not isinstance(wanted, list):
        raise OIPError(400, "'outputs' must be a list")
    names: list[str] = []
    flags: list[bool] = []
    for item in wanted:
        name = item.get("name") if isinstance(item, dict) else None
        if name not in known:
            raise OIPError(400, f"unexpected inference output '{name}' for model '{model.name}'")
        params = item.get("parameters") or {}
        if params.get("classification"):
            raise OIPError(400, "the classification extension is not supported")
        names.append(name)
        flags.append(bool(params.get("binary_data", default_binary)))
    return names, flags


def _dims(shape: list[int]) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


def json_bytes(rid: int, status: int, body: bytes) -> Result:
    """A Result carrying a JSON body."""
    return Result(rid, status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))], body)

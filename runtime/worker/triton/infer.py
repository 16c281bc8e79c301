"""One OIP v2 inference: decode the request (JSON or binary tensor extension), run the session, encode the answer."""

from __future__ import annotations

import json
import logging
import traceback
import zlib
from collections.abc import Sequence
from typing import Any

import msgspec
import numpy as np

from runtime.errors import Code
from runtime.ipc.messages import Failure, Headers, Infer, Result
from runtime.worker.triton import tensors
from runtime.worker.triton.repository import Model, ModelVersion

logger = logging.getLogger("modelyard.triton")

_HEADER_LENGTH = "inference-header-content-length"


#: The body limit when the control process names none (Infer.max_body 0): the server's default.
DEFAULT_MAX_BODY = 100 * 2**20
#: Inflated bytes produced per step, so a compressed body never grows past the cap by more than this.
_INFLATE_STEP = 1 << 20


class OIPError(Exception):
    """A request the protocol rejects, with its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class BodyTooLarge(Exception):
    """A compressed body inflates past the server's body limit (the front end answers 413)."""


class Decoded(msgspec.Struct, frozen=True):
    """A request checked against the model and decoded, ready to run: the feeds and what to answer with."""

    rid: int
    feeds: dict[str, np.ndarray[Any, Any]]
    names: list[str]  #: the outputs asked for, in the order the answer lists them
    binary: list[bool]  #: per output: sent in the binary extension
    request_id: str | None  #: the request's JSON "id", echoed back; None when it had none


def decode(req: Infer, model: Model, version: ModelVersion) -> Decoded:
    """Check and decode one inference request; OIPError (or BodyTooLarge, TensorError) says what is wrong."""
    headers = {name.lower(): value for name, value in req.headers}
    body = _decompress(req.body, headers.get("content-encoding", ""), req.max_body or DEFAULT_MAX_BODY)
    head, binary = _split_body(body, headers.get(_HEADER_LENGTH))
    try:
        request = json.loads(head)
    except ValueError as exc:
        raise OIPError(400, f"failed to parse the request JSON buffer: {exc}") from None
    except RecursionError:
        raise OIPError(400, "failed to parse the request JSON buffer: it is nested too deeply") from None
    if not isinstance(request, dict) or not isinstance(request.get("inputs"), list):
        raise OIPError(400, "the request JSON must be an object with an 'inputs' list")
    _parameters(request, "the request")
    if "id" in request and not isinstance(request["id"], str):
        raise OIPError(400, f"the request 'id' must be a string, got {_kind(request['id'])}")

    feeds = _decode_inputs(model, version, request["inputs"], binary, len(body))
    names, binary_flags = _requested_outputs(model, version, request)
    return Decoded(req.id, feeds, names, binary_flags, request.get("id"))


def run(model: Model, session: Any, feeds: dict[str, np.ndarray[Any, Any]], names: list[str]) -> list[Any]:
    """session.run, its exceptions turned into OIPError: 400 for onnxruntime's InvalidArgument, else 500."""
    try:
        return list(session.run(names, feeds))
    except Exception as exc:
        # onnxruntime's InvalidArgument covers what validation above cannot see (e.g. a shape inside the graph).
        status = 400 if type(exc).__name__ == "InvalidArgument" else 500
        raise OIPError(status, f"onnxruntime failed to run model '{model.name}': {exc}") from None


def encode(decoded: Decoded, model: Model, version: ModelVersion, values: Sequence[Any]) -> Result:
    """The answer to a decoded request from its output values, in the order of `decoded.names`."""
    outputs: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    for name, value, as_binary in zip(decoded.names, values, decoded.binary, strict=True):
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
    if decoded.request_id is not None:
        response["id"] = decoded.request_id
    response["outputs"] = outputs
    text = json.dumps(response, separators=(",", ":")).encode()
    if not chunks:
        return json_bytes(decoded.rid, 200, text)
    payload = b"".join([text, *chunks])
    result_headers: Headers = [
        ("Content-Type", "application/octet-stream"),
        ("Inference-Header-Content-Length", str(len(text))),
        ("Content-Length", str(len(payload))),
    ]
    return Result(decoded.rid, 200, result_headers, payload)


def _decompress(body: bytes, encoding: str, limit: int) -> bytes:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding == "gzip":
        wbits = 16 + zlib.MAX_WBITS
    elif encoding == "deflate":
        wbits = zlib.MAX_WBITS
    else:
        raise OIPError(400, f"unsupported Content-Encoding {encoding!r}; use gzip, deflate or identity")
    # Inflated in bounded steps: a small body that expands to gigabytes is refused once it passes the limit,
    # before it has cost more than the limit in memory.
    inflater = zlib.decompressobj(wbits)
    parts: list[bytes] = []
    size = 0
    pending = body
    try:
        while True:
            chunk = inflater.decompress(pending, _INFLATE_STEP)
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(
                    f"the {encoding} request body inflates to more than this server's body limit of "
                    f"{_mib(limit)}; send less data, or start the server with a larger --max-body-mib"
                )
            parts.append(chunk)
            pending = inflater.unconsumed_tail
            if inflater.eof or not (pending or chunk):
                break
    except zlib.error as exc:
        raise OIPError(400, f"cannot decompress the {encoding} request body: {exc}") from None
    if not inflater.eof:
        raise OIPError(400, f"cannot decompress the {encoding} request body: it is truncated")
    return b"".join(parts)


def _mib(limit: int) -> str:
    return f"{limit // 2**20} MiB" if limit >= 2**20 else f"{limit} bytes"


def _split_body(body: bytes, header_length: str | None) -> tuple[bytes, memoryview]:
    if header_length is None:
        return body, memoryview(b"")
    # ASCII digits only: int() would also take "1_0", " 10 ", "+3" and other digits of Unicode.
    if not (header_length.isascii() and header_length.isdigit()):
        raise OIPError(
            400,
            f"Inference-Header-Content-Length {header_length!r} is not a byte count: it must be the length of the "
            "JSON part of the body, in ASCII digits 0-9 only",
        )
    # Compared as text first: a count of thousands of digits is larger than any body, and int() refuses it.
    if len(header_length.lstrip("0")) > len(str(len(body))) or int(header_length) > len(body):
        raise OIPError(400, f"Inference-Header-Content-Length {header_length} exceeds the body of {len(body)} bytes")
    size = int(header_length)
    return body[:size], memoryview(body)[size:]


def _decode_inputs(
    model: Model, version: ModelVersion, inputs: list[Any], binary: memoryview, body_size: int
) -> dict[str, np.ndarray[Any, Any]]:
    specs = {spec.name: spec for spec in version.inputs}
    for index, item in enumerate(inputs):
        if not isinstance(item, dict):
            what = f"inputs[{index}] must be a JSON object with name, datatype and shape"
            raise OIPError(400, f"{what}, got {_kind(item)}")
        if not isinstance(item.get("name"), str):
            raise OIPError(400, f"inputs[{index}] needs a 'name' string, got {_kind(item.get('name'))}")
    given = [item["name"] for item in inputs]
    for name in given:
        if name not in specs:
            raise OIPError(400, f"unexpected inference input '{name}' for model '{model.name}'")
    if len(set(given)) != len(given):
        twice = sorted({name for name in given if given.count(name) > 1})
        raise OIPError(400, f"input(s) {twice} are given more than once for model '{model.name}'")
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
        # bool is an int to Python; `[true, 64]` is not a shape.
        if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
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
        # Every element takes at least one byte of the body, so a larger shape cannot be what was sent; checking
        # first keeps a shape like [2**40] from sizing anything.
        count = tensors.element_count(shape)
        if count > body_size:
            raise OIPError(
                400,
                f"input '{spec.name}' has shape {_dims(shape)} ({count} elements), more than a request body of "
                f"{body_size} bytes can hold",
            )
        size = _parameters(item, f"input '{spec.name}'").get("binary_data_size")
        if size is not None:
            if type(size) is not int or size < 0 or offset + size > len(binary):
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
    default_binary = _flag(_parameters(request, "the request"), "binary_data_output", "the request", False)
    known = [spec.name for spec in version.outputs]
    wanted = request.get("outputs")
    if not wanted:
        return known, [default_binary] * len(known)
    if not isinstance(wanted, list):
        raise OIPError(400, f"'outputs' must be a list of objects with a 'name', got {_kind(wanted)}")
    names: list[str] = []
    flags: list[bool] = []
    for item in wanted:
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or name not in known:
            raise OIPError(400, f"unexpected inference output '{name}' for model '{model.name}'; it has {known}")
        params = _parameters(item, f"output '{name}'")
        if params.get("classification"):
            raise OIPError(400, "the classification extension is not supported")
        names.append(name)
        flags.append(_flag(params, "binary_data", f"output '{name}'", default_binary))
    return names, flags


def _parameters(item: dict[str, Any], where: str) -> dict[str, Any]:
    """The `parameters` object of the request, an input or an output; {} when absent."""
    params = item.get("parameters")
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise OIPError(400, f"'parameters' of {where} must be a JSON object, got {_kind(params)}")
    return params


def _flag(params: dict[str, Any], name: str, where: str, default: bool) -> bool:
    value = params.get(name, default)
    if not isinstance(value, bool):
        raise OIPError(400, f"parameter '{name}' of {where} must be true or false, got {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    """A JSON value's type as the error messages name it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _dims(shape: list[int]) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


def error_answer(rid: int, exc: Exception) -> Result | Failure:
    """The answer to a request that raised: the protocol's `{"error": ...}` with its status, a Failure for a body
    over the limit (the front end answers 413)."""
    if isinstance(exc, BodyTooLarge):
        return Failure(rid, Code.TOO_LARGE.value, str(exc))
    if isinstance(exc, OIPError):
        return _error(rid, exc.status, exc.message)
    if isinstance(exc, tensors.TensorError):
        return _error(rid, 400, str(exc))
    logger.error("Request %d failed: %s", rid, "".join(traceback.format_exception(exc)))
    return _error(rid, 500, f"internal error: {type(exc).__name__}: {exc}")


def _error(rid: int, status: int, message: str) -> Result:
    return json_bytes(rid, status, json.dumps({"error": message}, separators=(",", ":")).encode())


def json_bytes(rid: int, status: int, body: bytes) -> Result:
    """A Result carrying a JSON body."""
    return Result(rid, status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))], body)

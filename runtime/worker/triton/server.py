"""The Open Inference Protocol v2 REST routes for a loaded Triton repository, as `tritonclient[http]` expects.

Routes (relative to the endpoint): GET /v2, /v2/health/live, /v2/health/ready, /v2/models/<m>[/versions/<v>]
(metadata), .../ready, .../config; POST .../infer (JSON tensors or the binary tensor extension) and
/v2/repository/index. Errors are `{"error": "..."}`: 404 for an unknown model or version, 400 for a bad request.
"""

from __future__ import annotations

import gzip
import json
import logging
import traceback
import zlib
from typing import Any

import numpy as np

from runtime import __version__
from runtime.ipc.messages import Headers, Infer, Load, Result
from runtime.worker.triton import tensors
from runtime.worker.triton.repository import ONNX_PLATFORM, Model, ModelVersion, TensorSpec, load_repository
from runtime.worker.triton.tensors import TensorError

logger = logging.getLogger("modelyard.triton")

_HEADER_LENGTH = "inference-header-content-length"
_SERVER_METADATA = {"name": "modelyard", "version": __version__, "extensions": ["binary_tensor_data"]}


class OIPError(Exception):
    """A request the protocol rejects, with its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class TritonAdapter:
    """Serves a Triton model repository of ONNX models over OIP v2."""

    mode = "triton"

    def __init__(self, repository: dict[str, Model]) -> None:
        self.repository = repository
        self.models: list[str] = sorted(repository)

    def handle(self, req: Infer) -> Result:
        """Answer one OIP request; every failure becomes an `{"error": ...}` response."""
        try:
            return self._route(req)
        except OIPError as exc:
            return _json(req.id, exc.status, {"error": exc.message})
        except TensorError as exc:
            return _json(req.id, 400, {"error": str(exc)})
        except Exception as exc:
            logger.error("Request %s %s failed: %s", req.method, req.path, traceback.format_exc())
            return _json(req.id, 500, {"error": f"internal error: {type(exc).__name__}: {exc}"})

    def _route(self, req: Infer) -> Result:
        parts = req.path.split("/")[1:]
        if parts[:1] != ["v2"]:
            raise OIPError(404, "Not Found")
        rest = parts[1:]
        if not rest:
            _expect(req, "GET")
            return _json(
                req.id, 200, {"name": "modelyard", "version": __version__, "extensions": ["binary_tensor_data"]}
            )
        if rest in (["health", "live"], ["health", "ready"]):
            _expect(req, "GET")
            return _empty(req.id)
        if rest == ["repository", "index"]:
            _expect(req, "POST")
            index = [
                {"name": m.name, "version": str(v), "state": "READY"}
                for m in self.repository.values()
                for v in sorted(m.versions)
            ]
            return _json(req.id, 200, index)
        if rest[0] != "models" or len(rest) < 2:
            raise OIPError(404, "Not Found")
        model, version, action = self._target(rest[1:])
        if action == "":
            _expect(req, "GET")
            return _json(req.id, 200, _metadata(model, version))
        if action == "ready":
            _expect(req, "GET")
            return _empty(req.id)
        if action == "config":
            _expect(req, "GET")
            return _json(req.id, 200, _config(model, version))
        if action == "infer":
            _expect(req, "POST")
            return _infer(req, model, version)
        raise OIPError(404, "Not Found")

    def _target(self, rest: list[str]) -> tuple[Model, ModelVersion, str]:
        name = rest[0]
        model = self.repository.get(name)
        if model is None:
            raise OIPError(404, f"Request for unknown model: '{name}' is not found")
        rest = rest[1:]
        version = model.latest
        if rest[:1] == ["versions"]:
            if len(rest) < 2:
                raise OIPError(404, "Not Found")
            wanted = rest[1]
            found = model.versions.get(int(wanted)) if wanted.isdigit() else None
            if found is None:
                raise OIPError(404, f"Request for unknown model: '{name}' version {wanted} is not found")
            version, rest = found, rest[2:]
        if len(rest) > 1:
            raise OIPError(404, "Not Found")
        return model, version, rest[0] if rest else ""


def load_repository_adapter(load: Load) -> TritonAdapter:
    """Open every model of the Load's repository and return the adapter serving them."""
    if not load.model_repository:
        raise ValueError("a triton Load needs model_repository")
    return TritonAdapter(load_repository(load.model_repository, load.threads))


def _expect(req: Infer, method: str) -> None:
    if req.method != method:
        raise OIPError(405, f"Method {req.method} is not allowed for {req.path}; use {method}")


def _metadata(model: Model, version: ModelVersion) -> dict[str, Any]:
    return {
        "name": model.name,
        "versions": [str(v) for v in sorted(model.versions)],
        "platform": ONNX_PLATFORM,
        "inputs": [spec.metadata() for spec in version.inputs],
        "outputs": [spec.metadata() for spec in version.outputs],
    }


def _config(model: Model, version: ModelVersion) -> dict[str, Any]:
    def entry(spec: TensorSpec) -> dict[str, Any]:
        dims = spec.shape[1:] if model.max_batch_size > 0 else spec.shape
        data_type = "TYPE_STRING" if spec.datatype == "BYTES" else f"TYPE_{spec.datatype}"
        return {"name": spec.name, "data_type": data_type, "dims": dims}

    return {
        "name": model.name,
        "platform": ONNX_PLATFORM,
        "backend": "onnxruntime",
        "max_batch_size": model.max_batch_size,
        "input": [entry(s) for s in version.inputs],
        "output": [entry(s) for s in version.outputs],
    }


def _infer(req: Infer, model: Model, version: ModelVersion) -> Result:
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
        return _json_bytes(req.id, 200, text)
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


def _json(rid: int, status: int, payload: Any) -> Result:
    return _json_bytes(rid, status, json.dumps(payload, separators=(",", ":")).encode())


def _json_bytes(rid: int, status: int, body: bytes) -> Result:
    return Result(rid, status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))], body)


def _empty(rid: int) -> Result:
    return Result(rid, 200, [("Content-Length", "0")], b"")

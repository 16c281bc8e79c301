"""The Open Inference Protocol v2 REST routes for a loaded Triton repository, as `tritonclient[http]` expects.

Routes (relative to the endpoint): GET /v2, /v2/health/live, /v2/health/ready, /v2/models/<m>[/versions/<v>]
(metadata), .../ready, .../config; POST .../infer (JSON tensors or the binary tensor extension) and
/v2/repository/index. Errors are `{"error": "..."}`: 404 for an unknown model or version, 400 for a bad request.
"""

from __future__ import annotations

import json
import logging
import traceback
from typing import Any

from runtime import __version__
from runtime.errors import Code
from runtime.ipc.messages import Failure, Infer, Load, ModelStats, Result
from runtime.worker.triton.batching import Pending, batch_of, pending
from runtime.worker.triton.counters import Counters
from runtime.worker.triton.executor import Executor
from runtime.worker.triton.infer import BodyTooLarge, OIPError, decode, encode, error_answer, json_bytes, run
from runtime.worker.triton.repository import ONNX_PLATFORM, Model, ModelVersion, TensorSpec, load_repository
from runtime.worker.triton.tensors import TensorError

logger = logging.getLogger("modelyard.triton")

_SERVER_METADATA = {"name": "modelyard", "version": __version__, "extensions": ["binary_tensor_data"]}


class TritonAdapter:
    """Serves a Triton model repository of ONNX models over OIP v2."""

    mode = "triton"

    def __init__(self, repository: dict[str, Model]) -> None:
        self.repository = repository
        self.models: list[str] = sorted(repository)
        self.counters = Counters()
        for model in repository.values():
            for version in model.versions:
                self.counters.declare(model.name, version, model.max_batch_size)
        #: some model batches or has several instances: the worker runs the scheduling loop (triton/dispatch.py)
        self.schedules = any(_scheduled(m) for m in repository.values())
        self.executor = Executor(repository, self.counters) if self.schedules else None

    def model_stats(self) -> list[ModelStats]:
        """Every model version's counts since the worker started."""
        return self.counters.snapshot()

    def admit(self, req: Infer, now: float) -> Result | Failure | Pending:
        """An inference for a scheduled model, decoded to wait for its run; any other request, answered."""
        target = self._scheduled_target(req)
        if target is None:
            return self.handle(req)
        model, version = target
        try:
            return pending(decode(req, model, version), model, version, now)
        except Exception as exc:
            self.counters.failed(model.name, version.version)
            return error_answer(req.id, exc)

    def handle(self, req: Infer) -> Result | Failure:
        """Answer one OIP request; a failure becomes an `{"error": ...}` response, a body over the limit a Failure."""
        try:
            return self._route(req)
        except BodyTooLarge as exc:
            return Failure(req.id, Code.TOO_LARGE.value, str(exc))
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
            return self._infer(req, model, version)
        raise OIPError(404, "Not Found")

    def _infer(self, req: Infer, model: Model, version: ModelVersion) -> Result:
        try:
            decoded = decode(req, model, version)
            values = run(model, version.session, decoded.feeds, decoded.names)
            samples = (batch_of(decoded.feeds) or 0) if model.max_batch_size > 0 else 1
            self.counters.executed(model.name, version.version, samples)
            result = encode(decoded, model, version, values)
        except Exception:
            self.counters.failed(model.name, version.version)
            raise
        self.counters.succeeded(model.name, version.version, samples)
        return result

    def _scheduled_target(self, req: Infer) -> tuple[Model, ModelVersion] | None:
        parts = req.path.split("/")[1:]
        if not self.schedules or req.method != "POST" or parts[:2] != ["v2", "models"] or parts[-1:] != ["infer"]:
            return None
        try:
            model, version, action = self._target(parts[2:])
        except OIPError:
            return None  # handle() answers the 404
        return (model, version) if action == "infer" and _scheduled(model) else None

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
            found = model.versions.get(int(wanted)) if wanted.isascii() and wanted.isdigit() else None
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


def _scheduled(model: Model) -> bool:
    return model.policy.stacks or model.policy.instances > 1


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


def _json(rid: int, status: int, payload: Any) -> Result:
    return json_bytes(rid, status, json.dumps(payload, separators=(",", ":")).encode())


def _empty(rid: int) -> Result:
    return Result(rid, 200, [("Content-Length", "0")], b"")

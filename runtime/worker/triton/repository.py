"""A Triton model repository of ONNX models: `<repo>/<model>/[config.pbtxt]` and `<repo>/<model>/<version>/model.onnx`.

Every integer version folder is loaded (a `version_policy` in config.pbtxt narrows that); requests without a
version go to the highest. Tensor names, datatypes and shapes come from the ONNX graph, refined by config.pbtxt
where it declares them (Triton's `max_batch_size > 0` prefixes a -1 batch dimension to `dims`).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from runtime.errors import SpecError
from runtime.worker.triton import pbtxt
from runtime.worker.triton.policy import BatchPolicy, parse_policy
from runtime.worker.triton.tensors import ORT_TYPES, config_datatype

logger = logging.getLogger("modelyard.triton")

ONNX_PLATFORM = "onnxruntime_onnx"


class RepositoryError(Exception):
    """The repository cannot be served; the message names the model and the problem."""


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """One model input or output: OIP datatype and shape, -1 for a dynamic dimension."""

    name: str
    datatype: str
    shape: list[int]

    def metadata(self) -> dict[str, Any]:
        """The tensor as OIP model metadata lists it."""
        return {"name": self.name, "datatype": self.datatype, "shape": self.shape}


@dataclass(slots=True)
class ModelVersion:
    """One loaded version: its onnxruntime sessions (one per instance) and tensor specs."""

    version: int
    session: Any  # onnxruntime.InferenceSession: the first instance, the one requests use unless they batch
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    #: every instance's session, `session` first (instance_group count of them)
    sessions: list[Any] = field(default_factory=list)


@dataclass(slots=True)
class Model:
    """A model of the repository with all its loaded versions."""

    name: str
    max_batch_size: int
    config: pbtxt.Message
    versions: dict[int, ModelVersion] = field(default_factory=dict)
    policy: BatchPolicy = field(default_factory=BatchPolicy)

    @property
    def latest(self) -> ModelVersion:
        """The version that serves requests naming no version."""
        return self.versions[max(self.versions)]


def load_repository(root: str, threads: int) -> dict[str, Model]:
    """Open every model of the repository with onnxruntime; raise RepositoryError on the first that fails."""
    if not os.path.isdir(root):
        raise RepositoryError(f"model repository {root!r} is not a directory")
    import onnxruntime  # only Triton workers pay for importing onnxruntime

    models: dict[str, Model] = {}
    for entry in sorted(os.listdir(root)):
        folder = os.path.join(root, entry)
        if not os.path.isdir(folder) or entry.startswith("."):
            continue
        model = _load_model(onnxruntime, folder, entry, threads)
        models[model.name] = model
    if not models:
        raise RepositoryError(f"model repository {root!r} holds no model folders")
    return models


def _load_model(ort: Any, folder: str, dirname: str, threads: int) -> Model:
    config = _read_config(folder, dirname)
    name = str(pbtxt.first(config, "name", dirname) or dirname)
    platform = pbtxt.first(config, "platform", "")
    backend = pbtxt.first(config, "backend", "")
    if (platform and platform != ONNX_PLATFORM) or (backend and backend != "onnxruntime"):
        raise RepositoryError(
            f"model {name!r}: platform {platform or backend!r} is not supported; modelyard serves ONNX models "
            f"({ONNX_PLATFORM})"
        )
    try:
        policy = parse_policy(name, config)
    except SpecError as exc:
        raise RepositoryError(f"{exc.message} ({os.path.join(folder, 'config.pbtxt')})") from exc
    model = Model(name, policy.max_batch_size, config, policy=policy)
    # The worker's intra-op threads are shared out between the instances, which run side by side.
    per_instance = max(1, threads // policy.instances)
    filename = str(pbtxt.first(config, "default_model_filename", "model.onnx"))
    wanted = _version_filter(config)
    found = sorted(
        int(v) for v in os.listdir(folder) if v.isascii() and v.isdigit() and os.path.isdir(os.path.join(folder, v))
    )
    for version in wanted(found):
        path = os.path.join(folder, str(version), filename)
        if os.path.isdir(path):  # ONNX with external data: Triton accepts a folder holding model.onnx
            path = os.path.join(path, "model.onnx")
        if not os.path.isfile(path):
            raise RepositoryError(f"model {name!r} version {version}: {path} does not exist")
        sessions = [_open_session(ort, path, per_instance, config) for _ in range(policy.instances)]
        session = sessions[0]
        inputs = _specs(name, "input", session.get_inputs(), config, model.max_batch_size)
        outputs = _specs(name, "output", session.get_outputs(), config, model.max_batch_size)
        model.versions[version] = ModelVersion(version, session, inputs, outputs, sessions)
        logger.info(
            "Loaded model %s version %d from %s (%d instance(s), %s)",
            name,
            version,
            path,
            policy.instances,
            f"dynamic batching up to {policy.max_batch_size}" if policy.stacks else "no dynamic batching",
        )
    if not model.versions:
        raise RepositoryError(f"model {name!r} has no version folder (e.g. {folder}/1/{filename})")
    return model


def _read_config(folder: str, dirname: str) -> pbtxt.Message:
    path = os.path.join(folder, "config.pbtxt")
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as f:
        try:
            return pbtxt.parse(f.read())
        except pbtxt.PbtxtError as exc:
            raise RepositoryError(f"model {dirname!r}: {path}: {exc}") from exc


def _version_filter(config: pbtxt.Message) -> Any:
    policy = pbtxt.first(config, "version_policy", {}) or {}
    if "specific" in policy:
        chosen = {int(v) for v in pbtxt.first(policy, "specific", {}).get("versions", [])}
        return lambda found: [v for v in found if v in chosen]
    if "latest" in policy:
        count = int(pbtxt.first(pbtxt.first(policy, "latest", {}), "num_versions", 1))
        return lambda found: found[-count:]
    return lambda found: found


def _providers(ort: Any, config: pbtxt.Message) -> list[str]:
    # The spawner puts a GPU worker's device in CUDA_VISIBLE_DEVICES; CPU workers get none or an empty one.
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").strip()
    kinds = {pbtxt.first(group, "kind", "") for group in config.get("instance_group", [])}
    on_gpu = visible not in ("", "-1") and kinds != {"KIND_CPU"}
    if on_gpu and "CUDAExecutionProvider" in ort.get_available_providers():
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def _open_session(ort: Any, path: str, threads: int, config: pbtxt.Message) -> Any:
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    try:
        return ort.InferenceSession(path, sess_options=options, providers=_providers(ort, config))
    except Exception as exc:
        raise RepositoryError(f"onnxruntime cannot open {path}: {exc}") from exc


def _specs(model: str, kind: str, args: list[Any], config: pbtxt.Message, max_batch: int) -> list[TensorSpec]:
    declared = {pbtxt.first(entry, "name", ""): entry for entry in config.get(kind, [])}
    names = [arg.name for arg in args]
    unknown = sorted(set(declared) - set(names))
    if unknown:
        raise RepositoryError(
            f"model {model!r}: config.pbtxt declares {kind}(s) {unknown} that the ONNX graph lacks; it has {names}"
        )
    specs: list[TensorSpec] = []
    for arg in args:
        datatype = ORT_TYPES.get(arg.type, arg.type)
        shape = [dim if isinstance(dim, int) and dim >= 0 else -1 for dim in (arg.shape or [])]
        entry = declared.get(arg.name)
        if entry is not None:
            if "data_type" in entry:
                declared_type = config_datatype(str(pbtxt.first(entry, "data_type")))
                if declared_type != datatype:
                    raise RepositoryError(
                        f"model {model!r}: config.pbtxt gives {kind} {arg.name!r} data_type {declared_type}, "
                        f"but the ONNX graph has {datatype}"
                    )
            if "dims" in entry:
                shape = ([-1] if max_batch > 0 else []) + [int(d) for d in entry["dims"]]
        specs.append(TensorSpec(arg.name, datatype, shape))
    return specs

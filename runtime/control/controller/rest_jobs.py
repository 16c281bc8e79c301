"""The REST form of a batch invoke (`POST /batch-endpoints/<e>/jobs`, azure-contract §5.4).

Azure's SDK sends the body in camelCase (`inputData`, `jobInputType`, `uri`), its docs show PascalCase
(`InputData`, `JobInputType`, `Uri`); both are read, into the same `InvokeRequest` the CLI sends.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from runtime.control.controller.jobs import InvokeRequest
from runtime.errors import SpecError

_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?", re.IGNORECASE)


def _get(obj: Any, name: str) -> Any:
    """`obj[name]` in camelCase or PascalCase; None when absent."""
    if not isinstance(obj, dict):
        return None
    if name in obj:
        return obj[name]
    return obj.get(name[0].upper() + name[1:])


def duration_s(text: object) -> int:
    """Whole seconds of an ISO 8601 duration (`PT30S`, `PT1M30S`) or a number; SpecError otherwise."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return int(text)
    match = _DURATION.fullmatch(str(text).strip())
    if not match or not any(match.groups()):
        raise SpecError(f"retrySettings.timeout {text!r} is not an ISO 8601 duration such as PT30S")
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return int(days * 86400 + hours * 3600 + minutes * 60 + seconds)


def invoke_from_rest(body: Any, deployment: str | None) -> InvokeRequest:
    """The InvokeRequest an Azure REST invoke body asks for; `deployment` is the azureml-model-deployment header."""
    props = _get(body, "properties")
    if not isinstance(props, dict):
        raise SpecError('the body must be a JSON object with "properties": {"inputData": {...}} (Azure\'s shape)')
    inputs = _get(props, "inputData")
    if not isinstance(inputs, dict) or len(inputs) != 1:
        raise SpecError('properties.inputData must name exactly one input: {"<name>": {"jobInputType", "uri"}}')
    (given,) = inputs.values()
    uri = _get(given, "uri")
    if not isinstance(uri, str) or not uri.strip():
        raise SpecError("properties.inputData.<name>.uri is required: a local path, file:// URL or azureml: asset")
    kind = _get(given, "jobInputType")
    if kind is not None and str(kind).lower() == "literal":
        raise SpecError("properties.inputData: Literal inputs are for pipeline deployments; use UriFolder or UriFile")
    overrides: list[str] = []
    name = _get(props, "outputFileName")
    if name is not None:
        overrides.append(f"output_file_name={name}")
    threshold = _get(props, "errorThreshold")
    if threshold is not None:
        overrides.append(f"error_threshold={threshold}")
    retry = _get(props, "retrySettings")
    if _get(retry, "maxRetries") is not None:
        overrides.append(f"retry_settings.max_retries={_get(retry, 'maxRetries')}")
    if _get(retry, "timeout") is not None:
        overrides.append(f"retry_settings.timeout={duration_s(_get(retry, 'timeout'))}")
    instances = _get(_get(props, "compute"), "instanceCount")
    if instances is not None:
        overrides.append(f"instance_count={instances}")
    output_path = None
    outputs = _get(props, "outputData")
    if isinstance(outputs, dict) and outputs:
        output_path = _get(next(iter(outputs.values())), "uri")
    size = _get(props, "miniBatchSize")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool)):
        raise SpecError(f"properties.miniBatchSize is {size!r}; it must be a whole number of files")
    fields = {
        "input": uri,
        "input_type": str(kind) if kind is not None else None,
        "deployment_name": deployment,
        "output_path": output_path,
        "mini_batch_size": size,
        "set": overrides,
        "job_name": _get(props, "name") or _get(body, "name"),
    }
    try:
        return msgspec.convert(fields, InvokeRequest)
    except msgspec.ValidationError as exc:  # e.g. a job name or output uri that is not a string
        raise SpecError(f"request body: {exc} (outputData.<name>.uri and name are strings)") from None

"""The batch deployment YAML in both of Azure's shapes (azure-contract §5.2), folded into one `BatchDeploymentSpec`.

Legacy files (no `type`) keep the settings at the top level; `type: model` files put them under `settings:`, and
azure-ai-ml folds top-level ones in there too. Both decode first into `BatchDeploymentFile`, so errors name the key
where the user wrote it, and then become the same spec with one `BatchSettings`.
"""

from __future__ import annotations

import enum
from typing import Any

import msgspec

from runtime.errors import SpecError
from runtime.spec._types import ScalarStr
from runtime.spec.batch_settings import (
    BatchRetrySettings,
    BatchSettings,
    Concurrency,
    ErrorThreshold,
    ExecutorKind,
    InstanceCount,
    LoggingLevel,
    MiniBatchSize,
    OutputAction,
    check_output_file_name,
)
from runtime.spec.compute import parse_compute_ref
from runtime.spec.deployment import CodeConfiguration, InlineEnvironment
from runtime.spec.model import InlineModel, ModelType, parse_model_ref
from runtime.spec.names import validate_name


class BatchDeploymentType(enum.StrEnum):
    """Azure's batch deployment kinds; only model deployments run here."""

    MODEL = "model"
    PIPELINE = "pipeline"


class JobResources(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The `resources:` block (azure-ai-ml's JobResourceConfiguration): nodes per job, and VM details ignored here."""

    instance_count: InstanceCount | None = None
    instance_type: str | None = None
    shm_size: str | None = None
    docker_args: str | None = None
    properties: dict[str, Any] = msgspec.field(default_factory=dict)


class _SettingKeys(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    # None means "not written here", so the two places a setting may be written can be told apart and merged.
    mini_batch_size: MiniBatchSize | None = None
    max_concurrency_per_instance: Concurrency | None = None
    error_threshold: ErrorThreshold | None = None
    retry_settings: BatchRetrySettings | None = None
    output_action: OutputAction | None = None
    output_file_name: str | None = None
    logging_level: LoggingLevel | None = None
    environment_variables: dict[str, ScalarStr] | None = None
    executor: ExecutorKind | None = None


_SETTING_KEYS = tuple(_SettingKeys.__struct_fields__)


class SettingsBlock(_SettingKeys, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The `settings:` block of a `type: model` deployment (ModelBatchDeploymentSettings)."""

    instance_count: InstanceCount | None = None


class BatchDeploymentFile(_SettingKeys, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A batch deployment file as written, in either shape; `to_spec` turns it into the spec the runtime keeps."""

    schema_: str | None = msgspec.field(default=None, name="$schema")
    name: str
    endpoint_name: str
    type: BatchDeploymentType | None = None
    description: str | None = None
    tags: dict[str, ScalarStr] = msgspec.field(default_factory=dict)
    properties: dict[str, ScalarStr] = msgspec.field(default_factory=dict)
    model: str | InlineModel | None = None
    code_configuration: CodeConfiguration | None = None
    environment: str | InlineEnvironment | None = None
    compute: str | None = None
    resources: JobResources | None = None
    settings: SettingsBlock | None = None
    # Read-only keys set by the service; accepted so that `batch-deployment show` output can be fed back.
    id: str | None = None
    provisioning_state: str | None = None


class BatchDeploymentSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A batch deployment: a model and its scoring script, run over a job's files with `settings` on a cluster."""

    name: str
    endpoint_name: str
    type: BatchDeploymentType = BatchDeploymentType.MODEL
    description: str | None = None
    tags: dict[str, ScalarStr] = msgspec.field(default_factory=dict)
    properties: dict[str, ScalarStr] = msgspec.field(default_factory=dict)
    model: str | InlineModel
    code_configuration: CodeConfiguration | None = None
    environment: str | InlineEnvironment | None = None
    compute: str  #: the cluster's name, whichever form the file used (`azureml:<name>`, a bare name or an ARM id)
    settings: BatchSettings = msgspec.field(default_factory=BatchSettings)


PIPELINE_REFUSED = (
    "pipeline deployments (pipeline components) are not supported locally; "
    "deploy a model with `type: model`, a model and a scoring script"
)


def to_spec(file: BatchDeploymentFile) -> BatchDeploymentSpec:
    """Fold the file's settings into one `BatchSettings` and check Azure's rules; SpecError names the $.path."""
    if file.type is BatchDeploymentType.PIPELINE:
        raise SpecError(f"$.type: {PIPELINE_REFUSED}")
    validate_name(file.name)
    validate_name(file.endpoint_name, where="$.endpoint_name")
    settings, prefix = _settings(file)
    check_output_file_name(settings.output_file_name, where=f"{prefix}output_file_name")
    if file.compute is None:
        raise SpecError("$.compute: required key is missing; name the cluster jobs run on, e.g. azureml:batch-cluster")
    try:
        compute = parse_compute_ref(file.compute)
    except SpecError as exc:
        raise SpecError(f"$.compute: {exc.message}") from None
    model = _model(file.model)
    _check_code(file, model)
    return BatchDeploymentSpec(
        name=file.name,
        endpoint_name=file.endpoint_name,
        description=file.description,
        tags=file.tags,
        properties=file.properties,
        model=model,
        code_configuration=file.code_configuration,
        environment=file.environment,
        compute=compute,
        settings=settings,
    )


def _settings(file: BatchDeploymentFile) -> tuple[BatchSettings, str]:
    """The merged settings, and the $.path prefix where a file of this shape keeps them."""
    root = {key: getattr(file, key) for key in _SETTING_KEYS if getattr(file, key) is not None}
    count = file.resources.instance_count if file.resources is not None else None
    if file.type is None:
        if file.settings is not None:
            # BatchDeploymentSchema has no `settings` field, so Azure refuses the block in this shape.
            raise SpecError(
                "$.settings: a settings block needs `type: model`; add `type: model`, "
                "or move its keys to the top level of the file"
            )
        if count is not None:
            root["instance_count"] = count
        return BatchSettings(**root), "$."
    block = file.settings or SettingsBlock()
    merged = {key: getattr(block, key) for key in (*_SETTING_KEYS, "instance_count") if getattr(block, key) is not None}
    for key, value in root.items():
        _merge(merged, key, value, f"$.{key}")
    if count is not None:
        _merge(merged, "instance_count", count, "$.resources.instance_count")
    return BatchSettings(**merged), "$.settings."


def _merge(merged: dict[str, Any], key: str, value: object, where: str) -> None:
    # azure-ai-ml folds top-level keys into settings; one key given twice with two values has no right answer.
    if key in merged and merged[key] != value:
        raise SpecError(
            f"{where}: {value!r} conflicts with settings.{key} {merged[key]!r}; give {key} once, under settings"
        )
    merged[key] = value


def _model(model: str | InlineModel | None) -> str | InlineModel:
    if model is None:
        raise SpecError(
            "$.model: required key is missing; give a registered model (azureml:<name>:<version> or "
            "azureml:<name>@latest) or an inline model with a path"
        )
    if isinstance(model, str):
        try:
            parse_model_ref(model)
        except SpecError as exc:
            raise SpecError(f"$.model: {exc.message}") from None
    return model


def _check_code(file: BatchDeploymentFile, model: str | InlineModel) -> None:
    code = file.code_configuration
    if code is None:
        # A registered model's type is known only once it is looked up; an inline one must say it is MLflow.
        if isinstance(model, InlineModel) and model.type is not ModelType.MLFLOW_MODEL:
            raise SpecError(
                "$.code_configuration: required unless the model is an MLflow model (type: mlflow_model); "
                "add code_configuration with code and scoring_script"
            )
        return
    if code.scoring_script is None:
        raise SpecError(
            "$.code_configuration.scoring_script: required key is missing; name the script in "
            f"{code.code!r} that defines init() and run(mini_batch)"
        )
    if file.environment is None:
        raise SpecError(
            "$.environment: required when code_configuration gives a scoring script, as in Azure; "
            "give an environment reference (azureml:<name>:<version>) or an inline one with conda_file or image"
        )

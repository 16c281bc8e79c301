"""Models: the inline `model:` block of a deployment, `model create -f model.yml`, and `azureml:` references."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from typing import Any

import msgspec

from runtime.errors import SpecError
from runtime.spec._types import ScalarStr


class ModelType(enum.StrEnum):
    """How a model folder is served: by a scoring script, as MLflow no-code, or as a Triton model repository."""

    CUSTOM_MODEL = "custom_model"
    MLFLOW_MODEL = "mlflow_model"
    TRITON_MODEL = "triton_model"


class InlineModel(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An anonymous model declared inside a deployment; `path` is a file or folder relative to the YAML file."""

    path: str
    name: str | None = None
    version: ScalarStr | None = None
    type: ModelType = ModelType.CUSTOM_MODEL
    description: str | None = None
    tags: dict[str, ScalarStr] = msgspec.field(default_factory=dict)
    properties: dict[str, ScalarStr] = msgspec.field(default_factory=dict)
    # Azure's anonymous model schema extends the registered one, so these are accepted inline too.
    flavors: dict[str, Any] = msgspec.field(default_factory=dict)
    stage: str | None = None
    datastore: str | None = None


class ModelSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A model registered with `model create -f model.yml` (azure-ai-ml's ModelSchema keys)."""

    schema_: str | None = msgspec.field(default=None, name="$schema")
    name: str
    path: str
    version: ScalarStr | None = None
    type: ModelType = ModelType.CUSTOM_MODEL
    description: str | None = None
    tags: dict[str, ScalarStr] = msgspec.field(default_factory=dict)
    properties: dict[str, ScalarStr] = msgspec.field(default_factory=dict)
    stage: str | None = None
    flavors: dict[str, Any] = msgspec.field(default_factory=dict)
    datastore: str | None = None
    # Set by the service; accepted so that `model show` output can be fed back, and ignored.
    id: str | None = None
    job_name: str | None = None
    utc_time_created: ScalarStr | None = None


class ModelRef(msgspec.Struct, frozen=True, kw_only=True):
    """A parsed model reference: a version, or a label such as `latest`; `registry` for `azureml://registries/`."""

    name: str
    version: str | None = None
    label: str | None = None
    registry: str | None = None


# Asset names and versions become folder names in the local registry, so no slashes or dots-only names.
_ASSET = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}"
_ASSET_RE = re.compile(_ASSET)
_ARM_RE = re.compile(
    rf"/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.MachineLearningServices/workspaces/[^/]+"
    rf"/models/(?P<name>{_ASSET})/versions/(?P<version>{_ASSET})",
    re.IGNORECASE,
)
_REGISTRY_RE = re.compile(
    rf"azureml://registries/(?P<registry>{_ASSET})/models/(?P<name>{_ASSET})"
    rf"/(?:versions/(?P<version>{_ASSET})|labels/(?P<label>{_ASSET}))"
)
_SHORT_RE = re.compile(rf"azureml:(?P<name>{_ASSET})(?::(?P<version>{_ASSET})|@(?P<label>{_ASSET}))?")

#: The rule is_asset_name checks, for messages.
ASSET_RULE = "letters, digits, '_', '.' and '-', starting with a letter or digit, at most 255 characters"

_FORMS = (
    "azureml:<name>:<version>, azureml:<name>@<label>, azureml:<name>, "
    "/subscriptions/.../workspaces/<ws>/models/<name>/versions/<version>, "
    "azureml://registries/<registry>/models/<name>/versions/<version> (or .../labels/<label>)"
)


def parse_model_ref(ref: str) -> ModelRef:
    """Parse a model reference in any of the forms Azure accepts; a bare `azureml:<name>` means label `latest`."""
    text = ref.strip()
    if match := _REGISTRY_RE.fullmatch(text):
        return ModelRef(name=match["name"], version=match["version"], label=match["label"], registry=match["registry"])
    if match := _ARM_RE.fullmatch(text.removeprefix("azureml:")):
        return ModelRef(name=match["name"], version=match["version"])
    if short := split_short_ref(text):
        name, version, label = short
        return ModelRef(name=name, version=version, label=label or (None if version else "latest"))
    raise SpecError(f"{ref!r} is not a model reference; use one of: {_FORMS}")


def next_version(versions: Iterable[str]) -> str:
    """One more than the highest whole-number version, as Azure counts an asset's versions up; "1" for a new one."""
    return str(1 + max((int(v) for v in versions if v.isascii() and v.isdigit()), default=0))


def is_asset_name(text: str) -> bool:
    """Whether `text` is a valid model name or version (letters, digits, '_', '.', '-'; up to 255 characters)."""
    return _ASSET_RE.fullmatch(text) is not None


def split_short_ref(text: str) -> tuple[str, str | None, str | None] | None:
    """Name, version and label of an `azureml:<name>[:<version> | @<label>]` asset reference; None for other text."""
    match = _SHORT_RE.fullmatch(text.strip())
    return (match["name"], match["version"], match["label"]) if match else None

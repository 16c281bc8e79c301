"""Data assets (`data create -f data.yml`, azure-ai-ml's DataSchema) and the inputs a batch job is invoked with.

Only local data is reachable on one machine: a path (relative to the YAML file, or to where the command runs), a
`file://` URL, or a registered data asset (`azureml:<name>:<version>`, `azureml:<name>@latest`).
"""

from __future__ import annotations

import enum
import os
from urllib.parse import unquote, urlsplit

import msgspec

from runtime.errors import SpecError
from runtime.spec._decode import camel_to_snake
from runtime.spec._types import ScalarStr
from runtime.spec.model import ASSET_RULE, is_asset_name, split_short_ref


class DataType(enum.StrEnum):
    """What a data path names: one file, or a folder of files (MLTable is Azure's, refused for batch)."""

    URI_FILE = "uri_file"
    URI_FOLDER = "uri_folder"
    MLTABLE = "mltable"


class DataSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A registered data asset: a name and version for a local file or folder."""

    schema_: str | None = msgspec.field(default=None, name="$schema")
    name: str
    path: str
    version: ScalarStr | None = None
    type: DataType = DataType.URI_FOLDER
    description: str | None = None
    tags: dict[str, ScalarStr] = msgspec.field(default_factory=dict)
    datastore: str | None = None
    # Set by the service; accepted so that `data show` output can be fed back, and ignored.
    id: str | None = None


class LocalInput(msgspec.Struct, frozen=True, kw_only=True, tag_field="kind", tag="local"):
    """A job input on this machine; `path` is absolute when a base folder was given, else as written."""

    path: str
    type: DataType | None = None  #: the --input-type given; None means "whatever the path turns out to be"


class DataAssetInput(msgspec.Struct, frozen=True, kw_only=True, tag_field="kind", tag="data_asset"):
    """A job input naming a registered data asset by version or by the `latest` label."""

    name: str
    version: str | None = None
    label: str | None = None
    type: DataType | None = None


JobInput = LocalInput | DataAssetInput

_REMOTE_SCHEMES = ("http", "https", "azureml", "wasb", "wasbs", "abfs", "abfss", "adl", "s3", "gs")
_UNREACHABLE = "only local data is reachable: give a local path, a file:// URL or azureml:<name>:<version>"
_NO_MLTABLE = "mltable is not supported by batch model deployments; use uri_folder or uri_file"


def check_data(spec: DataSpec) -> None:
    """Azure's rules beyond the schema, and what one machine can reach: local paths and no MLTable."""
    for key, value in (("name", spec.name), ("version", spec.version)):
        if value is not None and not is_asset_name(value):
            raise SpecError(f"$.{key}: {value!r} is not a valid data asset {key}; use {ASSET_RULE}")
    if spec.type is DataType.MLTABLE:
        raise SpecError(f"$.type: {_NO_MLTABLE}")
    try:
        local_path(spec.path)
    except SpecError as exc:
        raise SpecError(f"$.path: {exc.message}") from None


def local_path(path: str, base_dir: str = "") -> str:
    """The filesystem path a data path or `file://` URL names, joined to `base_dir` when relative."""
    text = path.strip()
    if not text:
        raise SpecError("the path is empty; give a local file or folder")
    scheme = urlsplit(text).scheme.lower()
    if scheme == "file":
        parts = urlsplit(text)
        if parts.netloc not in {"", "localhost"}:
            raise SpecError(f"{path!r} names host {parts.netloc!r}; {_UNREACHABLE}")
        text = unquote(parts.path)
        if not text:
            raise SpecError(f"{path!r} names no path; give file:///absolute/path or a local path")
    elif scheme in _REMOTE_SCHEMES or "://" in text:
        raise SpecError(f"{path!r} is remote; {_UNREACHABLE}")
    if base_dir and not os.path.isabs(text):
        text = os.path.join(base_dir, text)
    return os.path.normpath(text) if base_dir else text


def parse_job_input(text: str, *, input_type: str | None = None, base_dir: str = "") -> JobInput:
    """Parse a job's `--input` (and `--input-type`): a local path or file:// URL, or an `azureml:` data asset."""
    kind = _input_type(input_type)
    stripped = text.strip()
    if stripped.startswith("azureml:") and not stripped.startswith("azureml://"):
        short = split_short_ref(stripped)
        if short is None:
            raise SpecError(
                f"--input {text!r} is not a data asset reference; use azureml:<name>:<version> or azureml:<name>@latest"
            )
        name, version, label = short
        if version is None and label is None:
            raise SpecError(f"--input {text!r} names no version; use {stripped}:<version> or {stripped}@latest")
        if label is not None and label != "latest":
            raise SpecError(f"--input {text!r}: the only data asset label is latest; use @latest or :<version>")
        return DataAssetInput(name=name, version=version, label=label, type=kind)
    try:
        path = local_path(stripped, base_dir)
    except SpecError as exc:
        raise SpecError(f"--input: {exc.message}") from None
    return LocalInput(path=path, type=kind)


def _input_type(input_type: str | None) -> DataType | None:
    if input_type is None:
        return None
    allowed = (DataType.URI_FOLDER, DataType.URI_FILE)
    value = camel_to_snake(input_type.strip())
    if value == DataType.MLTABLE:
        raise SpecError(f"--input-type: {_NO_MLTABLE}")
    for member in allowed:
        if value == member.value:
            return member
    raise SpecError(f"--input-type: {input_type!r} is not one of: {', '.join(allowed)}")

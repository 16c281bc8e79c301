"""Data asset YAML and flags, and the job inputs a batch invoke takes: local paths, file:// URLs, azureml: assets."""

from __future__ import annotations

import os
from collections.abc import Sequence

import pytest

from runtime.errors import SpecError
from runtime.spec import (
    DataAssetInput,
    DataSpec,
    DataType,
    LocalInput,
    load_data,
    local_path,
    parse_job_input,
)

# cli/endpoints/batch/deploy-models/heart-classifier-mlflow/heart-dataset-unlabeled.yml
HEART = """\
$schema: https://azuremlschemas.azureedge.net/latest/data.schema.json
name: heart-dataset-unlabeled
description: An unlabeled dataset for heart classification.
type: uri_folder
path: data
"""


REACHABLE = "give a local path, a file:// URL or azureml:<name>:<version>"


def load(text: str | None, overrides: Sequence[str] = (), **flags: str) -> DataSpec:
    return load_data(text, source="data.yml", overrides=overrides, **flags).spec


def error(text: str | None, overrides: Sequence[str] = (), **flags: str) -> str:
    with pytest.raises(SpecError) as info:
        load_data(text, source="data.yml", overrides=overrides, **flags)
    assert "\n" not in info.value.message
    return info.value.message


def input_error(text: str, input_type: str | None = None) -> str:
    with pytest.raises(SpecError) as info:
        parse_job_input(text, input_type=input_type)
    return info.value.message


def test_heart_sample_loads_relative_to_its_file() -> None:
    loaded = load_data(HEART, source="heart/heart-dataset-unlabeled.yml")
    assert loaded.spec.name == "heart-dataset-unlabeled"
    assert loaded.spec.type is DataType.URI_FOLDER
    assert loaded.spec.version is None
    assert local_path(loaded.spec.path, loaded.base_dir) == os.path.abspath("heart/data")
    assert loaded.ignored == ()


def test_defaults_int_version_and_casings() -> None:
    spec = load("name: scores\npath: x.csv\nversion: 2\ntype: UriFile\n")
    assert (spec.version, spec.type) == ("2", DataType.URI_FILE)
    assert load("name: scores\npath: folder\n").type is DataType.URI_FOLDER


def test_flags_alone_make_a_data_asset_and_win_over_the_file() -> None:
    spec = load(None, name="scores", path="/data/in", type="uri_file", version="3")
    assert (spec.name, spec.path, spec.type, spec.version) == ("scores", "/data/in", DataType.URI_FILE, "3")
    assert load(HEART, name="other", path="/elsewhere").path == "/elsewhere"


def test_name_and_path_are_required() -> None:
    assert error(None, path="x") == "data.yml: $.name: required key is missing"
    assert error("name: scores\n") == "data.yml: $.path: required key is missing"


def test_mltable_is_refused() -> None:
    assert error(HEART, type="mltable") == (
        "data.yml: $.type: mltable is not supported by batch model deployments; use uri_folder or uri_file"
    )


@pytest.mark.parametrize(
    "path",
    [
        "https://azuremlexampledata.blob.core.windows.net/data/heart-disease-uci/data",
        "azureml://datastores/workspaceblobstore/paths/example-data/",
        "wasbs://data@account.blob.core.windows.net/x",
        "abfss://fs@account.dfs.core.windows.net/x",
    ],
)
def test_remote_paths_are_refused(path: str) -> None:
    assert error(HEART, overrides=[f"path={path}"]) == (
        f"data.yml: $.path: {path!r} is remote; only local data is reachable: give a local path, a file:// URL "
        f"or azureml:<name>:<version> (from --set path={path})"
    )


def test_bad_names_and_unknown_keys() -> None:
    assert error(HEART, name="my data").startswith("data.yml: $.name: 'my data' is not a valid data asset name")
    assert error(HEART + "paths: [a]\n") == "data.yml: $.paths: unknown key; did you mean path?"


def test_datastore_and_id_are_listed_as_ignored() -> None:
    loaded = load_data(HEART + "datastore: azureml:workspaceblobstore\nid: /subscriptions/x\n", source="d.yml")
    assert loaded.ignored == (
        "datastore is ignored: data is read from its path on this machine",
        "id is ignored: it is read-only, set by the service",
    )


def test_local_inputs() -> None:
    assert parse_job_input("data/heart") == LocalInput(path="data/heart")
    assert parse_job_input("data/heart", base_dir="/work") == LocalInput(path="/work/data/heart")
    assert parse_job_input("/abs/x.csv", input_type="uri_file", base_dir="/work") == LocalInput(
        path="/abs/x.csv", type=DataType.URI_FILE
    )
    assert parse_job_input("file:///data/my%20files", input_type="UriFolder") == LocalInput(
        path="/data/my files", type=DataType.URI_FOLDER
    )
    assert parse_job_input("file://localhost/data") == LocalInput(path="/data")


def test_data_asset_inputs() -> None:
    assert parse_job_input("azureml:heart-dataset-unlabeled@latest") == DataAssetInput(
        name="heart-dataset-unlabeled", label="latest"
    )
    assert parse_job_input("azureml:heart:2", input_type="uri_folder") == DataAssetInput(
        name="heart", version="2", type=DataType.URI_FOLDER
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "azureml:heart",
            "--input 'azureml:heart' names no version; use azureml:heart:<version> or azureml:heart@latest",
        ),
        (
            "azureml:heart@prod",
            "--input 'azureml:heart@prod': the only data asset label is latest; use @latest or :<version>",
        ),
        (
            "azureml:heart data:1",
            "--input 'azureml:heart data:1' is not a data asset reference; "
            "use azureml:<name>:<version> or azureml:<name>@latest",
        ),
        (
            "azureml://datastores/workspaceblobstore/paths/x",
            "--input: 'azureml://datastores/workspaceblobstore/paths/x' is remote; only local data is reachable: "
            "give a local path, a file:// URL or azureml:<name>:<version>",
        ),
        (
            "https://example.com/x.csv",
            "--input: 'https://example.com/x.csv' is remote; only local data is reachable: " + REACHABLE,
        ),
        (
            "file://otherhost/x",
            "--input: 'file://otherhost/x' names host 'otherhost'; only local data is reachable: " + REACHABLE,
        ),
        ("  ", "--input: the path is empty; give a local file or folder"),
    ],
)
def test_unreachable_or_malformed_inputs(text: str, message: str) -> None:
    assert input_error(text) == message


def test_input_types() -> None:
    assert input_error("data", "mltable") == (
        "--input-type: mltable is not supported by batch model deployments; use uri_folder or uri_file"
    )
    assert input_error("data", "folder") == "--input-type: 'folder' is not one of: uri_folder, uri_file"

import sqlite3
from pathlib import Path

import pytest

from runtime.control.batch_registry import (
    BatchDeploymentRecord,
    BatchEndpointRecord,
    BatchRegistry,
    ComputeRecord,
    DataRecord,
)
from runtime.errors import Conflict, NotFound
from runtime.spec import load_batch_deployment, load_batch_endpoint, load_compute, load_data

DEPLOYMENT = (
    "name: one\nendpoint_name: scorer\ncompute: azureml:cpu-cluster\nmodel: azureml:m:1\n"
    "code_configuration: {code: ., scoring_script: s.py}\nenvironment: azureml:env:1\nmini_batch_size: 5\n"
)


def _endpoint(name: str = "scorer") -> BatchEndpointRecord:
    spec = load_batch_endpoint(f"name: {name}\n", source="<api>").spec
    return BatchEndpointRecord(name=name, spec=spec, source="<api>", ignored=(), created_at=1.0, updated_at=1.0)


def _deployment(name: str = "one", at: float = 2.0) -> BatchDeploymentRecord:
    spec = load_batch_deployment(DEPLOYMENT, source="<api>", name=name).spec
    return BatchDeploymentRecord(
        endpoint="scorer",
        name=name,
        spec=spec,
        source="/x/deployment.yml",
        ignored=("environment: a note",),
        snapshot="/s",
        created_at=at,
        updated_at=at,
    )


def _compute(name: str = "cpu-cluster") -> ComputeRecord:
    spec = load_compute(None, source="<api>", name=name, type="amlcompute", max_instances=2).spec
    return ComputeRecord(name=name, spec=spec, source="<api>", ignored=(), created_at=1.0)


def _data(version: str, at: float) -> DataRecord:
    spec = load_data(None, source="<api>", name="inputs", version=version, path="/data").spec
    return DataRecord(name="inputs", version=version, spec=spec, source="<api>", ignored=(), created_at=at)


def test_records_survive_a_reopen_with_their_settings_ignored_keys_and_default(tmp_path: Path) -> None:
    reg = BatchRegistry(tmp_path / "state.db")
    reg.add_compute(_compute())
    reg.add_endpoint(_endpoint())
    reg.add_deployment(_deployment(), make_default=True)
    reg.add_data(_data("1", 1.0))
    reg.close()

    again = BatchRegistry(tmp_path / "state.db")
    dep = again.deployment("scorer", "one")
    assert (dep.spec.settings.mini_batch_size, dep.spec.compute, dep.ignored) == (
        5,
        "cpu-cluster",
        ("environment: a note",),
    )
    assert again.endpoint("scorer").spec.defaults.deployment_name == "one"
    assert again.compute("cpu-cluster").spec.max_instances == 2
    assert [d.version for d in again.data("inputs")] == ["1"]


def test_names_are_unique_in_any_case_and_a_missing_endpoint_is_named(tmp_path: Path) -> None:
    reg = BatchRegistry(tmp_path / "state.db")
    reg.add_endpoint(_endpoint())
    with pytest.raises(Conflict, match="differing only in case"):
        reg.add_endpoint(_endpoint("Scorer"))
    reg.add_deployment(_deployment())
    with pytest.raises(Conflict, match="exists already under endpoint 'scorer'"):
        reg.add_deployment(_deployment("ONE"))
    with pytest.raises(NotFound, match="batch endpoint 'other' not found"):
        reg.deployment("other", "one")
    with pytest.raises(NotFound, match="batch deployment 'two' not found"):
        reg.deployment("scorer", "two")
    reg.add_compute(_compute())
    with pytest.raises(Conflict, match="exists already"):
        reg.add_compute(_compute("CPU-cluster"))
    reg.add_data(_data("1", 1.0))
    with pytest.raises(Conflict, match="inputs:1 exists already"):
        reg.add_data(_data("1", 2.0))


def test_deleting_an_endpoint_removes_its_deployments_and_frees_their_compute(tmp_path: Path) -> None:
    reg = BatchRegistry(tmp_path / "state.db")
    reg.add_compute(_compute())
    reg.add_endpoint(_endpoint())
    reg.add_deployment(_deployment("one", 2.0))
    reg.add_deployment(_deployment("two", 3.0))
    assert reg.compute_users("cpu-cluster") == ["scorer/one", "scorer/two"]
    with pytest.raises(Conflict, match="used by batch deployment"):
        reg.delete_compute("cpu-cluster")
    assert reg.compute("cpu-cluster").name == "cpu-cluster"  # the refused delete changed nothing
    reg.delete_endpoint("scorer")
    assert reg.deployments() == []
    reg.delete_compute("cpu-cluster")
    assert reg.computes() == []


def test_a_default_naming_a_deployment_is_written_with_it_or_not_at_all(tmp_path: Path) -> None:
    reg = BatchRegistry(tmp_path / "state.db")
    reg.add_endpoint(_endpoint())
    reg.add_deployment(_deployment("one"))
    assert reg.endpoint("scorer").spec.defaults.deployment_name is None
    reg.save_deployment(_deployment("one"), make_default=True)
    assert reg.endpoint("scorer").spec.defaults.deployment_name == "one"
    orphan = BatchDeploymentRecord(
        **{**{f: getattr(_deployment(), f) for f in BatchDeploymentRecord.__struct_fields__}, "endpoint": "gone"}
    )
    with pytest.raises(sqlite3.IntegrityError):
        reg.save_deployment(orphan, make_default=True)  # no such endpoint
    assert [d.endpoint for d in reg.deployments()] == ["scorer"]

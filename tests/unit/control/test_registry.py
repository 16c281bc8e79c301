from pathlib import Path

import msgspec
import pytest
from records import endpoint_record

from runtime.control.registry import DeploymentRecord, EndpointRecord, Registry
from runtime.errors import Conflict, NotFound
from runtime.spec import load_deployment

DEPLOYMENT = (
    "name: blue\nendpoint_name: digits\ninstance_type: cpu1\ncode_configuration: {code: ., scoring_script: s.py}\n"
)


def _deployment() -> DeploymentRecord:
    spec = load_deployment(DEPLOYMENT, source="blue.yml").spec
    return DeploymentRecord(
        endpoint="digits",
        name="blue",
        spec=spec,
        source="/x/blue.yml",
        snapshot="/s",
        placement="share",
        state="Creating",
        error="",
        notes=("a note",),
        created_at=2.0,
        updated_at=2.0,
    )


def test_records_survive_a_reopen_and_saving_an_endpoint_keeps_its_deployments(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    reg = Registry(db)
    reg.add_endpoint(endpoint_record())
    reg.add_deployment(_deployment())
    ep = reg.endpoint("digits")
    reg.save_endpoint(EndpointRecord(**{**{f: getattr(ep, f) for f in ep.__struct_fields__}, "traffic": {"blue": 100}}))
    reg.set_deployment_state("digits", "blue", "Failed", "init() raised")
    reg.close()

    again = Registry(db)
    assert again.endpoint("digits").traffic == {"blue": 100}
    dep = again.deployment("digits", "blue")
    assert (dep.state, dep.error, dep.notes, dep.spec.instance_type) == ("Failed", "init() raised", ("a note",), "cpu1")
    with pytest.raises(Conflict):
        again.add_endpoint(endpoint_record())
    again.delete_endpoint("digits")
    with pytest.raises(NotFound):
        again.deployment("digits", "blue")


def test_names_that_differ_only_in_case_are_the_same_name(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "state.db")
    reg.add_endpoint(endpoint_record())
    reg.add_deployment(_deployment())
    with pytest.raises(Conflict, match=r"endpoint 'digits' exists already; names differing only in case"):
        reg.add_endpoint(msgspec.structs.replace(endpoint_record(), name="DIGITS"))
    with pytest.raises(Conflict, match=r"deployment 'blue' exists already under endpoint 'digits'; names differing"):
        reg.add_deployment(msgspec.structs.replace(_deployment(), name="Blue"))
    assert [e.name for e in reg.endpoints()] == ["digits"] and [d.name for d in reg.deployments("digits")] == ["blue"]


def test_a_missing_endpoint_is_named_as_such(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "state.db")
    with pytest.raises(NotFound, match=r"^endpoint 'nope' not found$"):
        reg.deployment("nope", "blue")
    reg.add_endpoint(endpoint_record())
    with pytest.raises(NotFound, match=r"^deployment 'blue' not found under endpoint 'digits'$"):
        reg.deployment("digits", "blue")


def test_models_from_before_archiving_come_back_unarchived_and_can_be_archived(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "state.db"
    old = sqlite3.connect(db)
    old.execute(
        "CREATE TABLE models (name TEXT NOT NULL, version TEXT NOT NULL, type TEXT NOT NULL, path TEXT NOT NULL,"
        " description TEXT NOT NULL DEFAULT '', source TEXT NOT NULL, created_at REAL NOT NULL,"
        " PRIMARY KEY (name, version))"
    )
    old.execute("INSERT INTO models VALUES ('m', '1', 'custom_model', '/r/m/1', '', 'm.yml', 1.0)")
    old.commit()
    old.close()
    reg = Registry(db)
    (rec,) = reg.models("m")
    assert rec.archived is False and rec.path == "/r/m/1"
    reg.set_model_archived("m", "1", True)
    assert [m.archived for m in Registry(db).models("m")] == [True]
    reg.delete_model("m", "1")
    assert reg.models("m") == []


def test_each_creation_of_an_endpoint_gets_its_own_uid_which_updates_keep(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "state.db")
    first = endpoint_record()
    reg.add_endpoint(first)
    reg.save_endpoint(msgspec.structs.replace(reg.endpoint("digits"), traffic={"blue": 100}))
    assert reg.endpoint("digits").uid == first.uid != ""
    reg.delete_endpoint("digits")
    second = endpoint_record()
    reg.add_endpoint(second)
    assert reg.endpoint("digits").uid == second.uid != first.uid


def test_a_database_from_before_uids_gets_one_per_endpoint(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "state.db"
    Registry(db).add_endpoint(endpoint_record())
    old = sqlite3.connect(db)
    old.execute("ALTER TABLE endpoints DROP COLUMN uid")
    old.commit()
    old.close()
    uid = Registry(db).endpoint("digits").uid
    assert len(uid) == 32 and uid == Registry(db).endpoint("digits").uid

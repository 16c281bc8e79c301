"""What a batch worker is started with: its script, its model folder, and its environment's PYTHONPATH."""

from __future__ import annotations

import os
from pathlib import Path

from runtime.batch.executors import BatchTarget, load_for
from runtime.batch.jobs import Job, JobSettings, JobState
from runtime.spec import load_batch_deployment

DEPLOYMENT = """\
name: csv
endpoint_name: heart
type: model
model: {name: m, path: model}
code_configuration: {code: code, scoring_script: score.py}
environment: azureml:env:1
compute: azureml:batch-cluster
settings:
  environment_variables: {PYTHONPATH: /user/lib}
"""

JOB = Job(
    name="j",
    endpoint="heart",
    deployment="csv",
    inputs=("/in",),
    output_folder="/out",
    settings=JobSettings(),
    state=JobState.RUNNING,
    enumerated=True,
    created_at=0.0,
)


def target(text: str, pythonpath: str) -> BatchTarget:
    spec = load_batch_deployment(text, source="d.yml").spec
    return BatchTarget(endpoint="heart", deployment="csv", spec=spec, snapshot=Path("/snap"), pythonpath=pythonpath)


def test_an_environments_worker_finds_modelyard_first_and_the_deployments_own_path_after() -> None:
    load, env = load_for(target(DEPLOYMENT, "/state/environments/.runtime"), JOB, threads=1)
    # The deployment's PYTHONPATH adds to the path; it never hides modelyard's package from the worker.
    assert env["PYTHONPATH"] == os.pathsep.join(["/state/environments/.runtime", "/user/lib"])
    assert load.model_dir == "/snap/azureml-models/m/1" and env["AZUREML_MODEL_DIR"] == load.model_dir
    assert env["AML_APP_ROOT"] == "/snap/code/code" and env["AZUREML_ENTRY_SCRIPT"] == "score.py"


def test_modelyards_own_environment_leaves_pythonpath_as_the_deployment_gave_it() -> None:
    _, env = load_for(target(DEPLOYMENT, ""), JOB, threads=1)
    assert env["PYTHONPATH"] == "/user/lib"

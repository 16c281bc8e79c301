"""The job resource as `job show` prints it: Azure's fields, the counts, elapsed time and the estimate left."""

from __future__ import annotations

from runtime.batch.jobs import Job, JobSettings, JobState
from runtime.control.controller.job_view import job_view


def _job(**changes: object) -> Job:
    base: dict[str, object] = {
        "name": "batchjob-1",
        "endpoint": "heart",
        "deployment": "csv-sum",
        "inputs": ("/data/in.csv",),
        "output_folder": "/out",
        "settings": JobSettings(),
        "state": JobState.RUNNING,
        "enumerated": True,
        "created_at": 1000.0,
        "started_at": 1010.0,
        "mini_batches_total": 10,
    }
    return Job(**{**base, **changes})  # type: ignore[arg-type]


def test_a_running_job_shows_its_pace_and_the_time_left() -> None:
    view = job_view(_job(mini_batches_done=3, mini_batches_failed=1), now=1030.0)
    assert (view["status"], view["type"], view["id"]) == ("Running", "pipeline", "azureml:/jobs/batchjob-1")
    assert view["elapsed_s"] == 20.0 and view["eta_s"] == 30.0  # 4 settled in 20 s, 6 left
    assert view["creation_context"]["created_at"] == "1970-01-01T00:16:40.000Z"
    assert view["outputs"]["score"] == {
        "type": "uri_folder",
        "path": "/out",
        "mode": "rw_mount",
        "output_file_name": "predictions.csv",
    }


def test_no_estimate_before_a_mini_batch_settles_and_none_left_once_over() -> None:
    assert job_view(_job(), now=1030.0)["eta_s"] is None
    assert job_view(_job(state=JobState.QUEUED, started_at=None), now=1030.0)["elapsed_s"] == 0.0
    over = job_view(_job(state=JobState.COMPLETED, ended_at=1015.0, mini_batches_done=10), now=2000.0)
    assert (over["eta_s"], over["elapsed_s"], over["error"]) == (0.0, 5.0, None)

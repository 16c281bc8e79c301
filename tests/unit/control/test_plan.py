import os

from runtime.control.plan import WorkerPlan, load_message, worker_env


def _plan(**env: str) -> WorkerPlan:
    return WorkerPlan(
        kind="script", app_root="/app", entry_script="score.py", model_dir="/m", model_repository=None, env=env
    )


def test_each_instance_sees_its_own_gpus_and_thread_counts_sized_to_its_cores() -> None:
    env = worker_env(_plan(PATH=os.environ.get("PATH", "")), cores=(2, 3), gpus=(1,))
    assert env["CUDA_VISIBLE_DEVICES"] == "1" and env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    assert env["OMP_NUM_THREADS"] == "2" and env["MKL_NUM_THREADS"] == "2"
    assert worker_env(_plan(), cores=(0,), gpus=())["CUDA_VISIBLE_DEVICES"] == ""


def test_a_deployment_that_sets_thread_counts_keeps_them() -> None:
    env = worker_env(_plan(OMP_NUM_THREADS="7"), cores=(0, 1), gpus=())
    assert env["OMP_NUM_THREADS"] == "7" and env["OPENBLAS_NUM_THREADS"] == "2"


def test_scoring_timeout_comes_from_the_environment_variables() -> None:
    assert load_message(_plan(SCORING_TIMEOUT_MS="1500"), (0, 1)).scoring_timeout_ms == 1500
    assert load_message(_plan(), (0,)).scoring_timeout_ms == 3_600_000
    assert load_message(_plan(), (0, 1, 2)).threads == 3

"""Serve a script through modelyard's worker code in the model's environment, and record the answers.

    PYTHONPATH=<repo> <venv>/bin/python mlflow_worker_child.py JOBS.json OUT.json

JOBS is a list of specs, run one after the other in this one process (importing mlflow costs seconds; the tests
pay it once). A spec holds `kind` ("online", "batch", or "parquet" to write a table for the others), `app_root`,
`entry_script`, `model_dir` and `folder` (MLFLOW_MODEL_FOLDER), plus `requests` (online: each {method, path,
query, headers, body}) or `mini_batches` (batch: lists of file paths). The script is loaded as a worker loads it
(runtime.worker.adapters / batch_script), each request answered by the worker's adapter; OUT gets one entry per
spec: {"answers": [...]} (online: {status, headers, body}; batch: {rows, text} or {failure}), or {"load_error"}.
"""

from __future__ import annotations

import json
import os
import queue
import sys
from typing import Any

import msgspec

from runtime.ipc.messages import Failure, Infer, Load, MiniBatchDone, Result, RunMiniBatch
from runtime.worker import adapters, batch_script


def online(spec: dict[str, Any]) -> dict[str, Any]:
    """Load the scoring script as a script worker does and answer each request with its adapter."""
    load = Load("script", app_root=spec["app_root"], entry_script=spec["entry_script"], model_dir=spec["model_dir"])
    try:
        adapter = adapters.load_adapter(load)
    except adapters.LoadError as exc:
        return {"load_error": str(exc)}
    answers = []
    for rid, request in enumerate(spec["requests"], start=1):
        infer = Infer(
            rid,
            request["method"],
            request["path"],
            request.get("query", ""),
            [(name, value) for name, value in request.get("headers", {}).items()],
            request.get("body", "").encode(),
        )
        result = adapter.handle(infer)
        assert isinstance(result, Result), result
        answers.append({"status": result.status, "headers": dict(result.headers), "body": result.body.decode()})
    return {"answers": answers}


def batch(spec: dict[str, Any]) -> dict[str, Any]:
    """Load the batch script as a batch worker does and run each mini-batch through it."""
    done: queue.SimpleQueue[msgspec.Struct] = queue.SimpleQueue()
    load = Load(
        "batch",
        app_root=spec["app_root"],
        entry_script=spec["entry_script"],
        model_dir=spec["model_dir"],
        output_path=spec["output_path"],
    )

    def on_timeout(request: RunMiniBatch, stack: str) -> None:
        done.put(batch_script.timeout_failure(request, stack))

    try:
        script = batch_script.load(load, done.put, on_timeout)
    except adapters.LoadError as exc:
        return {"load_error": str(exc)}
    answers = []
    for mid, files in enumerate(spec["mini_batches"], start=1):
        script.submit(RunMiniBatch(mid, files, 60.0))
        answer = done.get()
        if isinstance(answer, MiniBatchDone):
            answers.append({"rows": answer.rows, "text": answer.text.decode()})
        else:
            assert isinstance(answer, Failure), answer
            answers.append({"failure": answer.message})
    script.stop()
    return {"answers": answers}


def parquet(spec: dict[str, Any]) -> dict[str, Any]:
    """Write a table as parquet with the environment's pandas and pyarrow (the tests' own Python has neither)."""
    import pandas as pd

    pd.DataFrame(spec["data"], columns=spec["columns"]).to_parquet(spec["path"])
    return {}


def main(jobs_path: str, out_path: str) -> None:
    with open(jobs_path) as f:
        jobs = json.load(f)
    outs = []
    for spec in jobs:
        # What a worker of this deployment would have in its environment.
        os.environ["AZUREML_MODEL_DIR"] = spec.get("model_dir", "")
        os.environ["MLFLOW_MODEL_FOLDER"] = spec.get("folder", "model")
        # A worker loads one script; this process loads several, each decorating a `run` of the same qualified
        # name, which inference-schema refuses to register twice: forget the previous script's schemas first.
        schema_util = sys.modules.get("inference_schema.schema_util")
        if schema_util is not None:
            vars(schema_util)["__functions_schema__"].clear()
        run = {"online": online, "batch": batch, "parquet": parquet}[spec["kind"]]
        outs.append(run(spec))
    with open(out_path, "w") as f:
        json.dump(outs, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

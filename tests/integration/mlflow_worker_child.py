"""Serve a script through modelyard's worker code in the model's environment, and record the answers.

    PYTHONPATH=<repo> <venv>/bin/python mlflow_worker_child.py SPEC.json OUT.json

SPEC holds `kind` ("online" or "batch"), `app_root`, `entry_script` and `model_dir`, plus `requests` (online:
each {method, path, query, headers, body}) or `mini_batches` (batch: lists of file paths). The script is loaded
as a worker loads it (runtime.worker.adapters / batch_script), each request answered by the worker's adapter; OUT
gets {"answers": [...]} (online: {status, headers, body}; batch: {rows, text} or {failure}), or {"load_error"}.
"""

from __future__ import annotations

import json
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


def main(spec_path: str, out_path: str) -> None:
    with open(spec_path) as f:
        spec = json.load(f)
    out = online(spec) if spec["kind"] == "online" else batch(spec)
    with open(out_path, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

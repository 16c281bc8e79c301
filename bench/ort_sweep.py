"""The medium case's in-process limit: onnxruntime on the convnet, one session, a batch size at a time.

    taskset -c 0 python bench/ort_sweep.py MODEL SECONDS BATCH [BATCH ...]

Run by bench_medium.py pinned to the servers' core with the thread pools sized to one core, as modelyard sizes a
one-core worker's session (intra-op threads 1, inter-op 1, sequential). For each batch size it runs the session
back to back for SECONDS on seeded images and prints one JSON line: images/s and the p50/p99 of one call.
"""

from __future__ import annotations

import json
import statistics
import sys
import time

import numpy as np
import onnxruntime as ort


def session(path: str) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])


def sweep(path: str, seconds: float, batches: list[int]) -> None:
    sess = session(path)
    rng = np.random.default_rng(0)
    for batch in batches:
        x = rng.integers(0, 256, size=(batch, 3, 64, 64)).astype(np.float32)
        sess.run(None, {"input": x})  # first call allocates; not measured
        times: list[float] = []
        start = time.perf_counter()
        while (now := time.perf_counter()) - start < seconds:
            sess.run(None, {"input": x})
            times.append(time.perf_counter() - now)
        elapsed = time.perf_counter() - start
        times.sort()
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        row = {
            "batch": batch,
            "calls": len(times),
            "images_per_s": len(times) * batch / elapsed,
            "p50_ms": statistics.median(times) * 1000,
            "p99_ms": p99 * 1000,
        }
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    sweep(sys.argv[1], float(sys.argv[2]), [int(b) for b in sys.argv[3:]])

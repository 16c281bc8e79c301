"""Tiny MLflow models for tests, saved by a Python that has mlflow-skinny, scikit-learn and pandas."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Literal

# Run in the model's environment, not the tests': fit, save, and print the rows scored in process as JSON.
_TRAIN = """
import json, sys
import numpy as np
import pandas as pd
import mlflow.sklearn
from mlflow.models import infer_signature
from sklearn.linear_model import LinearRegression

dest, kind = sys.argv[1], sys.argv[2]
columns = ["age", "bmi", "bp"]
train = [[1.0, 2.0, 0.5], [2.0, 0.5, 1.0], [3.0, 1.5, 2.5], [4.0, 3.0, 0.25], [5.0, 2.5, 1.5]]
target = np.array([3.0, 4.25, 8.5, 6.0, 10.75])
# Whole numbers among the rows scored: JSON and CSV carry them as integers, which must still meet the float columns.
rows = [[1, 2.5, 3], [4.5, 0, 1.25], [2, 2, 2]]
if kind == "columns":
    X, sample = pd.DataFrame(train, columns=columns), pd.DataFrame(rows, columns=columns, dtype="float64")
else:
    X, sample = np.array(train, dtype=np.float32), np.array(rows, dtype=np.float32)
    columns = []
model = LinearRegression().fit(X, target)
mlflow.sklearn.save_model(
    model,
    dest,
    signature=infer_signature(X, target),
    serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
    # Named, so that MLflow does not spend seconds inferring them from the imports.
    pip_requirements=["scikit-learn", "pandas"],
)
print(json.dumps({"columns": columns, "data": rows, "predictions": model.predict(sample).tolist()}))
"""


def save_sklearn_model(python: Path, dest: Path, *, kind: Literal["columns", "tensor"]) -> dict[str, Any]:
    """Save a small LinearRegression as an MLflow model in `dest`, with a column or tensor signature.

    Returns {"columns": [...] (empty for a tensor), "data": rows, "predictions": the model's own for those rows}.
    """
    done = subprocess.run(
        [str(python), "-c", _TRAIN, str(dest), kind], capture_output=True, text=True, timeout=300, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"saving the {kind} model failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# A pyfunc model whose predict() takes params: each value of column "a" times the param "scale" (default 2).
_PARAMS = """
import sys
import mlflow.pyfunc
import pandas as pd
from mlflow.models import infer_signature


class Scale(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return [float(x) * params["scale"] for x in model_input["a"]]


signature = infer_signature(pd.DataFrame({"a": [1.0]}), [1.0], params={"scale": 2.0})
mlflow.pyfunc.save_model(sys.argv[1], python_model=Scale(), signature=signature, pip_requirements=["pandas"])
"""


def save_params_model(python: Path, dest: Path) -> None:
    """Save a pyfunc model in `dest` that multiplies column "a" by the param "scale", 2.0 unless a request says."""
    done = subprocess.run(
        [str(python), "-c", _PARAMS, str(dest)], capture_output=True, text=True, timeout=300, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"saving the params model failed:\n{done.stderr[-4000:]}")


_ALL = """
import contextlib, io, json, sys
root, train, params = sys.argv[1], sys.argv[2], sys.argv[3]
out = {}
for kind in ("columns", "tensor"):
    sys.argv = ["-c", f"{root}/{kind}/model", kind]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(train, {"__name__": "__main__"})
    out[kind] = json.loads(printed.getvalue().strip().splitlines()[-1])
sys.argv = ["-c", f"{root}/params/model"]
exec(params, {"__name__": "__main__"})
print(json.dumps(out))
"""


def save_all(python: Path, root: Path) -> dict[str, tuple[Path, dict[str, Any]]]:
    """The column and tensor models and the params model, saved by one process (importing mlflow costs seconds):
    kind -> (the AZUREML_MODEL_DIR folder holding `model/`, the rows scored in process; {} for params)."""
    done = subprocess.run(
        [str(python), "-c", _ALL, str(root), _TRAIN, _PARAMS], capture_output=True, text=True, timeout=300, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"saving the models failed:\n{done.stderr[-4000:]}")
    rows: dict[str, dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    return {kind: (root / kind, rows.get(kind, {})) for kind in ("columns", "tensor", "params")}

"""What the online and batch MLflow scripts share: where the model is, and how predict() is called."""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable
from typing import Any

from runtime.errors import SpecError

#: The file that makes a folder an MLflow model.
MLMODEL = "MLmodel"


def model_path() -> str:
    """The folder holding MLmodel: $AZUREML_MODEL_DIR/$MLFLOW_MODEL_FOLDER, as Azure's MLflow image names it."""
    base = os.environ.get("AZUREML_MODEL_DIR", "")
    folder = os.environ.get("MLFLOW_MODEL_FOLDER", "")
    path = os.path.join(base, folder) if folder else base
    if not base or not os.path.isfile(os.path.join(path, MLMODEL)):
        raise SpecError(
            f"no {MLMODEL} file in {path or '(no folder)'}: an mlflow_model deployment's model folder must hold the "
            f"{MLMODEL} file at its top (AZUREML_MODEL_DIR={base!r}, MLFLOW_MODEL_FOLDER={folder!r})"
        )
    return path


def takes_params(predict: Any) -> bool:
    """Whether the pyfunc model's predict() accepts `params=` (MLflow 2.6 and later)."""
    try:
        return "params" in inspect.signature(predict).parameters
    except (TypeError, ValueError):  # a callable inspect cannot read: call it the old way
        return False


def predict(model: Any, data: Any, params: dict[str, Any] | None, with_params: bool) -> Any:
    """`model.predict(data)`, passing `params=` only when there are some and predict() takes them."""
    if params and with_params:
        return model.predict(data, params=params)
    return model.predict(data)


def _records(data: Any, pandas_orient: str = "records") -> Any:
    # The same conversions as MLflow's scoring server, for an mlflow whose scoring server does not import.
    import numpy as np
    import pandas as pd

    if isinstance(data, np.ndarray):
        return data.tolist()
    if isinstance(data, pd.DataFrame):
        return data.to_dict(orient=pandas_orient)
    if isinstance(data, pd.Series):
        return pd.DataFrame(data).to_dict(orient=pandas_orient)
    return data


@functools.cache
def _converter() -> Callable[..., Any]:
    try:
        from mlflow.pyfunc.scoring_server import _get_jsonable_obj
    except ImportError:
        return _records
    return _get_jsonable_obj  # type: ignore[no-any-return]


def jsonable(result: Any) -> Any:
    """predict()'s result as MLflow's scoring server makes it JSON-able: ndarray to list, DataFrame to records.

    A dict's values are converted too, so that a model returning named outputs answers rather than failing.
    """
    convert = _converter()
    if isinstance(result, dict):
        return {key: convert(value, pandas_orient="records") for key, value in result.items()}
    return convert(result, pandas_orient="records")

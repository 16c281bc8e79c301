"""The online scoring script of an MLflow no-code deployment: `run(input_data, params=None)` over the pyfunc model.

As Azure's generated script, it reads the model's signature when it is imported (the inference-schema decorators
need it then), loads the model in init(), and answers a JSON body `{"input_data": ..., "params": {...}}`; the
MLflow server's own keys (`dataframe_split`, `inputs`, ...) are refused with the 400 of a missing `input_data`.
"""

from __future__ import annotations

import logging
from typing import Any

from inference_schema.schema_decorators import input_schema, output_schema
from mlflow.models import Model

from runtime.worker.mlflow_scoring import common, schema

logger = logging.getLogger("modelyard.mlflow")

_PATH = common.model_path()
_SIGNATURE = Model.load(_PATH).signature
_TYPED = schema.is_typed(_SIGNATURE)

_model: Any = None
_with_params = False


def init() -> None:
    """Load the pyfunc model named by AZUREML_MODEL_DIR and MLFLOW_MODEL_FOLDER."""
    global _model, _with_params
    import mlflow.pyfunc

    logger.info("Loading the MLflow model in %s", _PATH)
    _model = mlflow.pyfunc.load_model(_PATH)
    _with_params = common.takes_params(_model.predict)


# inference-schema ships no types, so each of its decorators leaves run() untyped for mypy.
@input_schema("input_data", schema.input_type(_SIGNATURE))  # type: ignore[untyped-decorator]
@input_schema("params", schema.params_type(_SIGNATURE), optional=True)  # type: ignore[untyped-decorator]
@output_schema(schema.output_type(_SIGNATURE))  # type: ignore[untyped-decorator]
def run(input_data: Any, params: dict[str, Any] | None = None) -> Any:
    """Predict on the input, typed by the signature (or read as Azure reads untyped input), and make it JSON-able."""
    data = input_data if _TYPED else schema.untyped_input(input_data)
    return common.jsonable(common.predict(_model, data, params, _with_params))

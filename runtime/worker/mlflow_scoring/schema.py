"""inference-schema parameter types from an MLflow signature, as Azure's generated MLflow scoring script builds them.

A column signature becomes a pandas split-orient DataFrame, a tensor signature a numpy array (named tensors a dict
of arrays), and no signature (or one of another kind) a passthrough: run() then parses the input itself, as Azure
does (`untyped_input`).
"""

from __future__ import annotations

import json
import logging
from io import StringIO
from typing import Any

import numpy as np
from inference_schema.parameter_types.abstract_parameter_type import AbstractParameterType
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.parameter_types.pandas_parameter_type import PandasParameterType
from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType

logger = logging.getLogger("modelyard.mlflow")

#: The keys of a pandas split-orient document; a dict holding all three is read as a DataFrame.
SPLIT_KEYS = frozenset({"columns", "index", "data"})


class Passthrough(AbstractParameterType):  # type: ignore[misc]  # inference-schema ships no types
    """Takes any JSON value unchanged; its swagger is that of an undecorated run(): any object."""

    def __init__(self) -> None:
        # A None sample: inference-schema then hands every non-null value to deserialize_input, which keeps it.
        super().__init__(None)

    def deserialize_input(self, input_data: Any) -> Any:
        """The value as it came."""
        return input_data

    def input_to_swagger(self) -> dict[str, Any]:
        """Any object, with an empty example."""
        return {"type": "object", "example": {}}


def is_typed(signature: Any) -> bool:
    """Whether the signature's inputs give run() a typed parameter (columns or tensors) rather than a passthrough."""
    return _kind(signature.inputs if signature is not None else None) != "other"


def input_type(signature: Any) -> AbstractParameterType:
    """The parameter type of run()'s `input_data`: split DataFrame, ndarray, dict of ndarrays, or passthrough."""
    return _schema_type(signature.inputs if signature is not None else None, orient="split")


def output_type(signature: Any) -> AbstractParameterType:
    """The swagger type of run()'s result; a DataFrame result is answered as records."""
    return _schema_type(signature.outputs if signature is not None else None, orient="records")


def params_type(signature: Any) -> AbstractParameterType:
    """The type of run()'s optional `params`: a dict sampled by the param schema's defaults, else passthrough."""
    schema = getattr(signature, "params", None) if signature is not None else None
    if schema is None or not schema.params:
        return Passthrough()
    sample = {spec.name: spec.default for spec in schema.params if spec.default is not None}
    try:
        described = StandardPythonParameterType(sample)
        described.input_to_swagger()  # what the decorator calls at import: fail here, where there is a fallback
    except Exception as exc:  # a default inference-schema cannot describe: the params still pass through
        logger.warning("The model's params schema cannot be described in swagger (%s); params pass through", exc)
        return Passthrough()
    return described


def untyped_input(value: Any) -> Any:
    """An input with no typed signature as Azure reads it: list to ndarray, split dict to DataFrame, dict to tensors."""
    # Anything else (a string, a number) is passed on as it came: a transformers model takes strings.
    if isinstance(value, list):
        return np.asarray(value)
    if isinstance(value, dict):
        if value.keys() >= SPLIT_KEYS:
            import pandas as pd

            return pd.read_json(StringIO(json.dumps(value)), orient="split", dtype=False)
        return {name: np.asarray(item) for name, item in value.items()}
    return value


def _kind(schema: Any) -> str:
    if schema is None or not schema.inputs:
        return "other"
    from mlflow.types.schema import ColSpec, TensorSpec

    if all(isinstance(spec, ColSpec) for spec in schema.inputs):
        return "columns"
    if all(isinstance(spec, TensorSpec) for spec in schema.inputs):
        return "tensors"
    return "other"


def _schema_type(schema: Any, orient: str) -> AbstractParameterType:
    kind = _kind(schema)
    if kind == "columns":
        return PandasParameterType(_empty_frame(schema), enforce_shape=False, orient=orient)
    if kind == "tensors":
        if schema.has_input_names():
            return StandardPythonParameterType({spec.name: _array_type(spec) for spec in schema.inputs})
        return _array_type(schema.inputs[0])
    return Passthrough()


def _empty_frame(schema: Any) -> Any:
    """A DataFrame with no rows and the signature's columns, each of its pandas type (object where none fits)."""
    import pandas as pd
    from mlflow.types import DataType

    columns: dict[Any, Any] = {}
    for index, spec in enumerate(schema.inputs):
        dtype = spec.type.to_pandas() if isinstance(spec.type, DataType) else object  # Array, Object, Map, Any
        columns[spec.name if spec.name is not None else index] = pd.Series(dtype=dtype)
    return pd.DataFrame(columns)


def _array_type(spec: Any) -> NumpyParameterType:
    # Variable dimensions (-1) become 1, so the sample has the signature's rank and a row to show in swagger.
    shape = tuple(1 if size == -1 else size for size in (spec.shape or (-1,)))
    return NumpyParameterType(np.zeros(shape, dtype=spec.type), enforce_shape=False)

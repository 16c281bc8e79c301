"""The files an MLflow batch deployment scores, read as Azure reads them: tables into DataFrames, images into arrays."""

from __future__ import annotations

import os
from typing import Any, Literal

import numpy as np

from runtime.errors import SpecError

TABULAR = (".csv", ".parquet", ".pqt")
IMAGES = (".png", ".jpg", ".jpeg", ".tiff", ".bmp", ".gif")

Kind = Literal["tabular", "image"]

#: Signature types a numeric column is cast to, so that a column of whole numbers in a file (read as int64)
#: meets a double column: MLflow's schema check refuses int64 to float64 as an unsafe conversion.
_FLOAT_TYPES = frozenset({"double", "float"})


def kind_of(path: str) -> Kind:
    """Whether the file is a table or an image; SpecError naming the file and the types allowed if neither."""
    extension = os.path.splitext(path)[1].lower()
    if extension in TABULAR:
        return "tabular"
    if extension in IMAGES:
        return "image"
    what = f"{extension} files" if extension else "files without an extension"
    raise SpecError(
        f"{os.path.basename(path)}: an MLflow model's batch deployment cannot read {what}; "
        f"it reads {', '.join(TABULAR)} (tables) and {', '.join(IMAGES)} (images)"
    )


def read_table(path: str, signature: Any) -> Any:
    """The file as a pandas DataFrame, its numeric columns cast to the signature's float columns."""
    import pandas as pd

    if path.lower().endswith(".csv"):
        frame = pd.read_csv(path)
    else:
        try:
            frame = pd.read_parquet(path)
        except ImportError as exc:
            raise SpecError(
                f"{os.path.basename(path)}: reading parquet files needs pyarrow, which is not in the model's "
                "environment; add pyarrow to the model's conda.yaml or requirements.txt"
            ) from exc
    return _typed(frame, signature)


def read_image(path: str, signature: Any) -> Any:
    """The image as an ndarray (uint8, as Pillow decodes it), shaped and typed for a tensor signature."""
    try:
        from PIL import Image
    except ImportError as exc:
        raise SpecError(
            f"{os.path.basename(path)}: reading images needs Pillow, which is not in the model's environment; "
            "add pillow to the model's conda.yaml or requirements.txt"
        ) from exc
    with Image.open(path) as image:
        array = np.asarray(image)
    inputs = signature.inputs if signature is not None else None
    if inputs is None or not inputs.is_tensor_spec() or inputs.has_input_names():
        return array
    spec = inputs.inputs[0]
    shape = tuple(spec.shape or ())
    if len(shape) == array.ndim + 1:
        # The signature's first axis is the batch: one image is a batch of one.
        array = array[np.newaxis, ...]
    return array.astype(spec.type, copy=False)


def _typed(frame: Any, signature: Any) -> Any:
    inputs = signature.inputs if signature is not None else None
    if inputs is None or inputs.is_tensor_spec():
        return frame
    from mlflow.types import DataType

    for spec in inputs.inputs:
        name = spec.name
        if name is None or name not in frame.columns or not isinstance(spec.type, DataType):
            continue
        if spec.type.name in _FLOAT_TYPES and frame[name].dtype.kind in "iub":
            frame[name] = frame[name].astype(spec.type.to_pandas())
    return frame

"""The batch scoring script of an MLflow no-code deployment: init() loads the pyfunc model, run() scores files.

Each table (.csv, .parquet, .pqt) gives one line per row, `row,prediction,file_name`; each image one line,
`prediction,file_name`: comma-separated with the csv module's quoting, no header, `row` the row's position in its
file and `file_name` the file's base name, the columns Azure documents for MLflow batch output. A file of another
type fails the whole mini-batch, as on Azure. Folders in a mini-batch are not explored.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
from typing import Any

from runtime.worker.mlflow_scoring import common, files

logger = logging.getLogger("modelyard.mlflow")

_model: Any = None
_signature: Any = None


def init() -> None:
    """Load the pyfunc model named by AZUREML_MODEL_DIR and MLFLOW_MODEL_FOLDER."""
    global _model, _signature
    import mlflow.pyfunc

    path = common.model_path()
    logger.info("Loading the MLflow model in %s", path)
    _model = mlflow.pyfunc.load_model(path)
    _signature = _model.metadata.signature


def run(mini_batch: list[str]) -> list[str]:
    """Score every file of the mini-batch; the output lines, in file order."""
    # Every file's type is checked before any is scored: a mini-batch that will fail fails before the work.
    kinds = [(path, files.kind_of(path)) for path in mini_batch if not os.path.isdir(path)]
    lines: list[str] = []
    for path, kind in kinds:
        name = os.path.basename(path)
        if kind == "tabular":
            frame = files.read_table(path, _signature)
            if len(frame) == 0:
                continue
            for row, value in enumerate(_per_row(_model.predict(frame))):
                lines.append(_line(row, value, name))
        else:
            values = _per_row(_model.predict(files.read_image(path, _signature)))
            lines.append(_line(values[0] if len(values) == 1 else values, name))
    return lines


def _per_row(prediction: Any) -> list[Any]:
    """One value per input row: a scalar, or a list where the model predicts several values for a row."""
    import numpy as np
    import pandas as pd

    if isinstance(prediction, pd.DataFrame):
        if len(prediction.columns) == 1:
            return list(prediction.iloc[:, 0].tolist())
        return list(prediction.to_numpy().tolist())
    if isinstance(prediction, pd.Series):
        return list(prediction.tolist())
    if isinstance(prediction, np.ndarray):
        return list(prediction.tolist()) if prediction.ndim else [prediction.item()]
    if isinstance(prediction, (list, tuple)):
        return list(prediction)
    return [prediction]


def _line(*fields: Any) -> str:
    buffer = io.StringIO()
    # A list prediction is written as its str(), which holds commas: the csv module quotes it.
    csv.writer(buffer, lineterminator="").writerow([_text(field) for field in fields])
    return buffer.getvalue()


def _text(field: Any) -> str:
    # A missing prediction is an empty field, as pandas' to_csv writes one.
    if field is None or (isinstance(field, float) and math.isnan(field)):
        return ""
    return str(field)

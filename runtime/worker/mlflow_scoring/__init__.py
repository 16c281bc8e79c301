"""The scoring scripts modelyard serves an MLflow model with, as Azure generates one for a no-code deployment.

`score.py` is the online script and `batch_driver.py` the batch one. A worker loads either by path, exactly as it
loads a user's script (AML_APP_ROOT is this folder, AZUREML_ENTRY_SCRIPT the file's name), with AZUREML_MODEL_DIR
and MLFLOW_MODEL_FOLDER naming the folder that holds the MLmodel file. They need mlflow-skinny and pandas in the
model's environment; the other modules here are their shared parts.
"""

"""Azure's curated environments, as the Python packages their images carry (from Azure/azureml-assets).

A curated name is `AzureML-<family>[-ubuntuXX.XX][-pyNN][-cpu|-gpu|-cudaX|-inference]`; registries spell the
family alone (`azureml://registries/azureml/environments/sklearn-1.5/...`). Each family keeps the packages a
scoring script can import; the Azure ML SDK, the serving stack and the training tools (debugpy, py-spy,
tensorboard, ...) are left out, as every environment here is served by modelyard itself.
"""

from __future__ import annotations

import re

import msgspec
from packaging.specifiers import SpecifierSet

from runtime.envs.conda import interpreter_note
from runtime.envs.requirements import RequirementSet, parse_requirements


class _Family(msgspec.Struct, frozen=True):
    python: str
    packages: tuple[str, ...]


_SKLEARN_BASE = ("joblib~=1.2.0", "matplotlib~=3.5.0", "psutil~=5.8.0", "tqdm~=4.66.3")
_FAMILIES: dict[str, _Family] = {
    "minimal": _Family("3.8", ()),
    "sklearn-1.0": _Family(
        "3.9", ("scikit-learn~=1.0.0", "pandas~=1.3.0", "scipy~=1.10.0", "numpy~=1.22.0", *_SKLEARN_BASE)
    ),
    "sklearn-1.1": _Family(
        "3.9", ("scikit-learn~=1.1.0", "pandas~=1.3.0", "scipy~=1.10.0", "numpy~=1.22.0", *_SKLEARN_BASE)
    ),
    "sklearn-1.5": _Family(
        "3.10", ("scikit-learn~=1.5.0", "pandas~=1.5.3", "scipy~=1.10.0", "numpy~=1.22.0", *_SKLEARN_BASE)
    ),
    "lightgbm-3.3": _Family(
        "3.10",
        (
            "lightgbm>=4.6.0",
            "scikit-learn~=1.5.1",
            "xgboost~=1.7.6",
            "pandas~=1.5.3",
            "scipy~=1.10.0",
            "numpy~=1.22.0",
            "matplotlib~=3.5.0",
            "psutil~=5.8.0",
            "tqdm~=4.66.3",
        ),
    ),
    "tensorflow-2.12": _Family(
        "3.8",
        (
            "tensorflow~=2.12.0",
            "tensorflow-datasets~=4.5.0",
            "protobuf~=4.22.0",
            "pandas~=1.3.0",
            "scipy~=1.7.0",
            "numpy~=1.22.0",
            "matplotlib~=3.5.0",
            "psutil~=5.8.0",
            "tqdm~=4.62.0",
        ),
    ),
    "tensorflow-2.16": _Family(
        "3.10",
        (
            "tensorflow==2.16.2",
            "tensorflow-datasets~=4.9.0",
            "keras==3.12.1",
            "tf-keras==2.16.0",
            "pandas==2.2.2",
            "numpy==1.23.5.*",
            "scipy~=1.14.0",
            "matplotlib~=3.5.0",
            "psutil~=5.8.0",
            "tqdm~=4.66.3",
            "pillow==12.1.1",
        ),
    ),
    "pytorch-1.10": _Family("3.8", ("torch~=1.10.0", "torchvision~=0.11.0", "numpy", "pandas", "scipy")),
    "pytorch-1.13": _Family("3.8", ("torch~=1.13.0", "torchvision~=0.14.0", "numpy", "pandas", "scipy")),
    "acpt-pytorch-1.13": _Family("3.8", ("torch==1.13.1", "numpy", "pandas", "scipy")),
    "mlflow": _Family("3.9", ("mlflow-skinny", "pandas", "pyarrow")),
}
_FAMILIES["tensorflow-2.11"] = msgspec.structs.replace(
    _FAMILIES["tensorflow-2.12"],
    packages=(
        "tensorflow~=2.11.0",
        *(p for p in _FAMILIES["tensorflow-2.12"].packages if not p.startswith("tensorflow~")),
    ),
)

#: The curated environments' full names, as users write them; other spellings of a family are accepted too.
CURATED_NAMES = (
    "AzureML-minimal-ubuntu20.04-py38-cpu",
    "AzureML-minimal-ubuntu22.04-py311-cpu",
    "AzureML-sklearn-1.0-ubuntu20.04-py38-cpu",
    "AzureML-sklearn-1.1-ubuntu20.04-py38-cpu",
    "AzureML-sklearn-1.5",
    "AzureML-lightgbm-3.3",
    "AzureML-tensorflow-2.11-cuda11",
    "AzureML-tensorflow-2.12-cuda11",
    "AzureML-tensorflow-2.16-cuda12",
    "AzureML-pytorch-1.10-ubuntu18.04-py38-cuda11-gpu",
    "AzureML-pytorch-1.13-ubuntu20.04-py38-cuda11.7-gpu",
    "AzureML-ACPT-pytorch-1.13-py38-cuda11.7-gpu",
    "AzureML-mlflow-ubuntu20.04-py38-cpu",
)

_SUFFIX = r"(?:ubuntu\d+(?:\.\d+)?|py3\.?\d+|cpu|gpu|cuda\d+(?:\.\d+)*|inference|openmpi[\d.]*)"
_NAME = re.compile(rf"(?:azureml-)?(?P<family>[a-z0-9.-]+?)(?P<suffixes>(?:-{_SUFFIX})*)")
_PYTHON = re.compile(r"-py3\.?(\d+)")


def curated(name: str) -> RequirementSet | None:
    """The requirement set of the curated environment `name` (any case); None when it is not one modelyard knows."""
    match = _NAME.fullmatch(name.strip().lower())
    family = _FAMILIES.get(match["family"]) if match else None
    if match is None or family is None:
        return None
    in_name = _PYTHON.search(match["suffixes"])
    python = f"3.{in_name[1]}" if in_name else family.python
    reqs = parse_requirements(family.packages, where=f"curated environment {name}")
    note = (
        f"curated environment {name}: modelyard installs its Python packages; the Azure ML SDK and training tools "
        "in Azure's image are left out (list them in a conda file if the scoring script imports them)"
    )
    other = interpreter_note(f"Python {python}", SpecifierSet(f"=={python}.*"))
    return msgspec.structs.replace(
        reqs,
        python=python,
        notes=(note, *([other] if other else [])),
        source=f"curated environment {name}",
    )

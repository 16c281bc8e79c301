"""Instance types: what `instance_type: Standard_DS3_v2` (or a local name like `cpu4`) means on this machine."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import msgspec

from runtime.errors import SpecError
from runtime.spec._decode import decode, parse_yaml
from runtime.spec.deployment import ResourceRequirements


class InstanceShape(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The cores, GPUs and memory one instance of a deployment gets."""

    cores: Annotated[int, msgspec.Meta(ge=1)]
    gpus: Annotated[int, msgspec.Meta(ge=0)] = 0
    memory_gib: Annotated[float, msgspec.Meta(gt=0)]


def _shape(cores: int, memory_gib: float, gpus: int = 0) -> InstanceShape:
    return InstanceShape(cores=cores, gpus=gpus, memory_gib=float(memory_gib))


# vCPUs, memory and GPUs as Azure's VM size pages list them.
_AZURE: dict[str, InstanceShape] = {
    "Standard_DS1_v2": _shape(1, 3.5),
    "Standard_DS2_v2": _shape(2, 7),
    "Standard_DS3_v2": _shape(4, 14),
    "Standard_DS4_v2": _shape(8, 28),
    "Standard_DS5_v2": _shape(16, 56),
    **{f"Standard_D{n}as_v4": _shape(n, 4 * n) for n in (2, 4, 8, 16, 32, 48, 64, 96)},
    **{f"Standard_D{n}s_v3": _shape(n, 4 * n) for n in (2, 4, 8, 16, 32, 48, 64)},
    **{f"Standard_F{n}s_v2": _shape(n, 2 * n) for n in (2, 4, 8, 16, 32, 48, 64, 72)},
    **{f"Standard_E{n}s_v3": _shape(n, 8 * n) for n in (2, 4, 8, 16, 20, 32, 48)},
    "Standard_E64s_v3": _shape(64, 432),
    "Standard_NC4as_T4_v3": _shape(4, 28, gpus=1),
    "Standard_NC8as_T4_v3": _shape(8, 56, gpus=1),
    "Standard_NC16as_T4_v3": _shape(16, 110, gpus=1),
    "Standard_NC64as_T4_v3": _shape(64, 440, gpus=4),
    "Standard_NC6s_v3": _shape(6, 112, gpus=1),
    "Standard_NC12s_v3": _shape(12, 224, gpus=2),
    "Standard_NC24s_v3": _shape(24, 448, gpus=4),
    "Standard_NC24ads_A100_v4": _shape(24, 220, gpus=1),
    "Standard_NC48ads_A100_v4": _shape(48, 440, gpus=2),
    "Standard_NC96ads_A100_v4": _shape(96, 880, gpus=4),
    "Standard_ND96asr_v4": _shape(96, 900, gpus=8),
    "Standard_ND96amsr_A100_v4": _shape(96, 1900, gpus=8),
    "Standard_NC40ads_H100_v5": _shape(40, 320, gpus=1),
    "Standard_NC80adis_H100_v5": _shape(80, 640, gpus=2),
    "Standard_ND96isr_H100_v5": _shape(96, 1900, gpus=8),
}

#: The instance type Azure's Kubernetes extension creates on every cluster and uses when a Kubernetes deployment
#: names none; here it is one core and 2 GiB, the size of a small Kubernetes pod.
DEFAULT_INSTANCE_TYPE = "defaultinstancetype"

# Local names for sizing by hand: cpuN is N cores with 2 GiB each; gpuN is N GPUs, one core and 8 GiB per GPU.
_LOCAL: dict[str, InstanceShape] = {
    DEFAULT_INSTANCE_TYPE: _shape(1, 2),
    **{f"cpu{n}": _shape(n, 2 * n) for n in (1, 2, 4, 8, 16, 32)},
    **{f"gpu{n}": _shape(n, 8 * n, gpus=n) for n in (1, 2, 4, 8)},
}

#: Every built-in instance type, Azure SKUs first, by their canonical spelling.
BUILTIN_INSTANCE_TYPES: Mapping[str, InstanceShape] = {**_AZURE, **_LOCAL}


def resolve_instance_type(name: str, extra: Mapping[str, InstanceShape] | None = None) -> InstanceShape:
    """Look up an instance type case-insensitively; the user's own types (`extra`) win over the built-in ones."""
    tables = [extra or {}, BUILTIN_INSTANCE_TYPES]
    for table in tables:
        for known, shape in table.items():
            if known.lower() == name.lower():
                return shape
    names = [known for table in tables for known in table]
    close = difflib.get_close_matches(name.lower(), [n.lower() for n in names], n=1)
    hint = f"did you mean {next(n for n in names if n.lower() == close[0])}? " if close else ""
    raise SpecError(
        f"unknown instance_type {name!r}; {hint}use an Azure size such as Standard_DS3_v2 or a local name "
        f"(cpu1, cpu2, cpu4, cpu8, gpu1, gpu2, ..., or {DEFAULT_INSTANCE_TYPE} on Kubernetes), or add it to "
        f"instance_types.yml in the state directory, e.g. `{name}: {{cores: 4, gpus: 0, memory_gib: 8}}`"
    )


def load_instance_types(path: Path) -> dict[str, InstanceShape]:
    """Read the user's instance types (`name: {cores, gpus, memory_gib}`); a missing file means none."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    raw = parse_yaml(text, label=str(path)) if text.strip() else {}
    result: dict[str, InstanceShape] = decode(raw, dict[str, InstanceShape], label=str(path))
    return result


def shape_from_resources(resources: ResourceRequirements) -> InstanceShape:
    """Size an instance from Kubernetes requests (falling back to limits): cores = ceil(cpu), at least 1."""
    cpu = _quantity(resources, "cpu", "cpu")
    gpu = _quantity(resources, "gpu", "nvidia.com/gpu")
    memory = _quantity(resources, "memory", "memory")
    cores = max(1, math.ceil(cpu)) if cpu is not None else 1
    gpus = math.ceil(gpu) if gpu is not None else 0
    memory_gib = memory / 2**30 if memory else 2.0 * cores
    return InstanceShape(cores=cores, gpus=gpus, memory_gib=memory_gib)


def _quantity(resources: ResourceRequirements, attr: str, key: str) -> float | None:
    for part in ("requests", "limits"):
        text: str | None = getattr(getattr(resources, part), attr)
        if text:
            return parse_quantity(text, where=f"$.resources.{part}.{key}")
    return None


_SUFFIXES = {
    "m": 1e-3,
    "": 1.0,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
    "Pi": 2.0**50,
    "Ei": 2.0**60,
}
_QUANTITY_RE = re.compile(r"(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE](?P<exp>[-+]?[0-9]+))?(?P<suffix>[a-zA-Z]*)")


def parse_quantity(text: str, *, where: str) -> float:
    """Parse a Kubernetes quantity ("500m", "2", "0.1Gi", "200Mi", "1e3") to a plain number."""
    match = _QUANTITY_RE.fullmatch(text.strip())
    if match is None or match["suffix"] not in _SUFFIXES or (match["exp"] and match["suffix"]):
        raise SpecError(f"{where}: {text!r} is not a Kubernetes quantity (e.g. 500m, 2, 0.5Gi, 200Mi)")
    number = float(match["number"]) * 10.0 ** int(match["exp"] or 0)
    return number * _SUFFIXES[match["suffix"]]

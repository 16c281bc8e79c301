"""Instance types: Azure SKUs, local names, the user's own file, and Kubernetes resource requests."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.errors import SpecError
from runtime.spec import (
    InstanceShape,
    ResourceRequirements,
    ResourceSettings,
    load_instance_types,
    parse_quantity,
    resolve_instance_type,
    shape_from_resources,
)


@pytest.mark.parametrize(
    ("name", "cores", "gpus", "memory_gib"),
    [
        ("Standard_DS1_v2", 1, 0, 3.5),
        ("Standard_DS3_v2", 4, 0, 14),
        ("Standard_D16as_v4", 16, 0, 64),
        ("Standard_F72s_v2", 72, 0, 144),
        ("Standard_E64s_v3", 64, 0, 432),
        ("Standard_NC4as_T4_v3", 4, 1, 28),
        ("Standard_NC64as_T4_v3", 64, 4, 440),
        ("Standard_NC24s_v3", 24, 4, 448),
        ("Standard_NC24ads_A100_v4", 24, 1, 220),
        ("Standard_ND96amsr_A100_v4", 96, 8, 1900),
        ("Standard_NC40ads_H100_v5", 40, 1, 320),
        ("Standard_ND96isr_H100_v5", 96, 8, 1900),
        ("cpu4", 4, 0, 8),
        ("gpu2", 2, 2, 16),
        ("defaultinstancetype", 1, 0, 2),
        ("DefaultInstanceType", 1, 0, 2),
    ],
)
def test_builtin_shapes(name: str, cores: int, gpus: int, memory_gib: float) -> None:
    assert resolve_instance_type(name) == InstanceShape(cores=cores, gpus=gpus, memory_gib=memory_gib)


def test_lookup_is_case_insensitive() -> None:
    assert resolve_instance_type("standard_ds3_V2") == resolve_instance_type("Standard_DS3_v2")
    assert resolve_instance_type("CPU2").cores == 2


def test_unknown_type_suggests_a_close_name_and_how_to_add_one() -> None:
    with pytest.raises(SpecError) as info:
        resolve_instance_type("Standard_DS3v2")
    message = info.value.message
    assert message.startswith("unknown instance_type 'Standard_DS3v2'; did you mean Standard_DS3_v2? ")
    assert "cpu1, cpu2, cpu4" in message
    assert "instance_types.yml in the state directory" in message


def test_user_types_extend_and_override_the_builtins(tmp_path: Path) -> None:
    path = tmp_path / "instance_types.yml"
    path.write_text("my-box: {cores: 3, gpus: 0, memory_gib: 6}\ncpu2: {cores: 2, memory_gib: 1.5}\n")
    extra = load_instance_types(path)
    assert extra == {
        "my-box": InstanceShape(cores=3, gpus=0, memory_gib=6),
        "cpu2": InstanceShape(cores=2, gpus=0, memory_gib=1.5),
    }
    assert resolve_instance_type("MY-BOX", extra).cores == 3
    assert resolve_instance_type("cpu2", extra).memory_gib == 1.5
    assert resolve_instance_type("cpu2").memory_gib == 4


def test_missing_or_empty_user_file_means_no_types(tmp_path: Path) -> None:
    assert load_instance_types(tmp_path / "absent.yml") == {}
    (tmp_path / "empty.yml").write_text("\n")
    assert load_instance_types(tmp_path / "empty.yml") == {}


def test_user_file_errors_name_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "instance_types.yml"
    path.write_text("my-box: {cores: 3, memory_gib: 6, disks: 2}\n")
    with pytest.raises(SpecError) as info:
        load_instance_types(path)
    assert info.value.message == f"{path}: $.my-box.disks: unknown key; allowed: cores, gpus, memory_gib"
    path.write_text("my-box: {cores: 0, memory_gib: 6}\n")
    with pytest.raises(SpecError, match=r"\$\.my-box\.cores: 0 is out of range: must be >= 1$"):
        load_instance_types(path)
    path.write_text("my-box: {cores: [3\n")
    with pytest.raises(SpecError, match=r"instance_types\.yml: line 2, column 1: invalid YAML"):
        load_instance_types(path)


def requirements(cpu: str | None = None, memory: str | None = None, gpu: str | None = None) -> ResourceRequirements:
    return ResourceRequirements(requests=ResourceSettings(cpu=cpu, memory=memory, gpu=gpu))


@pytest.mark.parametrize(("cpu", "cores"), [("500m", 1), ("0.1", 1), ("2", 2), ("2500m", 3), (None, 1)])
def test_cores_are_the_rounded_up_cpu_request(cpu: str | None, cores: int) -> None:
    assert shape_from_resources(requirements(cpu=cpu)).cores == cores


def test_gpus_and_memory_come_from_requests() -> None:
    shape = shape_from_resources(requirements(cpu="4", memory="16Gi", gpu="1"))
    assert shape == InstanceShape(cores=4, gpus=1, memory_gib=16.0)


def test_limits_are_used_when_requests_are_missing() -> None:
    resources = ResourceRequirements(limits=ResourceSettings(cpu="3", memory="512Mi"))
    assert shape_from_resources(resources) == InstanceShape(cores=3, gpus=0, memory_gib=0.5)


def test_memory_defaults_to_two_gib_per_core() -> None:
    assert shape_from_resources(requirements(cpu="2")).memory_gib == 4.0


@pytest.mark.parametrize(
    ("text", "value"),
    [("500m", 0.5), ("2", 2.0), ("1Ki", 1024.0), ("1k", 1000.0), ("1e3", 1000.0), ("1.5Gi", 1.5 * 2**30)],
)
def test_parse_quantity(text: str, value: float) -> None:
    assert parse_quantity(text, where="cpu") == value


@pytest.mark.parametrize("text", ["two", "2 cores", "1Gb", "-1", ""])
def test_bad_quantity_is_an_error(text: str) -> None:
    with pytest.raises(SpecError, match=r"^\$\.x: .* is not a Kubernetes quantity"):
        parse_quantity(text, where="$.x")

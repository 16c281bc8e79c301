import pytest

from runtime.control.allocator import Allocation, allocate
from runtime.errors import PlacementError


def test_instances_get_disjoint_core_sets_while_there_is_room() -> None:
    result = allocate(count=2, cores_per=2, gpus_per=0, machine_cores=[0, 1, 2, 3], machine_gpus=[], taken=[])
    assert [a.cores for a in result.allocations] == [(0, 1), (2, 3)]
    assert not any(a.shared for a in result.allocations)
    assert result.notes == ()


def test_existing_allocations_are_avoided() -> None:
    taken = [Allocation(cores=(0,))]
    result = allocate(count=1, cores_per=1, gpus_per=0, machine_cores=[0, 1], machine_gpus=[], taken=taken)
    assert result.allocations[0].cores == (1,)


def test_a_full_machine_shares_the_least_loaded_cores_and_says_so() -> None:
    taken = [Allocation(cores=(0,)), Allocation(cores=(1,)), Allocation(cores=(0,))]
    result = allocate(count=1, cores_per=1, gpus_per=0, machine_cores=[0, 1], machine_gpus=[], taken=taken)
    assert result.allocations[0] == Allocation(cores=(1,), shared=True)
    assert any("share" in n for n in result.notes)


def test_strict_placement_refuses_when_full() -> None:
    with pytest.raises(PlacementError, match="no room"):
        allocate(count=3, cores_per=1, gpus_per=0, machine_cores=[0, 1], machine_gpus=[], taken=[], placement="strict")


def test_more_cores_than_the_machine_has_gives_all_cores_with_a_note() -> None:
    result = allocate(count=1, cores_per=8, gpus_per=0, machine_cores=[0, 1], machine_gpus=[], taken=[])
    assert result.allocations[0].cores == (0, 1)
    assert any("8 cores" in n for n in result.notes)


def test_gpu_request_without_gpus_runs_on_cpu_with_a_note() -> None:
    result = allocate(count=1, cores_per=1, gpus_per=1, machine_cores=[0, 1], machine_gpus=[], taken=[])
    assert result.allocations[0].gpus == ()
    assert any("no GPU" in n for n in result.notes)


def test_gpus_are_spread_one_per_instance() -> None:
    result = allocate(count=2, cores_per=1, gpus_per=1, machine_cores=[0, 1, 2, 3], machine_gpus=[0, 1], taken=[])
    assert [a.gpus for a in result.allocations] == [(0,), (1,)]


def test_placement_notes_read_as_sentences_naming_the_deployment() -> None:
    taken = [Allocation(cores=(0,)), Allocation(cores=(1,))]
    one = allocate(
        count=2, cores_per=1, gpus_per=0, machine_cores=[0, 1, 2], machine_gpus=[], taken=taken, deployment="green"
    )
    assert one.notes == ("1 of 2 instances of green share cores with other instances, because the machine is full.",)
    big = allocate(count=1, cores_per=8, gpus_per=0, machine_cores=[0, 1], machine_gpus=[], taken=[], deployment="blue")
    assert big.notes[0] == "Each instance of blue asks for 8 cores but this machine has 2, so each gets all of them."
    with pytest.raises(PlacementError, match="^no room for instance 1 of blue: it needs 1 free core"):
        allocate(
            count=2,
            cores_per=1,
            gpus_per=0,
            machine_cores=[0],
            machine_gpus=[],
            taken=[],
            placement="strict",
            deployment="blue",
        )

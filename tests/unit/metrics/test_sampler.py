import pytest

from runtime.metrics.sampler import gpu_indices, visible_gpus

UUIDS = ["GPU-aaaa1111-0000", "GPU-bbbb2222-0000", "GPU-cccc3333-0000"]


def test_cuda_visible_devices_by_index_and_by_uuid_prefix_pick_those_gpus_in_that_order() -> None:
    assert visible_gpus("2,0", UUIDS) == [2, 0]
    assert visible_gpus("GPU-bbbb, 0", UUIDS) == [1, 0]


def test_the_list_ends_at_the_first_entry_that_names_no_gpu_as_in_cuda() -> None:
    assert visible_gpus("1,7,0", UUIDS) == [1]
    assert visible_gpus("0,GPU-ffff,2", UUIDS) == [0]
    assert visible_gpus("0,0,1", UUIDS) == [0]
    assert visible_gpus("-1", UUIDS) == []


def test_an_empty_cuda_visible_devices_hides_every_gpu_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    gpus, note = gpu_indices()
    assert gpus == [] and "CUDA_VISIBLE_DEVICES is empty" in note

"""The only module that touches psutil and pynvml: what the machine has, and what each worker uses."""

from __future__ import annotations

import logging
import os

import psutil

log = logging.getLogger("modelyard.sampler")


def usable_cores() -> list[int]:
    """The CPU cores this process may run on (its affinity mask), in order."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return list(range(psutil.cpu_count() or 1))


def gpu_indices() -> tuple[list[int], str]:
    """NVIDIA GPUs seen through NVML and allowed by CUDA_VISIBLE_DEVICES, and a note when there are none."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and not visible.strip():
        return [], "CUDA_VISIBLE_DEVICES is empty in the environment of serve, which hides every GPU"
    try:
        import pynvml
    except ImportError:
        return [], "pynvml is not installed"
    try:
        pynvml.nvmlInit()
    except Exception as exc:  # NVMLError subclasses vary by driver; any failure means no usable GPU
        return [], f"NVML unavailable ({exc})"
    try:
        count = pynvml.nvmlDeviceGetCount()
        if visible is None:
            return list(range(count)), ""
        uuids = [_text(pynvml.nvmlDeviceGetUUID(pynvml.nvmlDeviceGetHandleByIndex(i))) for i in range(count)]
    finally:
        pynvml.nvmlShutdown()
    chosen = visible_gpus(visible, uuids)
    note = "" if chosen else f"CUDA_VISIBLE_DEVICES={visible!r} in the environment of serve names none of the GPUs"
    return chosen, note


def visible_gpus(visible: str, uuids: list[str]) -> list[int]:
    """The NVML indices CUDA_VISIBLE_DEVICES names, read as CUDA reads it.

    Entries are indices or (prefixes of) GPU UUIDs; as in CUDA, the list ends at the first entry that names no
    device or names one again. Workers are then given the same NVML (PCI bus) indices.
    """
    chosen: list[int] = []
    for item in (part.strip() for part in visible.split(",")):
        if item.isascii() and item.isdigit():
            index = int(item)
        else:
            index = next((i for i, u in enumerate(uuids) if item.startswith("GPU-") and u.startswith(item)), -1)
        if not 0 <= index < len(uuids) or index in chosen:
            break
        chosen.append(index)
    return chosen


def _text(value: object) -> str:
    # Older nvidia-ml-py releases return bytes where newer ones return str.
    return value.decode() if isinstance(value, bytes) else str(value)


def rss_bytes(pid: int) -> int | None:
    """Resident memory of one process, or None if it is gone."""
    try:
        return int(psutil.Process(pid).memory_info().rss)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None

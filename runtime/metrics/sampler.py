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
    """NVIDIA GPUs seen through NVML, and a note when none could be listed (no driver, no pynvml)."""
    try:
        import pynvml
    except ImportError:
        return [], "pynvml is not installed"
    try:
        pynvml.nvmlInit()
    except Exception as exc:  # NVMLError subclasses vary by driver; any failure means no usable GPU
        return [], f"NVML unavailable ({exc})"
    try:
        return list(range(pynvml.nvmlDeviceGetCount())), ""
    finally:
        pynvml.nvmlShutdown()


def rss_bytes(pid: int) -> int | None:
    """Resident memory of one process, or None if it is gone."""
    try:
        return int(psutil.Process(pid).memory_info().rss)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None

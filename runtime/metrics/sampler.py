"""The only module that touches psutil and pynvml: what the machine has, and what each worker uses."""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any

import msgspec
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


class ProcessReading(msgspec.Struct, frozen=True):
    """One worker process over one sample period."""

    cpu_percent: float | None  #: of its own core set; None on the first reading of a process
    rss_bytes: int


class ProcessSampler:
    """CPU % of each worker's own core set and its RSS, from cpu_times deltas between calls.

    The psutil.Process objects are kept between calls (one /proc read per worker and sample); a pid that stops
    being asked for is forgotten, so a later process that reuses it starts afresh.
    """

    def __init__(self) -> None:
        self._procs: dict[int, tuple[psutil.Process, float, float]] = {}  #: pid -> process, cpu seconds, when

    def sample(self, workers: dict[int, int], now: float) -> dict[int, ProcessReading]:
        """Readings for `workers` (pid -> cores it may use) at monotonic time `now`; gone processes are left out."""
        out: dict[int, ProcessReading] = {}
        kept: dict[int, tuple[psutil.Process, float, float]] = {}
        for pid, cores in workers.items():
            known = self._procs.get(pid)
            try:
                proc = known[0] if known is not None else psutil.Process(pid)
                with proc.oneshot():
                    times = proc.cpu_times()
                    rss = int(proc.memory_info().rss)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            cpu = times.user + times.system
            percent = None
            if known is not None and now > known[2] and cpu >= known[1]:
                percent = round(100.0 * (cpu - known[1]) / ((now - known[2]) * max(cores, 1)), 1)
            kept[pid] = (proc, cpu, now)
            out[pid] = ProcessReading(percent, rss)
        self._procs = kept
        return out


class GpuReading(msgspec.Struct, frozen=True):
    """One GPU at one moment, and the GPU memory each process on it holds."""

    index: int
    name: str
    utilization_percent: float | None
    memory_used_bytes: int | None
    memory_total_bytes: int | None
    processes: dict[int, int]  #: pid -> GPU memory in bytes (NVML's compute-process list)
    #: pid -> mean SM utilization % of its samples since the last reading (NVML's process utilization samples;
    #: empty where the GPU does not keep them)
    process_utilization: dict[int, float] = {}


class GpuSampler:
    """Utilization and memory of the GPUs serve hands out, through NVML, initialised once.

    No pynvml, no driver, no GPU or any NVML error: `sample` returns nothing and `note` says why; it never raises.
    """

    def __init__(self, indices: list[int]) -> None:
        self.note = ""
        self._nvml: Any = None
        self._handles: list[tuple[int, Any, str]] = []
        self._seen: dict[int, int] = {}  #: GPU index -> timestamp (µs) of the newest process sample read
        if not indices:
            return
        try:
            import pynvml

            pynvml.nvmlInit()
            self._nvml = pynvml
            for index in indices:
                handle = pynvml.nvmlDeviceGetHandleByIndex(index)
                self._handles.append((index, handle, _text(pynvml.nvmlDeviceGetName(handle))))
        except Exception as exc:  # ImportError or any NVMLError: no GPU figures, and say why
            self.note = f"no GPU figures: NVML unavailable ({exc})"
            self.close()

    def sample(self) -> list[GpuReading]:
        """One reading per GPU; a GPU whose query fails is reported without figures."""
        nvml = self._nvml
        out: list[GpuReading] = []
        failed = ""
        for index, handle, name in self._handles:
            util = used = total = None
            processes: dict[int, int] = {}
            try:
                util = float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
                memory = nvml.nvmlDeviceGetMemoryInfo(handle)
                used, total = int(memory.used), int(memory.total)
                for proc in nvml.nvmlDeviceGetComputeRunningProcesses(handle):
                    held = proc.usedGpuMemory
                    processes[int(proc.pid)] = int(held) if isinstance(held, int) else 0
            except Exception as exc:  # a GPU that fell off the bus, a driver reset: keep the rest going
                if not self.note:  # once per spell of failures, not once a second
                    log.warning("NVML query of GPU %d failed: %s", index, exc)
                failed = f"NVML query of GPU {index} failed ({exc})"
            out.append(GpuReading(index, name, util, used, total, processes, self._process_utilization(index, handle)))
        if self._handles:
            self.note = failed  # cleared once the GPUs answer again
        return out

    def _process_utilization(self, index: int, handle: Any) -> dict[int, float]:
        try:
            samples = self._nvml.nvmlDeviceGetProcessUtilization(handle, self._seen.get(index, 0))
        except Exception:  # not supported by this GPU or driver, or no new samples (NVML reports both as errors)
            return {}
        by_pid: dict[int, list[float]] = {}
        for sample in samples:
            by_pid.setdefault(int(sample.pid), []).append(float(sample.smUtil))
            self._seen[index] = max(self._seen.get(index, 0), int(sample.timeStamp))
        return {pid: round(sum(v) / len(v), 1) for pid, v in by_pid.items()}

    def close(self) -> None:
        """Let go of NVML."""
        if self._nvml is not None:
            with contextlib.suppress(Exception):
                self._nvml.nvmlShutdown()
        self._nvml = None
        self._handles = []

"""Placement of deployment instances on CPU cores and GPUs: a pure function of a snapshot.

Each instance gets a disjoint core set (and GPU) while the machine has room. When it does not, instances share the
least-loaded cores and GPUs and the placement says so, unless the caller asked for strict placement, which refuses.
A request for GPUs on a machine without any runs on CPU with a note.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Literal

import msgspec

from runtime.errors import PlacementError

Placement = Literal["share", "strict"]


class Allocation(msgspec.Struct, frozen=True):
    """The cores and GPUs one instance runs on."""

    cores: tuple[int, ...]
    gpus: tuple[int, ...] = ()
    shared: bool = False  #: some of these cores or GPUs also serve another instance


class PlacementResult(msgspec.Struct, frozen=True):
    """Allocations for every requested instance, and notes for the user."""

    allocations: tuple[Allocation, ...]
    notes: tuple[str, ...] = ()


def allocate(
    *,
    count: int,
    cores_per: int,
    gpus_per: int,
    machine_cores: Sequence[int],
    machine_gpus: Sequence[int],
    taken: Iterable[Allocation],
    placement: Placement = "share",
    deployment: str = "",
) -> PlacementResult:
    """Place `count` instances needing `cores_per` cores and `gpus_per` GPUs next to the `taken` allocations.

    `deployment` names the instances in notes and errors, which read as sentences ("1 of 2 instances of green ...").
    """
    of = f" of {deployment}" if deployment else ""
    each = f"each instance{of}"
    if not machine_cores:
        raise PlacementError("this machine reports no usable CPU cores")
    core_use: Counter[int] = Counter(dict.fromkeys(machine_cores, 0))
    gpu_use: Counter[int] = Counter(dict.fromkeys(machine_gpus, 0))
    for alloc in taken:
        core_use.update(c for c in alloc.cores if c in core_use)
        gpu_use.update(g for g in alloc.gpus if g in gpu_use)

    notes: list[str] = []
    want_cores = max(1, cores_per)
    if want_cores > len(machine_cores):
        if placement == "strict":
            raise PlacementError(
                f"{each} needs {want_cores} cores but this machine has {len(machine_cores)}; "
                "use a smaller instance_type or --placement share"
            )
        notes.append(
            f"{each.capitalize()} asks for {want_cores} cores but this machine has {len(machine_cores)}, "
            "so each gets all of them."
        )
        want_cores = len(machine_cores)
    want_gpus = gpus_per
    if want_gpus and not machine_gpus:
        asked = "a GPU" if want_gpus == 1 else f"{want_gpus} GPUs"
        notes.append(f"{each.capitalize()} asks for {asked} but NVML finds no GPU on this machine, so it runs on CPU.")
        want_gpus = 0
    elif want_gpus > len(machine_gpus):
        if placement == "strict":
            raise PlacementError(f"{each} needs {want_gpus} GPUs but this machine has {len(machine_gpus)}")
        notes.append(
            f"{each.capitalize()} asks for {want_gpus} GPUs but this machine has {len(machine_gpus)}, "
            "so each gets all of them."
        )
        want_gpus = len(machine_gpus)

    allocations: list[Allocation] = []
    for i in range(count):
        cores, cores_shared = _take(core_use, want_cores)
        gpus, gpus_shared = _take(gpu_use, want_gpus)
        shared = cores_shared or gpus_shared
        if shared and placement == "strict":
            raise PlacementError(
                f"no room for instance {i}{of}: it needs {want_cores} free core(s)"
                + (f" and {want_gpus} free GPU(s)" if want_gpus else "")
                + f"; free now: {sum(1 for n in core_use.values() if n == 0)} core(s)"
                + (f", {sum(1 for n in gpu_use.values() if n == 0)} GPU(s)" if machine_gpus else "")
                + "; use --placement share to share cores"
            )
        allocations.append(Allocation(cores=cores, gpus=gpus, shared=shared))
    shared_count = sum(1 for a in allocations if a.shared)
    if shared_count:
        what = "cores or GPUs" if want_gpus else "cores"
        instances = f"instance{of} shares" if count == 1 else f"instances{of} share"
        notes.append(f"{shared_count} of {count} {instances} {what} with other instances, because the machine is full.")
    return PlacementResult(allocations=tuple(allocations), notes=tuple(notes))


def _take(use: Counter[int], n: int) -> tuple[tuple[int, ...], bool]:
    """Take the n least-used ids (lowest id first on ties) and count them as used."""
    if n == 0:
        return (), False
    chosen = sorted(sorted(use, key=lambda k: (use[k], k))[:n])
    shared = any(use[k] > 0 for k in chosen)
    for k in chosen:
        use[k] += 1
    return tuple(chosen), shared

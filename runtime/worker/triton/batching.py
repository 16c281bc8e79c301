"""Dynamic batching as pure functions: which waiting requests run together, and how tensors stack and split.

Requests stack when they are for the same model version and every input has the same dtype and the same
dimensions after the first: their inputs are joined along dimension 0 (in arrival order) up to the model's
max_batch_size, and each output is cut back into the requests' rows. A request that fits no open batch starts
the next one; requests that cannot stack with anything (a model without dynamic_batching, inputs whose first
dimensions differ, an empty batch) run alone.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from runtime.worker.triton.infer import Decoded
from runtime.worker.triton.repository import Model, ModelVersion

Feeds = dict[str, np.ndarray[Any, Any]]


@dataclass(slots=True)
class Pending:
    """A decoded inference request waiting in the worker for its run."""

    decoded: Decoded
    model: Model
    version: ModelVersion
    arrived: float  #: time.monotonic() when the worker read it
    samples: int  #: its batch size (1 for a model without a batch dimension)
    key: Hashable | None  #: requests with equal keys stack; None: it runs alone


def pending(decoded: Decoded, model: Model, version: ModelVersion, arrived: float) -> Pending:
    """A decoded request with its batch size and stacking key worked out."""
    samples = batch_of(decoded.feeds) if model.max_batch_size > 0 else 1
    key = stack_key(model.name, version.version, decoded.feeds) if model.policy.stacks else None
    return Pending(decoded, model, version, arrived, samples if samples is not None else 1, key)


def batch_of(feeds: Feeds) -> int | None:
    """The common first dimension of every input; None if they have none in common."""
    sizes = {array.shape[0] if array.ndim else None for array in feeds.values()}
    size = sizes.pop() if len(sizes) == 1 else None
    return size


def stack_key(model: str, version: int, feeds: Feeds) -> Hashable | None:
    """What requests must share to stack; None for feeds that cannot (no common batch size, or an empty one)."""
    if not batch_of(feeds):  # an empty batch runs alone, as it would have
        return None
    return (model, version, tuple((name, array.dtype.str, array.shape[1:]) for name, array in sorted(feeds.items())))


def group(items: Sequence[Pending], max_batch: int) -> list[list[Pending]]:
    """Items in runs of stackable requests, each at most `max_batch` samples, ordered by their first item."""
    groups: list[list[Pending]] = []
    open_: dict[Hashable, tuple[list[Pending], int]] = {}
    for item in items:
        if item.key is None:
            groups.append([item])
            continue
        current = open_.get(item.key)
        if current is None or current[1] + item.samples > max_batch:
            members = [item]
            groups.append(members)
            open_[item.key] = (members, item.samples)
        else:
            current[0].append(item)
            open_[item.key] = (current[0], current[1] + item.samples)
    return groups


def plan(
    queue: Sequence[Pending], now: float, *, flush: bool = False
) -> tuple[list[list[Pending]], list[Pending], float | None]:
    """Split the queue into groups to run now and requests that wait for more to join them.

    A batch waits only while it is the last one open for its key, holds fewer samples than the model's target
    (its largest preferred_batch_size, else max_batch_size) and its oldest request has waited less than
    max_queue_delay. Returns (groups to run now, requests still waiting, seconds until the first wait ends).
    """
    by_model: dict[int, list[Pending]] = {}
    for item in queue:
        by_model.setdefault(id(item.model), []).append(item)
    ready: list[list[Pending]] = []
    waiting: list[list[Pending]] = []
    deadline: float | None = None
    for items in by_model.values():
        policy = items[0].model.policy
        groups = group(items, policy.max_batch_size)
        last = {g[0].key: g for g in groups if g[0].key is not None}
        for g in groups:
            held = sum(item.samples for item in g)
            due = g[0].arrived + policy.max_queue_delay_s
            waits = g[0].key is not None and last[g[0].key] is g and held < policy.target and now < due
            if waits and not flush:
                waiting.append(g)
                deadline = due if deadline is None else min(deadline, due)
            else:
                ready.append(g)
    order = {id(item): index for index, item in enumerate(queue)}
    ready.sort(key=lambda g: order[id(g[0])])
    still = sorted((item for g in waiting for item in g), key=lambda item: order[id(item)])
    return ready, still, (max(0.0, deadline - now) if deadline is not None else None)


def stack(feeds: Sequence[Feeds]) -> Feeds:
    """The inputs of stackable requests joined along dimension 0, in order."""
    return {name: np.concatenate([f[name] for f in feeds], axis=0) for name in feeds[0]}


def split(values: Sequence[Any], sizes: Sequence[int]) -> list[list[np.ndarray[Any, Any]]] | None:
    """Each request's rows of every output; None when an output's first dimension is not the stacked batch."""
    total = sum(sizes)
    arrays = [np.asarray(value) for value in values]
    if any(array.ndim == 0 or array.shape[0] != total for array in arrays):
        return None
    bounds = np.cumsum([0, *sizes])
    return [[array[start:end] for array in arrays] for start, end in zip(bounds[:-1], bounds[1:], strict=True)]

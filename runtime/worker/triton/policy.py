"""How config.pbtxt asks a model to be scheduled: `max_batch_size`, `dynamic_batching` and `instance_group`.

Triton's meaning is kept: `max_batch_size > 0` says the first dimension of every tensor is the batch;
`dynamic_batching { }` (even empty) lets the server join concurrent requests along it, waiting at most
`max_queue_delay_microseconds` (default 0: only what is already waiting) for a `preferred_batch_size`;
`instance_group [ { count: K } ]` runs K copies of the model side by side. Fields Triton has and modelyard does not
act on (priority levels, queue policies, `gpus`) are accepted and ignored, as before.
"""

from __future__ import annotations

from typing import Any

import msgspec

from runtime.errors import SpecError
from runtime.worker.triton import pbtxt

_KINDS = ("KIND_AUTO", "KIND_CPU", "KIND_GPU", "KIND_MODEL")


class BatchPolicy(msgspec.Struct, frozen=True):
    """One model's scheduling: batch limit, dynamic batching and its instance count."""

    max_batch_size: int = 0  #: 0: the model takes no batch dimension, and requests never stack
    dynamic: bool = False  #: a dynamic_batching block is present
    max_queue_delay_s: float = 0.0  #: how long the oldest waiting request may wait for others to join it
    preferred: tuple[int, ...] = ()  #: batch sizes worth waiting for, ascending
    instances: int = 1  #: model instances (onnxruntime sessions) per version

    @property
    def stacks(self) -> bool:
        """Concurrent requests are joined along the batch dimension."""
        return self.dynamic and self.max_batch_size > 0

    @property
    def target(self) -> int:
        """The batch size past which waiting for more requests is pointless."""
        return self.preferred[-1] if self.preferred else self.max_batch_size


def parse_policy(model: str, config: pbtxt.Message) -> BatchPolicy:
    """The policy of a config.pbtxt; SpecError naming the field and what is allowed for nonsense values."""
    max_batch = _integer(model, "max_batch_size", pbtxt.first(config, "max_batch_size", 0), minimum=0)
    instances = _instances(model, config.get("instance_group", []))
    block = pbtxt.first(config, "dynamic_batching")
    if block is None:
        return BatchPolicy(max_batch_size=max_batch, instances=instances)
    if not isinstance(block, dict):
        raise SpecError(f"model {model!r}: dynamic_batching must be a message `dynamic_batching {{ ... }}`")
    if max_batch == 0:
        raise SpecError(
            f"model {model!r}: dynamic_batching needs max_batch_size > 0 (the size of the batch dimension that "
            "requests are joined along); set max_batch_size, or remove dynamic_batching"
        )
    delay_us = _integer(
        model,
        "dynamic_batching.max_queue_delay_microseconds",
        pbtxt.first(block, "max_queue_delay_microseconds", 0),
        minimum=0,
    )
    preferred = sorted(
        {
            _integer(model, "dynamic_batching.preferred_batch_size", size, minimum=1)
            for size in block.get("preferred_batch_size", [])
        }
    )
    too_large = [size for size in preferred if size > max_batch]
    if too_large:
        raise SpecError(
            f"model {model!r}: dynamic_batching.preferred_batch_size {too_large} exceeds max_batch_size {max_batch}; "
            f"each preferred size must be 1..{max_batch}"
        )
    return BatchPolicy(max_batch, True, delay_us / 1e6, tuple(preferred), instances)


def _instances(model: str, groups: list[Any]) -> int:
    total = 0
    for index, group in enumerate(groups):
        where = f"instance_group[{index}]"
        if not isinstance(group, dict):
            raise SpecError(f"model {model!r}: {where} must be a message `{{ count: K kind: KIND_CPU }}`")
        kind = pbtxt.first(group, "kind", "KIND_AUTO")
        if kind not in _KINDS:
            raise SpecError(f"model {model!r}: {where}.kind {kind!r} is not one of {', '.join(_KINDS)}")
        total += _integer(model, f"{where}.count", pbtxt.first(group, "count", 1), minimum=1)
    return max(1, total)


def _integer(model: str, field: str, value: Any, *, minimum: int) -> int:
    # bool is an int to Python; `count: true` is not a count.
    if type(value) is not int or value < minimum:
        raise SpecError(f"model {model!r}: {field} must be an integer >= {minimum}, got {value!r}")
    return value

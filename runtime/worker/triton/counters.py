"""Per model version counts of requests, inferences and executions, as Triton keeps them for its metrics."""

from __future__ import annotations

from dataclasses import dataclass, field

from runtime.ipc.messages import ModelStats


@dataclass(slots=True)
class _Counts:
    success: int = 0
    failure: int = 0
    inferences: int = 0
    executions: int = 0
    batch_sizes: dict[int, int] = field(default_factory=dict)


class Counters:
    """Counts since the worker started, by (model, version); only the worker's main thread writes them."""

    __slots__ = ("_counts", "_max_batch")

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], _Counts] = {}
        self._max_batch: dict[str, int] = {}

    def _of(self, model: str, version: int) -> _Counts:
        counts = self._counts.get((model, version))
        if counts is None:
            counts = self._counts[(model, version)] = _Counts()
        return counts

    def declare(self, model: str, version: int, max_batch_size: int) -> None:
        """List a loaded version with zero counts, so its series exist before its first request."""
        self._of(model, version)
        self._max_batch[model] = max_batch_size

    def succeeded(self, model: str, version: int, samples: int) -> None:
        """A request was answered 200 after inferring `samples` samples."""
        counts = self._of(model, version)
        counts.success += 1
        counts.inferences += samples

    def failed(self, model: str, version: int) -> None:
        """A request for the model was answered with an error."""
        self._of(model, version).failure += 1

    def executed(self, model: str, version: int, batch: int) -> None:
        """onnxruntime ran once on `batch` samples."""
        counts = self._of(model, version)
        counts.executions += 1
        counts.batch_sizes[batch] = counts.batch_sizes.get(batch, 0) + 1

    def snapshot(self) -> list[ModelStats]:
        """The counts as Pong carries them."""
        return [
            ModelStats(
                model,
                str(version),
                c.success,
                c.failure,
                c.inferences,
                c.executions,
                dict(c.batch_sizes),
                self._max_batch.get(model, 0),
            )
            for (model, version), c in sorted(self._counts.items())
        ]

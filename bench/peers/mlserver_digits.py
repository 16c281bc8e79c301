"""An MLServer custom runtime for the digits sample: POST /score takes the Azure body {"data": [[64 pixels], ...]}.

A custom handler rather than the v2 infer route: the bench compares servers on the body Azure clients already
send, and MLServer runs custom handlers in its inference workers as it runs predict() (its ParallelModel wraps
both), so the default mode still pays MLServer's own worker hop. The handler takes the parsed body (a dict):
MLServer pickles handler arguments to its workers, which a starlette Request cannot be.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import digits_scoring
from mlserver import MLModel
from mlserver.handlers import custom_handler
from mlserver.types import InferenceRequest, InferenceResponse


class DigitsScore(MLModel):
    """score.py's init() at load; its run() steps behind POST /score."""

    async def load(self) -> bool:
        self._script: ModuleType = digits_scoring.load_script()
        return True

    @custom_handler(rest_path="/score")
    async def score(self, payload: dict[str, Any]) -> dict[str, list[Any]]:
        return digits_scoring.answer(self._script, payload)

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        raise NotImplementedError("this runtime answers POST /score only")

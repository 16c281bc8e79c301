"""Runs groups of waiting requests on a model version's instances, several groups at once on a small thread pool.

Each version holds one onnxruntime session per instance, and each instance is a lane that runs its share of the
version's groups in turn, so at most `instances` runs of a version overlap (onnxruntime releases the GIL while it
computes). A stacked group runs once; if that run raises,
or an output does not come back with the stacked batch as its first dimension, each request of the group runs
again alone, so only a bad one fails. Counts are recorded by the caller's thread, as answers come back.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from runtime.ipc.messages import Failure, Result
from runtime.worker.triton.batching import Pending, split, stack
from runtime.worker.triton.counters import Counters
from runtime.worker.triton.infer import encode, error_answer, run
from runtime.worker.triton.repository import Model, ModelVersion

Answer = Result | Failure
#: A group's answers (in the group's order) and the batch size of every onnxruntime run it took.
Outcome = tuple[list[Answer], list[int]]


class Executor:
    """The instances of every model version, and the threads that run groups on them side by side."""

    def __init__(self, repository: dict[str, Model], counters: Counters) -> None:
        self._counters = counters
        threads = sum(len(v.sessions) or 1 for m in repository.values() for v in m.versions.values())
        # A thread per instance: every lane below has one, so no group ever waits for a thread.
        self._pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="instance")

    def run(self, groups: Sequence[list[Pending]]) -> Iterator[list[Answer]]:
        """Run the groups; yield each group's answers as it finishes (a single lane runs in the calling thread)."""
        # A lane per instance of each version, taking that version's groups in turn: at most `instances` runs of
        # a version overlap, and a version with many groups never holds up another one.
        by_version: dict[int, list[list[Pending]]] = {}
        for group in groups:
            by_version.setdefault(id(group[0].version), []).append(group)
        lanes: list[tuple[Any, list[list[Pending]]]] = []  #: (instance's session, the groups it runs in turn)
        for version_groups in by_version.values():
            sessions = _sessions(version_groups[0][0].version)[: len(version_groups)]
            lanes += [(session, version_groups[i :: len(sessions)]) for i, session in enumerate(sessions)]
        if len(lanes) == 1:
            # One lane in all: the calling thread runs it, without waking a pool thread to wait for it.
            session, lane_groups = lanes[0]
            for group in lane_groups:
                yield self._counted(group, _execute(session, group))
            return
        done: queue.SimpleQueue[tuple[list[Pending], Outcome | BaseException]] = queue.SimpleQueue()
        for session, lane_groups in lanes:
            self._pool.submit(_lane, session, lane_groups, done)
        for _ in groups:
            group, outcome = done.get()
            if isinstance(outcome, BaseException):
                raise outcome
            yield self._counted(group, outcome)

    def close(self) -> None:
        """Let the threads go."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _counted(self, group: list[Pending], outcome: Outcome) -> list[Answer]:
        answers, runs = outcome
        model, version = group[0].model.name, group[0].version.version
        for batch in runs:
            self._counters.executed(model, version, batch)
        for item, answer in zip(group, answers, strict=True):
            if type(answer) is Result and answer.status == 200:
                self._counters.succeeded(model, version, item.samples)
            else:
                self._counters.failed(model, version)
        return answers


def _sessions(version: ModelVersion) -> list[Any]:
    return version.sessions or [version.session]


def _lane(
    session: Any,
    groups: list[list[Pending]],
    done: queue.SimpleQueue[tuple[list[Pending], Outcome | BaseException]],
) -> None:
    for group in groups:
        try:
            done.put((group, _execute(session, group)))
        except BaseException as exc:  # handed to the loop's thread, which would otherwise wait for it forever
            done.put((group, exc))


def _execute(session: Any, group: list[Pending]) -> Outcome:
    if len(group) > 1:
        stacked = _stacked(session, group)
        if stacked is not None:
            return stacked
    return _one_by_one(session, group)


def _stacked(session: Any, group: list[Pending]) -> Outcome | None:
    model, version = group[0].model, group[0].version
    wanted = {name for item in group for name in item.decoded.names}
    names = [spec.name for spec in version.outputs if spec.name in wanted]
    sizes = [item.samples for item in group]
    try:
        values = run(model, session, stack([item.decoded.feeds for item in group]), names)
        parts = split(values, sizes)
    except Exception:
        return None  # the requests run alone, and the bad one fails with what onnxruntime says about it
    if parts is None:
        return None
    answers: list[Answer] = []
    for item, rows in zip(group, parts, strict=True):
        by_name = dict(zip(names, rows, strict=True))
        answers.append(_encoded(item, model, version, [by_name[name] for name in item.decoded.names]))
    return answers, [sum(sizes)]


def _one_by_one(session: Any, group: list[Pending]) -> Outcome:
    answers: list[Answer] = []
    runs: list[int] = []
    for item in group:
        try:
            values = run(item.model, session, item.decoded.feeds, item.decoded.names)
        except Exception as exc:
            answers.append(error_answer(item.decoded.rid, exc))
            continue
        runs.append(item.samples)
        answers.append(_encoded(item, item.model, item.version, values))
    return answers, runs


def _encoded(item: Pending, model: Model, version: ModelVersion, values: Sequence[Any]) -> Answer:
    try:
        return encode(item.decoded, model, version, values)
    except Exception as exc:  # an output of a dtype the protocol has no name for
        return error_answer(item.decoded.rid, exc)

"""Dynamic batching of a Triton-layout repository: the config, the pure stacking rules and the worker's loop."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_triton import addsub_graph, save

from runtime.errors import SpecError
from runtime.ipc.framing import control_decoder, encode_frame
from runtime.ipc.messages import FromWorker, Infer, Load, ModelStats, Ping, Pong, Ready, Result, Shutdown
from runtime.worker import loop
from runtime.worker.triton import pbtxt
from runtime.worker.triton.batching import Pending, group, pending, plan, split, stack
from runtime.worker.triton.counters import Counters
from runtime.worker.triton.executor import Executor
from runtime.worker.triton.infer import Decoded
from runtime.worker.triton.policy import BatchPolicy, parse_policy
from runtime.worker.triton.repository import Model, ModelVersion, TensorSpec

# --- config.pbtxt -------------------------------------------------------------------------------------------


def policy_of(text: str) -> BatchPolicy:
    return parse_policy("m", pbtxt.parse(text))


def test_dynamic_batching_and_instance_groups_are_read_as_triton_means_them() -> None:
    text = """
        max_batch_size: 16
        dynamic_batching { max_queue_delay_microseconds: 2500 preferred_batch_size: [ 8, 4 ] }
        instance_group [ { count: 2 kind: KIND_CPU }, { kind: KIND_CPU } ]
    """
    assert policy_of(text) == BatchPolicy(16, True, 0.0025, (4, 8), 3)
    # An empty block is Triton's defaults: no delay, no preferred size (the target is max_batch_size).
    empty = policy_of("max_batch_size: 8 dynamic_batching { }")
    assert (empty.stacks, empty.max_queue_delay_s, empty.target, empty.instances) == (True, 0.0, 8, 1)
    assert not policy_of("max_batch_size: 8").stacks


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("max_batch_size: 8 dynamic_batching { max_queue_delay_microseconds: -5 }", "must be an integer >= 0, got -5"),
        ("max_batch_size: 8 instance_group [ { count: 0 } ]", "instance_group[0].count must be an integer >= 1, got 0"),
        ("max_batch_size: 8 instance_group [ { kind: KIND_TPU } ]", "is not one of KIND_AUTO, KIND_CPU"),
        ("max_batch_size: 4 dynamic_batching { preferred_batch_size: 8 }", "[8] exceeds max_batch_size 4; each"),
        ("max_batch_size: 4 dynamic_batching { preferred_batch_size: 0 }", "preferred_batch_size must be an integer"),
        ("dynamic_batching { }", "dynamic_batching needs max_batch_size > 0"),
        ("max_batch_size: -1", "max_batch_size must be an integer >= 0, got -1"),
    ],
)
def test_nonsense_in_the_config_says_what_is_allowed(text: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        policy_of(text)
    assert message in str(info.value)


# --- stacking, grouping, planning (pure) --------------------------------------------------------------------

POLICY = BatchPolicy(8, True, 0.010, (4,), 1)


def spec_model(policy: BatchPolicy = POLICY, session: Any = None) -> tuple[Model, ModelVersion]:
    version = ModelVersion(1, session, [TensorSpec("x", "FP32", [-1, 2])], [TensorSpec("y", "FP32", [-1, 2])])
    version.sessions = [session]
    model = Model("m", policy.max_batch_size, {}, {1: version}, policy)
    return model, version


SHARED = spec_model()


def item(
    rows: int, cols: int = 2, at: float = 0.0, rid: int = 1, model: tuple[Model, ModelVersion] = SHARED
) -> Pending:
    m, v = model
    x = np.arange(rows * cols, dtype=np.float32).reshape(rows, cols) + rid
    return pending(Decoded(rid, {"x": x}, ["y"], [False], None), m, v, at)


def test_stacked_inputs_split_back_into_each_requests_rows() -> None:
    a, b = (
        {"x": np.ones((2, 3), np.float32), "s": np.array([["p"], ["q"]], object)},
        {
            "x": np.zeros((1, 3), np.float32),
            "s": np.array([["r"]], object),
        },
    )
    joined = stack([a, b])
    assert joined["x"].shape == (3, 3) and joined["s"].ravel().tolist() == ["p", "q", "r"]
    parts = split([joined["x"], joined["s"]], [2, 1])
    assert parts is not None
    assert parts[0][0].tobytes() == a["x"].tobytes() and parts[1][1].tolist() == [["r"]]
    # An output whose first dimension is not the batch (a model that sums over it) cannot be cut per request.
    assert split([np.ones(4)], [2, 1]) is None


def test_only_requests_with_the_same_dims_after_the_batch_stack_up_to_max_batch_size() -> None:
    items = [item(3, rid=1), item(1, cols=5, rid=2), item(4, rid=3), item(2, rid=4), item(0, rid=5)]
    groups = group(items, 8)
    # 3 + 4 fit in 8, the 2 rows do not and start the next batch; other dims and the empty batch run alone.
    assert [[p.decoded.rid for p in g] for g in groups] == [[1, 3], [2], [4], [5]]


def test_a_batch_waits_for_more_only_below_its_target_and_within_the_delay() -> None:
    queue = [item(1, at=0.0, rid=1), item(2, at=0.002, rid=2)]
    ready, waiting, wait_s = plan(queue, now=0.004)
    assert ready == [] and [p.decoded.rid for p in waiting] == [1, 2] and wait_s == pytest.approx(0.006)
    ready, waiting, _ = plan(queue, now=0.011)  # the oldest has waited its max_queue_delay
    assert [[p.decoded.rid for p in g] for g in ready] == [[1, 2]] and waiting == []
    full = [*queue, item(1, at=0.003, rid=3)]  # 4 samples: the preferred size
    assert [len(g) for g in plan(full, now=0.004)[0]] == [3]
    assert [len(g) for g in plan(queue, now=0.004, flush=True)[0]] == [2]


# --- running groups -----------------------------------------------------------------------------------------


class FlakySession:
    """Doubles x; refuses any run holding a negative value, as a graph would refuse a bad row."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def run(self, names: list[str], feeds: dict[str, np.ndarray[Any, Any]]) -> list[Any]:
        x = feeds["x"]
        if (x < 0).any():
            raise RuntimeError("negative input")
        self.batches.append(x.shape[0])
        return [x * 2]


def answers_of(executor: Executor, groups: list[list[Pending]]) -> dict[int, Result]:
    out: dict[int, Result] = {}
    for answers in executor.run(groups):
        for a in answers:
            assert isinstance(a, Result)
            out[a.id] = a
    return out


def test_a_failed_stacked_run_is_rerun_one_by_one_so_only_the_bad_request_fails() -> None:
    session = FlakySession()
    model = spec_model(session=session)
    counters = Counters()
    executor = Executor({"m": model[0]}, counters)
    good, bad = item(2, rid=1, model=model), item(1, rid=2, model=model)
    bad.decoded.feeds["x"][:] = -1
    out = answers_of(executor, [[good, bad, item(1, rid=3, model=model)]])
    executor.close()
    assert (out[1].status, out[2].status, out[3].status) == (200, 500, 200)
    assert "negative input" in json.loads(out[2].body)["error"]
    assert json.loads(out[1].body)["outputs"][0]["data"] == [2, 4, 6, 8]
    assert session.batches == [2, 1]  # the stacked run raised, then each request ran alone
    [stats] = counters.snapshot()
    assert (stats.success, stats.failure, stats.inferences, stats.executions) == (2, 1, 3, 2)


def test_groups_run_on_every_instance_of_their_version_and_each_gets_its_answers() -> None:
    first, second = FlakySession(), FlakySession()
    two = spec_model(BatchPolicy(8, True, 0.0, (), 2))
    two[1].sessions = [first, second]
    other = spec_model(session=FlakySession())
    other[0].name = "other"
    executor = Executor({"m": two[0], "other": other[0]}, Counters())
    groups = [[item(1, rid=rid, model=two)] for rid in (1, 2, 3)] + [[item(2, rid=4, model=other)]]
    out = answers_of(executor, groups)
    executor.close()
    assert sorted(out) == [1, 2, 3, 4] and all(r.status == 200 for r in out.values())
    # Three groups of one version on its two instances: a lane each, taking the groups in turn.
    assert (first.batches, second.batches) == ([1, 1], [1])
    assert json.loads(out[4].body)["outputs"][0]["data"] == [8, 10, 12, 14]


# --- the worker's loop over a socket --------------------------------------------------------------------------

CONFIG = """
name: "addsub"
max_batch_size: 8
input [ { name: "INPUT0", data_type: TYPE_FP32, dims: [ 4 ] }, { name: "INPUT1", data_type: TYPE_FP32, dims: [ 4 ] } ]
dynamic_batching { max_queue_delay_microseconds: 5000000 preferred_batch_size: [ 6 ] }
instance_group [ { count: 2, kind: KIND_CPU } ]
"""


class Worker:
    """serve() in a thread on one end of a socket pair: the real loop, in process."""

    def __init__(self, repo: Path) -> None:
        self.sock, self.theirs = socket.socketpair()
        self.sock.settimeout(30)
        self.thread = threading.Thread(target=loop.serve, args=(self.theirs,), daemon=True)
        self.thread.start()
        self.decoder = control_decoder()
        self.pending: list[FromWorker] = []
        self.send(Load("triton", model_repository=str(repo), threads=2))
        assert isinstance(self.receive(), Ready)

    def send(self, *messages: Any) -> None:
        self.sock.sendall(b"".join(encode_frame(m) for m in messages))

    def receive(self) -> FromWorker:
        while not self.pending:
            data = self.sock.recv(1 << 16)
            assert data, "the worker closed its socket"
            self.pending.extend(self.decoder.feed(data))
        return self.pending.pop(0)

    def stats(self) -> ModelStats:
        self.send(Ping(999))
        pong = self.receive()
        assert isinstance(pong, Pong)
        [stats] = pong.models
        return stats


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    repo = tmp_path_factory.mktemp("batching")
    (repo / "addsub").mkdir()
    (repo / "addsub" / "config.pbtxt").write_text(CONFIG)
    save(addsub_graph(1.0), repo / "addsub" / "1" / "model.onnx")
    w = Worker(repo)
    yield w
    w.send(Shutdown())
    w.thread.join(30)
    w.sock.close()
    w.theirs.close()


def infer(rid: int, x: np.ndarray[Any, Any], y: np.ndarray[Any, Any], *, binary: bool) -> Infer:
    inputs: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    for name, array in (("INPUT0", x), ("INPUT1", y)):
        entry: dict[str, Any] = {"name": name, "datatype": "FP32", "shape": list(array.shape)}
        if binary:
            entry["parameters"] = {"binary_data_size": array.nbytes}
            chunks.append(array.tobytes())
        else:
            entry["data"] = array.ravel().tolist()
        inputs.append(entry)
    head = json.dumps({"id": f"r{rid}", "inputs": inputs, "parameters": {"binary_data_output": binary}}).encode()
    headers = [("content-type", "application/octet-stream")]
    if binary:
        headers.append(("inference-header-content-length", str(len(head))))
    return Infer(rid, "POST", "/v2/models/addsub/infer", "", headers, head + b"".join(chunks))


def outputs(result: Result) -> dict[str, Any]:
    """The answer's outputs by name, as float32 arrays, and its "id" under "id"."""
    length = {k.lower(): v for k, v in result.headers}.get("inference-header-content-length")
    head = json.loads(result.body[: int(length)] if length else result.body)
    out: dict[str, Any] = {"id": head.get("id")}
    offset = int(length or 0)
    for o in head["outputs"]:
        if "data" in o:
            out[o["name"]] = np.array(o["data"], np.float32).reshape(o["shape"])
        else:
            size = o["parameters"]["binary_data_size"]
            raw = result.body[offset : offset + size]
            out[o["name"]] = np.frombuffer(raw, np.float32).reshape(o["shape"])
            offset += size
    return out


def test_concurrent_requests_run_as_one_batch_and_each_gets_its_own_rows(worker: Worker) -> None:
    before = worker.stats()
    rng = np.random.default_rng(1)
    rows = [1, 3, 2]  # 6 samples: the preferred batch size, reached by the third request
    xs = [rng.standard_normal((n, 4)).astype(np.float32) for n in rows]
    ys = [rng.standard_normal((n, 4)).astype(np.float32) for n in rows]
    worker.send(*(infer(i, xs[i], ys[i], binary=i % 2 == 0) for i in range(3)))
    answers = {r.id: r for r in (worker.receive() for _ in range(3)) if isinstance(r, Result)}
    for i in range(3):
        got = outputs(answers[i])
        assert got["OUTPUT0"].tobytes() == (xs[i] + ys[i]).tobytes()
        assert got["OUTPUT1"].tobytes() == (xs[i] - ys[i]).tobytes()
        assert got["id"] == f"r{i}"
    after = worker.stats()
    assert after.executions - before.executions == 1
    assert after.batch_sizes.get(6, 0) - before.batch_sizes.get(6, 0) == 1
    assert (after.success - before.success, after.inferences - before.inferences) == (3, 6)


def test_a_bad_request_fails_alone_at_once_and_the_rest_still_batch(worker: Worker) -> None:
    before = worker.stats()
    x = np.ones((3, 4), np.float32)
    bad = infer(7, np.ones((1, 5), np.float32), np.ones((1, 5), np.float32), binary=False)
    worker.send(infer(5, x, x, binary=False), bad, infer(6, x, x * 2, binary=True))
    answers = {r.id: r for r in (worker.receive() for _ in range(3)) if isinstance(r, Result)}
    assert answers[7].status == 400 and "unexpected shape for input 'INPUT0'" in json.loads(answers[7].body)["error"]
    assert outputs(answers[6])["OUTPUT1"].tobytes() == (x - x * 2).tobytes()
    after = worker.stats()
    assert (after.failure - before.failure, after.executions - before.executions) == (1, 1)


def test_requests_of_other_shapes_or_past_max_batch_size_run_separately(worker: Worker) -> None:
    before = worker.stats()
    x5, x4, x2 = (np.ones((n, 4), np.float32) for n in (5, 4, 2))
    # 5 + 4 > 8: the 5 rows run alone (the next request did not fit, so waiting is pointless), the 4 rows wait
    # for the 2 that make the preferred 6.
    worker.send(*(infer(rid, x, x, binary=False) for rid, x in ((8, x5), (9, x4), (10, x2))))
    got = [worker.receive() for _ in range(3)]
    assert sorted(r.id for r in got if isinstance(r, Result) and r.status == 200) == [8, 9, 10]
    after = worker.stats()
    assert after.executions - before.executions == 2
    assert after.batch_sizes.get(5, 0) - before.batch_sizes.get(5, 0) == 1
    assert after.batch_sizes.get(6, 0) - before.batch_sizes.get(6, 0) == 1


def test_instances_share_the_workers_threads_and_nonsense_fails_the_load(tmp_path: Path) -> None:
    from runtime.worker.adapters import LoadError, load_adapter
    from runtime.worker.triton.server import TritonAdapter

    (tmp_path / "addsub").mkdir()
    save(addsub_graph(1.0), tmp_path / "addsub" / "1" / "model.onnx")
    (tmp_path / "addsub" / "config.pbtxt").write_text(CONFIG.replace("count: 2", "count: 3"))
    adapter = load_adapter(Load("triton", model_repository=str(tmp_path), threads=7))
    assert isinstance(adapter, TritonAdapter)
    sessions = adapter.repository["addsub"].latest.sessions
    assert [s.get_session_options().intra_op_num_threads for s in sessions] == [2, 2, 2]
    (tmp_path / "addsub" / "config.pbtxt").write_text(CONFIG.replace("count: 2", "count: 0"))
    with pytest.raises(LoadError) as info:
        load_adapter(Load("triton", model_repository=str(tmp_path), threads=1))
    assert "instance_group[0].count must be an integer >= 1, got 0" in str(info.value)

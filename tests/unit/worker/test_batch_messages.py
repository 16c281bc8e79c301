"""The batch messages on the wire: they round-trip, and a Load written before the batch fields still decodes."""

from __future__ import annotations

import msgspec

from runtime.ipc.framing import control_decoder, encode_frame, worker_decoder
from runtime.ipc.messages import Failure, Load, MiniBatchDone, RunMiniBatch


def test_run_mini_batch_and_its_answers_round_trip() -> None:
    sent = [Load("batch", app_root="/code", output_path="/out", logging_level="debug"), RunMiniBatch(3, ["/a"], 30.0)]
    assert worker_decoder().feed(b"".join(encode_frame(m) for m in sent)) == sent
    answers = [MiniBatchDone(3, b'a.csv 1\nx  "two words"\n', 2), Failure(4, "timeout", "run() ...")]
    assert control_decoder().feed(b"".join(encode_frame(m) for m in answers)) == answers


def test_a_load_without_the_batch_fields_decodes_with_their_defaults() -> None:
    # What an online Load looked like on the wire before output_path and logging_level were added.
    old = msgspec.msgpack.encode(["Load", "script", "/code", "score.py", "/model", None, 3_600_000, 1])
    [load] = worker_decoder().feed(len(old).to_bytes(4, "big") + old)
    assert load == Load("script", app_root="/code", entry_script="score.py", model_dir="/model")
    assert isinstance(load, Load) and (load.output_path, load.logging_level) == (None, "info")

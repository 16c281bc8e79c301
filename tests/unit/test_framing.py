import pytest

from runtime.ipc.framing import FrameDecoder, FrameError, control_decoder, encode_frame, worker_decoder
from runtime.ipc.messages import Infer, Load, Pong, Result


def test_frames_round_trip_in_any_chunking() -> None:
    msgs = [
        Load(kind="script", app_root="/a", entry_script="score.py"),
        Infer(1, "POST", "/score", "", [], b"\x00" * 70000),
    ]
    data = b"".join(encode_frame(m) for m in msgs)
    for step in (1, 7, 4096, len(data)):
        dec = worker_decoder()
        got = []
        for i in range(0, len(data), step):
            got += dec.feed(data[i : i + step])
        assert got == msgs


def test_control_side_decodes_worker_messages() -> None:
    dec = control_decoder()
    out = dec.feed(
        encode_frame(Result(3, 200, [("content-type", "application/json")], b"{}")) + encode_frame(Pong(4, 0))
    )
    assert out == [Result(3, 200, [("content-type", "application/json")], b"{}"), Pong(4, 0)]


def test_garbage_is_refused_not_misread() -> None:
    dec: FrameDecoder[object] = worker_decoder()  # type: ignore[assignment]
    with pytest.raises(FrameError):
        dec.feed(b"\x00\x00\x00\x02\xc1\xc1")
    with pytest.raises(FrameError, match="exceeds"):
        worker_decoder().feed(b"\xff\xff\xff\xff")

import pytest

from runtime.ipc.framing import (
    CHUNK,
    FrameDecoder,
    FrameError,
    append_frame,
    control_decoder,
    encode_frame,
    worker_decoder,
)
from runtime.ipc.messages import Infer, Load, Ping, Pong, Result, ToWorker


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


def _read_in_place(dec: FrameDecoder[object], data: bytes, most: int) -> list[object]:
    """Read `data` as recv_into would: into dec.buffer(), at most `most` bytes a read."""
    got: list[object] = []
    at = 0
    while at < len(data):
        target = dec.buffer()
        n = min(len(target), most, len(data) - at)
        target[:n] = data[at : at + n]
        at += n
        got += dec.advance(n)
    return got


@pytest.mark.parametrize("most", [3, 1000, CHUNK, 1 << 20])
def test_frames_read_in_place_match_the_sent_messages(most: int) -> None:
    msgs = [
        Infer(1, "POST", "/score", "", [("content-type", "application/json")], b"{}"),
        Infer(2, "POST", "/score", "", [], bytes(range(256)) * 1000),  # larger than a read chunk
        Ping(3),
        Infer(4, "POST", "/score", "", [], b"\x01" * (CHUNK + 1)),
    ]
    out = bytearray()
    for m in msgs:
        append_frame(out, m)
    dec: FrameDecoder[object] = worker_decoder()  # type: ignore[assignment]
    assert _read_in_place(dec, bytes(out), most) == msgs


def test_a_large_frame_is_read_into_a_buffer_of_its_size() -> None:
    big = Infer(1, "POST", "/score", "", [], b"\x02" * (3 * CHUNK))
    data = bytes(encode_frame(big))
    dec = worker_decoder()
    assert dec.advance(_put(dec, data[:100])) == []
    rest = dec.buffer()
    assert len(rest) == len(data) - 4 - 96  # the frame's remaining bytes exactly: no read runs into the next frame
    assert dec.feed(data[100:]) == [big]


def _put(dec: FrameDecoder[ToWorker], data: bytes) -> int:
    dec.buffer()[: len(data)] = data
    return len(data)


def test_appended_frames_decode_like_encoded_ones() -> None:
    out = bytearray(b"")
    append_frame(out, Pong(1, 2))
    append_frame(out, Result(2, 200, [], b"x"))
    assert bytes(out) == bytes(encode_frame(Pong(1, 2))) + bytes(encode_frame(Result(2, 200, [], b"x")))
    assert control_decoder().feed(out) == [Pong(1, 2), Result(2, 200, [], b"x")]

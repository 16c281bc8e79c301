"""Length-prefixed frames: a 4-byte big-endian length, then one msgpack-encoded message.

Sans-IO: `encode_frame` makes bytes to send and `FrameDecoder.feed` turns received bytes into messages, so the
same code serves the blocking worker and the async control process.
"""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec

from runtime.ipc.messages import FromWorker, ToWorker

T = TypeVar("T")

#: Frames larger than this are refused: a corrupt length must not make the reader allocate gigabytes.
MAX_FRAME = 1 << 30

_encoder = msgspec.msgpack.Encoder()


def encode_frame(message: msgspec.Struct) -> bytes:
    """Encode one message with its length prefix."""
    body = _encoder.encode(message)
    return len(body).to_bytes(4, "big") + body


class FrameError(Exception):
    """The byte stream is not a valid sequence of frames."""


class FrameDecoder(Generic[T]):
    """Accumulates bytes and yields every complete message."""

    def __init__(self, type_: type[T]) -> None:
        self._decoder: msgspec.msgpack.Decoder[T] = msgspec.msgpack.Decoder(type_)
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[T]:
        """Add received bytes; return the messages now complete, in order."""
        buf = self._buffer
        buf += data
        out: list[T] = []
        start = 0
        end = len(buf)
        while end - start >= 4:
            size = int.from_bytes(buf[start : start + 4], "big")
            if size > MAX_FRAME:
                raise FrameError(f"frame of {size} bytes exceeds the {MAX_FRAME} byte limit")
            if end - start - 4 < size:
                break
            try:
                out.append(self._decoder.decode(buf[start + 4 : start + 4 + size]))
            except msgspec.DecodeError as exc:
                raise FrameError(f"undecodable frame: {exc}") from exc
            start += 4 + size
        if start:
            del buf[:start]
        return out


def worker_decoder() -> FrameDecoder[ToWorker]:
    """Decoder for the worker side: reads control → worker messages."""
    return FrameDecoder(ToWorker)  # type: ignore[arg-type]


def control_decoder() -> FrameDecoder[FromWorker]:
    """Decoder for the control side: reads worker → control messages."""
    return FrameDecoder(FromWorker)  # type: ignore[arg-type]

"""Length-prefixed frames: a 4-byte big-endian length, then one msgpack-encoded message.

Sans-IO: `append_frame` encodes into a buffer that is sent as it is, and `FrameDecoder` turns received bytes into
messages, so the same code serves the blocking worker and the async control process. The copies a request's body
goes through are the few the hop cannot avoid: a message is encoded straight after the room left for its length
(no second buffer joined to a prefix), a frame is decoded from a view of the bytes received (no slice copied out
first), and a frame larger than the read chunk is read into a buffer of its exact size once its length is known
(`buffer`/`advance`, for `recv_into` and asyncio's BufferedProtocol), instead of growing a buffer chunk by chunk.
"""

from __future__ import annotations

import struct
from typing import Generic, TypeVar

import msgspec

from runtime.ipc.messages import FromWorker, ToWorker

T = TypeVar("T")

#: Frames larger than this are refused: a corrupt length must not make the reader allocate gigabytes.
MAX_FRAME = 1 << 30
#: How much one read takes into the reusable chunk; a frame larger than this gets its own exact-size buffer.
CHUNK = 1 << 16

_encoder = msgspec.msgpack.Encoder()
_LENGTH = struct.Struct(">I")
_ROOM = bytes(_LENGTH.size)


def append_frame(buffer: bytearray, message: msgspec.Struct) -> None:
    """Encode one message with its length prefix at the end of `buffer`."""
    start = len(buffer)
    buffer += _ROOM
    _encoder.encode_into(message, buffer, start + 4)
    _LENGTH.pack_into(buffer, start, len(buffer) - start - 4)


def encode_frame(message: msgspec.Struct) -> bytearray:
    """Encode one message with its length prefix."""
    buffer = bytearray()
    append_frame(buffer, message)
    return buffer


class FrameError(Exception):
    """The byte stream is not a valid sequence of frames."""


class FrameDecoder(Generic[T]):
    """Turns received bytes into messages, whether they are handed over (`feed`) or read in place (`buffer`)."""

    def __init__(self, type_: type[T]) -> None:
        self._decode = msgspec.msgpack.Decoder(type_).decode
        self._chunk = bytearray(CHUNK)
        self._partial = bytearray()  #: the start of a small frame whose end has not arrived
        self._large: bytearray | None = None  #: a large frame's body, filled in place
        self._filled = 0  #: bytes of `_large` received so far

    def buffer(self) -> memoryview:
        """Where the next read should go: the rest of a large frame in progress, else the reusable chunk."""
        if self._large is not None:
            return memoryview(self._large)[self._filled :]
        return memoryview(self._chunk)

    def advance(self, size: int) -> list[T]:
        """`size` bytes were read into the last `buffer()`; return the messages now complete, in order."""
        if self._large is not None:
            self._filled += size
            return self._finish_large()
        with memoryview(self._chunk) as view:
            return self._scan(view[:size])

    def feed(self, data: bytes | bytearray | memoryview) -> list[T]:
        """Add received bytes; return the messages now complete, in order."""
        out: list[T] = []
        if self._large is not None:
            take = min(len(data), len(self._large) - self._filled)
            self._large[self._filled : self._filled + take] = data[:take]
            self._filled += take
            out = self._finish_large()
            if self._large is not None:
                return out
            data = data[take:]
        out += self._scan(data)
        return out

    def _finish_large(self) -> list[T]:
        large = self._large
        assert large is not None
        if self._filled < len(large):
            return []
        self._large = None
        return [self._decode_one(large)]

    def _decode_one(self, frame: bytes | bytearray | memoryview) -> T:
        try:
            return self._decode(frame)
        except msgspec.DecodeError as exc:
            raise FrameError(f"undecodable frame: {exc}") from exc

    def _scan(self, data: bytes | bytearray | memoryview) -> list[T]:
        partial = self._partial
        if partial:
            partial += data
            data = partial
        out: list[T] = []
        start, end = 0, len(data)
        with memoryview(data) as view:
            while end - start >= 4:
                (size,) = _LENGTH.unpack_from(view, start)
                if size > MAX_FRAME:
                    raise FrameError(f"frame of {size} bytes exceeds the {MAX_FRAME} byte limit")
                stop = start + 4 + size
                if stop > end:
                    if size > CHUNK:  # read the rest in place, into a buffer of the frame's size
                        self._large = bytearray(size)
                        self._filled = end - start - 4
                        self._large[: self._filled] = view[start + 4 : end]
                        start = end
                    break
                out.append(self._decode_one(view[start + 4 : stop]))
                start = stop
            if data is not partial and start < end:
                self._partial = bytearray(view[start:end])  # the chunk it came in is read into again
        if data is partial:
            del partial[:start]
        return out


def worker_decoder() -> FrameDecoder[ToWorker]:
    """Decoder for the worker side: reads control → worker messages."""
    return FrameDecoder(ToWorker)  # type: ignore[arg-type]


def control_decoder() -> FrameDecoder[FromWorker]:
    """Decoder for the control side: reads worker → control messages."""
    return FrameDecoder(FromWorker)  # type: ignore[arg-type]

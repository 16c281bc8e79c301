"""Tensors of the Open Inference Protocol v2: datatype names, JSON `data`, and the binary tensor extension."""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np

#: OIP datatype → numpy dtype. BYTES tensors are numpy object arrays of bytes or str.
NUMPY_DTYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(object),
}
_BY_KIND = {dtype: name for name, dtype in NUMPY_DTYPES.items()}

#: onnxruntime's NodeArg.type → OIP datatype.
ORT_TYPES = {
    "tensor(bool)": "BOOL",
    "tensor(uint8)": "UINT8",
    "tensor(uint16)": "UINT16",
    "tensor(uint32)": "UINT32",
    "tensor(uint64)": "UINT64",
    "tensor(int8)": "INT8",
    "tensor(int16)": "INT16",
    "tensor(int32)": "INT32",
    "tensor(int64)": "INT64",
    "tensor(float16)": "FP16",
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(string)": "BYTES",
    "tensor(bfloat16)": "BF16",
}


class TensorError(ValueError):
    """A tensor in the request does not match what it declares or what the model expects (HTTP 400)."""


def config_datatype(data_type: str) -> str:
    """config.pbtxt's `TYPE_FP32` / `TYPE_STRING` → the OIP names `FP32` / `BYTES`."""
    name = data_type.removeprefix("TYPE_")
    return "BYTES" if name == "STRING" else name


def datatype_of(array: np.ndarray[Any, Any]) -> str:
    """The OIP datatype of a numpy array; strings and objects are BYTES."""
    if array.dtype.kind in "OUS":
        return "BYTES"
    try:
        return _BY_KIND[array.dtype]
    except KeyError:
        raise TensorError(f"the model produced a tensor of unsupported dtype {array.dtype}") from None


def element_count(shape: list[int]) -> int:
    """The number of elements of a tensor of this shape."""
    return math.prod(shape)


#: The numpy kinds JSON `data` may hold for each datatype family (after np.asarray with no dtype): Triton takes
#: numbers for numeric tensors and booleans for BOOL, never strings that look like numbers.
_JSON_KINDS = {"b": "b", "i": "iu", "u": "iu", "f": "iuf"}


def from_json(name: str, datatype: str, shape: list[int], data: Any) -> np.ndarray[Any, Any]:
    """A tensor from the JSON `data` field, flat or nested in row-major order."""
    if datatype not in NUMPY_DTYPES:
        raise TensorError(f"datatype '{datatype}' of input '{name}' cannot be sent as JSON")
    if not isinstance(data, list):
        raise TensorError(f"'data' of input '{name}' must be a list (flat or nested), not a single value")
    try:
        if datatype == "BYTES":
            flat = np.asarray(data, dtype=object).ravel()
            array = np.empty(flat.size, dtype=object)
            for i, item in enumerate(flat):
                if not isinstance(item, str):
                    raise TensorError(f"input '{name}' holds a non-string element in its BYTES data")
                array[i] = item
        else:
            array = _numbers(name, datatype, data)
    except (ValueError, TypeError, OverflowError) as exc:
        raise TensorError(f"unable to parse 'data' of input '{name}' as {datatype}: {exc}") from None
    except RecursionError:
        raise TensorError(f"unable to parse 'data' of input '{name}' as {datatype}: it is nested too deeply") from None
    expected = element_count(shape)
    if array.size != expected:
        raise TensorError(
            f"unexpected number of elements {array.size} in 'data' of input '{name}', expecting {expected} "
            f"for shape {list(shape)}"
        )
    return _reshaped(name, array, shape)


def _reshaped(name: str, array: np.ndarray[Any, Any], shape: list[int]) -> np.ndarray[Any, Any]:
    """`array` in `shape`; a shape no array can have (a huge dimension beside a 0) is the client's error."""
    try:
        return array.reshape(shape)
    except (ValueError, OverflowError) as exc:
        raise TensorError(
            f"input '{name}' cannot have shape {list(shape)} ({exc}): its dimensions, zeros left out, must multiply "
            "to fewer than 2**63 bytes"
        ) from None


def _numbers(name: str, datatype: str, data: list[Any]) -> np.ndarray[Any, Any]:
    dtype = NUMPY_DTYPES[datatype]
    raw = np.asarray(data)
    allowed = _JSON_KINDS[dtype.kind]
    if raw.size and raw.dtype.kind not in allowed:
        what = {"b": "booleans", "i": "integers", "u": "integers", "f": "numbers"}[dtype.kind]
        raise TensorError(
            f"unable to parse 'data' of input '{name}' as {datatype}: it must hold only {what} "
            f"(all rows the same length), got {_described(raw)}"
        )
    if dtype.kind in "iu" and raw.size:
        info = np.iinfo(dtype)
        low, high = raw.min(), raw.max()
        if low < info.min or high > info.max:
            raise TensorError(
                f"unable to parse 'data' of input '{name}' as {datatype}: {high if high > info.max else low} is "
                f"outside {info.min}..{info.max}"
            )
    return raw.astype(dtype, copy=False)


def _described(raw: np.ndarray[Any, Any]) -> str:
    kind = raw.dtype.kind
    if kind in "US":
        return "strings"
    if kind == "b":
        return "booleans"
    if kind == "f":
        return "numbers with a fraction"
    return "mixed or out-of-range values"


def from_binary(name: str, datatype: str, shape: list[int], raw: bytes | memoryview) -> np.ndarray[Any, Any]:
    """A tensor from its bytes in the binary extension: little-endian, row-major; BYTES length-prefixed."""
    expected = element_count(shape)
    if datatype == "BYTES":
        items = _split_bytes(name, raw)
        if len(items) != expected:
            raise TensorError(
                f"unexpected number of string elements {len(items)} for inference input '{name}', expecting {expected}"
            )
        array = np.empty(expected, dtype=object)
        array[:] = items
        return _reshaped(name, array, shape)
    if datatype not in NUMPY_DTYPES:
        raise TensorError(f"datatype '{datatype}' of input '{name}' is not supported")
    dtype = NUMPY_DTYPES[datatype].newbyteorder("<")
    if len(raw) != expected * dtype.itemsize:
        raise TensorError(
            f"unexpected total byte size {len(raw)} for input '{name}', expecting {expected * dtype.itemsize}"
        )
    return _reshaped(name, np.frombuffer(raw, dtype=dtype), shape)


def _split_bytes(name: str, raw: bytes | memoryview) -> list[bytes]:
    items: list[bytes] = []
    view = memoryview(raw)
    pos = 0
    while pos < len(view):
        if pos + 4 > len(view):
            raise TensorError(f"truncated BYTES element in the binary data of input '{name}'")
        (size,) = struct.unpack_from("<I", view, pos)
        pos += 4
        if pos + size > len(view):
            raise TensorError(f"truncated BYTES element in the binary data of input '{name}'")
        items.append(bytes(view[pos : pos + size]))
        pos += size
    return items


def to_binary(array: np.ndarray[Any, Any]) -> bytes:
    """The bytes of a tensor in the binary extension."""
    if array.dtype.kind in "OUS":
        parts: list[bytes] = []
        for item in array.ravel():
            data = item if isinstance(item, bytes) else str(item).encode("utf-8")
            parts.append(struct.pack("<I", len(data)))
            parts.append(data)
        return b"".join(parts)
    return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()


def to_json(array: np.ndarray[Any, Any]) -> list[Any]:
    """The flat JSON `data` of a tensor; BYTES elements become text."""
    if array.dtype.kind in "OUS":
        return [item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item) for item in array.ravel()]
    return list(array.ravel().tolist())


def for_onnx(array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """onnxruntime wants string tensors as str objects; BYTES inputs may arrive as bytes."""
    if array.dtype == object:
        out = np.empty(array.shape, dtype=object)
        flat = out.reshape(-1)
        for i, item in enumerate(array.ravel()):
            flat[i] = item.decode("utf-8") if isinstance(item, bytes) else item
        return out
    return array

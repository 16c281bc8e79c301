"""Plain helpers shared by the worker tests (conftest.py holds the fixtures)."""

from __future__ import annotations

import json
from typing import Any

from runtime.ipc.messages import Infer, Result
from runtime.worker.adapters import Adapter


def call(
    adapter: Adapter,
    method: str,
    path: str = "/score",
    *,
    query: str = "",
    headers: list[tuple[str, str]] | None = None,
    body: bytes | str | Any = b"",
    json_body: Any = None,
) -> Result:
    """Send one request the way the control process forwards it (lower-case header names, as ASGI gives them)."""
    hdrs = [(k.lower(), v) for k, v in (headers or [])]
    if json_body is not None:
        body = json.dumps(json_body)
        hdrs.append(("content-type", "application/json"))
    data = body.encode() if isinstance(body, str) else bytes(body)
    if data:
        hdrs.append(("content-length", str(len(data))))
    return adapter.handle(Infer(1, method, path, query, hdrs, data))


def header(result: Result, name: str) -> str | None:
    """The first value of a response header, matched case-insensitively."""
    for key, value in result.headers:
        if key.lower() == name.lower():
            return value
    return None


def body_json(result: Result) -> Any:
    """The response body decoded as JSON."""
    return json.loads(result.body)

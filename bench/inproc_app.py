"""The in-process limit: a bare ASGI app that calls the scoring script's run() on the event loop, no worker hop.

Run by bench_score.py as `uvicorn inproc_app:app --app-dir bench --http httptools --loop uvloop --no-access-log`.
The scoring script comes from $BENCH_SCORE_SCRIPT and is initialised once at import, with $AZUREML_MODEL_DIR laid
out as Azure does (a folder holding `model/digits.onnx`). POST /score answers json.dumps(run(body)); anything
else is a 404. This is the best one Python process can do with the same script and the same HTTP stack.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

# The peers' scoring module loads score.py the same way; bench/ is this app's directory.
from peers.digits_scoring import load_script

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_JSON = (b"content-type", b"application/json")


_run: Callable[[str], Any] = load_script().run


async def _answer(send: Send, status: int, body: bytes) -> None:
    headers = [_JSON, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def app(scope: Message, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    if scope["method"] != "POST" or scope["path"] != "/score":
        await _answer(send, 404, b'{"error": "not found"}')
        return
    message = await receive()
    body: bytes = message.get("body", b"")
    if message.get("more_body"):
        parts = [body]
        while message.get("more_body"):
            message = await receive()
            parts.append(message.get("body", b""))
        body = b"".join(parts)
    try:
        result = _run(body.decode())
    except Exception as exc:  # the scoring script's error is the caller's 500, as in Azure's server
        await _answer(send, 500, json.dumps({"error": str(exc)}).encode())
        return
    await _answer(send, 200, json.dumps(result).encode())

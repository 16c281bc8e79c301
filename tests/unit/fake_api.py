"""A real HTTP server on 127.0.0.1 that answers as the management API would, and a state directory that names it.

The CLI finds it as it finds a real server (server.json and admin-token), so tests see exactly what the CLI sends.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

#: What the server answers a call with: its content type and body, from the method and the path.
Answer = Callable[[str, str], tuple[str, bytes]]


def json_answer(body: Any) -> Answer:
    """The same JSON body for every call."""
    raw = json.dumps(body).encode()
    return lambda method, path: ("application/json", raw)


@contextlib.contextmanager
def fake_api(state: Path, answer: Answer) -> Iterator[list[tuple[str, str, Any]]]:
    """Serve `answer` and point `state` at it; yields the calls received, as (method, path, decoded JSON body)."""
    calls: list[tuple[str, str, Any]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            calls.append((self.command, self.path, json.loads(raw) if raw else None))
            kind, body = answer(self.command, self.path)
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_DELETE = do_PATCH = _answer

        def log_message(self, *_: object) -> None:
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler) as httpd:
        # shutdown() waits out one poll of serve_forever: the default half second, paid by every test.
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
        url = f"http://127.0.0.1:{httpd.server_address[1]}"
        (state / "server.json").write_text(json.dumps({"url": url, "pid": 12345, "server": "uvicorn"}))
        (state / "admin-token").write_text("token")
        try:
            yield calls
        finally:
            httpd.shutdown()

"""The CLI's client of the management API, found through the state directory."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from runtime.errors import ModelyardError, Unavailable
from runtime.statedir import StateDir

__all__ = ["ApiError", "Client", "ModelyardError", "Unavailable"]


class ApiError(ModelyardError):
    """The server refused a management call; the message is the server's."""


class Client:
    """Calls /api on the server that owns a state directory."""

    def __init__(self, state: StateDir, timeout: float = 600.0) -> None:
        info = state.read_server()
        if info is None:
            raise Unavailable(
                f"no modelyard server is running for state directory {state.root}; start one with `modelyard serve`"
            )
        self.base_url = info.url
        self.pid: int | None = info.pid
        try:
            self._token = state.admin_token()
        except FileNotFoundError:
            raise Unavailable(
                f"no admin token in {state.root}; was the server started with this state directory?"
            ) from None
        self._timeout = timeout

    @classmethod
    def of_state_dir(cls, root: str | None, timeout: float = 600.0) -> Client:
        """The client of the server that owns a state directory (None: $MODELYARD_HOME or ~/.modelyard)."""
        return cls(StateDir(root), timeout)

    @classmethod
    def at(cls, url: str, token: str, timeout: float = 600.0) -> Client:
        """A client of the server at `url` with its admin token, for a server whose state directory is elsewhere."""
        client = cls.__new__(cls)
        client.base_url = url.rstrip("/")
        client.pid = None
        client._token = token
        client._timeout = timeout
        return client

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """One management call; returns the decoded JSON (or text) answer, raises ApiError on an error status."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self._token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self._timeout) as resp:
                raw = resp.read()
                kind = resp.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                message = json.loads(raw)["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = raw.decode(errors="replace") or exc.reason
            raise ApiError(str(message)) from None
        except (OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            raise Unavailable(
                f"cannot reach the modelyard server at {self.base_url} ({reason}); is `modelyard serve` running?"
            ) from None
        return self._decode(raw, kind)

    def _decode(self, raw: bytes, kind: str) -> Any:
        if not raw:
            return None
        try:
            return json.loads(raw) if kind.startswith("application/json") else raw.decode()
        except ValueError:  # also UnicodeDecodeError: whatever answered is not a modelyard server
            raise Unavailable(f"the server at {self.base_url} sent an answer that is not JSON or UTF-8 text") from None

    def score(self, endpoint: str, body: bytes, key: str, deployment: str | None) -> tuple[int, dict[str, str], bytes]:
        """POST to an endpoint's /score as a client of the data plane would."""
        path = f"/endpoints/{urllib.parse.quote(endpoint, safe='')}/score"
        req = urllib.request.Request(self.base_url + path, data=body, method="POST")
        req.add_header("Authorization", f"Bearer {key}")
        req.add_header("Content-Type", "application/json")
        if deployment:
            req.add_header("azureml-model-deployment", deployment)
        try:
            with urllib.request.urlopen(req, timeout=self._timeout) as resp:
                return resp.status, dict(resp.headers.items()), resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers.items()), exc.read()
        except (OSError, http.client.HTTPException) as exc:
            raise Unavailable(f"cannot reach {self.base_url}: {getattr(exc, 'reason', exc)}") from None
